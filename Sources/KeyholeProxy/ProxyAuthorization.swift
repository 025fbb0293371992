import Foundation
import NIOHTTP1

/// Reads the session token from `Proxy-Authorization: Basic base64(keyhole:TOKEN)`.
enum ProxyAuthorization {
    static let user = "keyhole"

    static func token(in headers: HTTPHeaders) -> String? {
        guard let value = headers.first(name: "proxy-authorization") else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "basic",
            let data = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
            let decoded = String(data: data, encoding: .utf8),
            let colon = decoded.firstIndex(of: ":")
        else { return nil }
        guard decoded[..<colon] == Self.user else { return nil }
        return String(decoded[decoded.index(after: colon)...])
    }
}
