import KeyholeCore
import NIOHTTP1

extension RequestHead {
    /// Headers that concern only the hop to the proxy and never go upstream.
    static let proxyHopHeaders: Set<String> = ["proxy-authorization", "proxy-connection", "proxy-authenticate"]

    /// The head as keyhole inspects it: origin-form target, no proxy hop headers, and in plain-HTTP mode a Host
    /// header naming the authority the request actually goes to.
    init(head: HTTPRequestHead, target: String, authority: Authority) {
        var headers: [Header] = []
        var sawHost = false
        for (name, value) in head.headers {
            let lowered = name.lowercased()
            if Self.proxyHopHeaders.contains(lowered) { continue }
            if lowered == "host" {
                if sawHost { continue }
                sawHost = true
                headers.append(Header(name: name, value: authority.hostHeaderValue))
                continue
            }
            headers.append(Header(name: name, value: value))
        }
        if !sawHost {
            headers.insert(Header(name: "Host", value: authority.hostHeaderValue), at: 0)
        }
        self.init(method: head.method.rawValue, target: target, headers: headers)
    }

    static func path(of target: String) -> String {
        RequestHead(method: "", target: target, headers: []).pathWithoutQuery
    }
}

extension HTTPRequestHead {
    init(requestHead: RequestHead, version: HTTPVersion) {
        var headers = HTTPHeaders()
        headers.reserveCapacity(requestHead.headers.count)
        for header in requestHead.headers {
            headers.add(name: header.name, value: header.value)
        }
        self.init(version: version, method: HTTPMethod(rawValue: requestHead.method), uri: requestHead.target, headers: headers)
    }
}

extension Authority {
    /// The Host header for this authority, leaving out the default ports.
    var hostHeaderValue: String {
        self.port == 443 || self.port == 80 ? self.urlHost : "\(self.urlHost):\(self.port)"
    }
}
