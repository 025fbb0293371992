import KeyholeCore

/// An absolute-form `scheme://host[:port]/path?query` request target, as plain-HTTP proxy clients send it (and as
/// a client may send it inside a tunnel).
struct AbsoluteURI {
    let authority: Authority
    /// Origin form: `/path?query`.
    let target: String

    /// `schemes`: the schemes accepted, each with its default port.
    init?(_ uri: String, schemes: [(name: String, defaultPort: Int)] = [("http", 80)]) {
        let lowered = uri.lowercased()
        guard let scheme = schemes.first(where: { lowered.hasPrefix($0.name + "://") }) else { return nil }
        let rest = uri.dropFirst(scheme.name.count + 3)
        let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        var authorityText = rest[..<end]
        if let at = authorityText.lastIndex(of: "@") {
            // userinfo in a proxied URL is not sent upstream as such
            authorityText = authorityText[authorityText.index(after: at)...]
        }
        guard let authority = Authority(parsing: authorityText, defaultPort: scheme.defaultPort) else { return nil }
        self.authority = authority
        var target = String(rest[end...])
        if let hash = target.firstIndex(of: "#") { target = String(target[..<hash]) }
        if target.isEmpty || target.hasPrefix("?") { target = "/" + target }
        self.target = target
    }

    /// The origin-form target of a request inside a tunnel to `authority`: the target itself when it is origin
    /// form (or `*` for OPTIONS), the path of an absolute form naming exactly `authority`, else nil (the request
    /// names another host, which a virtual-host server behind `authority` may route to).
    static func originForm(of uri: String, method: String, inTunnelTo authority: Authority) -> String? {
        if uri.hasPrefix("/") { return uri }
        if uri == "*" { return method == "OPTIONS" ? uri : nil }
        guard let absolute = AbsoluteURI(uri, schemes: [("https", 443), ("http", 80)]),
            absolute.authority == authority
        else { return nil }
        return absolute.target
    }
}
