import KeyholeCore

/// The words of the proxy's own refusals that more than one handler gives.
enum Refusals {
    static let cleartextReason = "secret refused over plain http"

    static func cleartext(credential: String, authority: Authority) -> String {
        "keyhole: credential '\(credential)' is only sent over verified TLS, and this is a plain http:// request to "
            + "\(authority); nothing was sent. Use https://. For a development server on loopback, add the "
            + "credential with --allow-http."
    }

    static func misdirected(_ authority: Authority, what: String) -> String {
        "keyhole: \(what) does not match the CONNECT authority \(authority); refused, nothing was sent."
    }
}
