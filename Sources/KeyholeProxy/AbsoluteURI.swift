import KeyholeCore

/// An absolute-form `http://host[:port]/path?query` request target, as plain-HTTP proxy clients send it.
struct AbsoluteURI {
    let authority: Authority
    /// Origin form: `/path?query`.
    let target: String

    init?(_ uri: String) {
        let lowered = uri.lowercased()
        guard lowered.hasPrefix("http://") else { return nil }
        let rest = uri.dropFirst("http://".count)
        let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        var authorityText = rest[..<end]
        if let at = authorityText.lastIndex(of: "@") {
            // userinfo in a proxied URL is not sent upstream as such
            authorityText = authorityText[authorityText.index(after: at)...]
        }
        guard let authority = Authority(parsing: authorityText, defaultPort: 80) else { return nil }
        self.authority = authority
        var target = String(rest[end...])
        if let hash = target.firstIndex(of: "#") { target = String(target[..<hash]) }
        if target.isEmpty || target.hasPrefix("?") { target = "/" + target }
        self.target = target
    }
}
