import KeyholeCore
import NIOHTTP1

@testable import KeyholeProxy

/// The small parsers of what a client names: authorities, absolute URIs, host patterns, Proxy-Authorization.
/// Properties: a value or nil, never a crash; what parses round-trips through its description.
enum AuthorityFuzz {
    static let target = FuzzTarget(name: "authority", summary: "Authority, AbsoluteURI, HostPattern, Proxy-Authorization") { bytes in
        let text = String(decoding: bytes, as: UTF8.self)
        if let authority = Authority(parsing: text, defaultPort: 443) {
            FuzzCheck.require(
                Authority(parsing: authority.description, defaultPort: nil) == authority,
                "authority does not round-trip: \(authority)"
            )
        }
        if let uri = AbsoluteURI(text, schemes: [("https", 443), ("http", 80)]) {
            FuzzCheck.require(uri.target.hasPrefix("/"), "origin form must start with /: \(uri.target)")
        }
        _ = AbsoluteURI.originForm(of: text, method: "GET", inTunnelTo: Authority(host: "api.test", port: 443))
        if let pattern = try? HostPattern(text) {
            FuzzCheck.require((try? HostPattern(pattern.description)) == pattern, "pattern does not round-trip")
        }
        var headers = HTTPHeaders()
        headers.add(name: "Proxy-Authorization", value: text)
        _ = ProxyAuthorization.token(in: headers)
    }
}
