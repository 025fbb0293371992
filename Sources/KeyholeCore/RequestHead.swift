/// The parts of an HTTP request head that keyhole inspects and rewrites, independent of NIO.
public struct RequestHead: Sendable, Equatable {
    public var method: String
    /// Request target in origin form (`/path?query`).
    public var target: String
    public var headers: [Header]

    public struct Header: Sendable, Equatable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public init(method: String, target: String, headers: [Header]) {
        self.method = method
        self.target = target
        self.headers = headers
    }

    public func contains(header name: String) -> Bool {
        self.headers.contains { $0.name.lowercased() == name.lowercased() }
    }

    /// The path without the query, for logs.
    public var pathWithoutQuery: String {
        if let mark = self.target.firstIndex(where: { $0 == "?" || $0 == "#" }) {
            return String(self.target[..<mark])
        }
        return self.target
    }
}
