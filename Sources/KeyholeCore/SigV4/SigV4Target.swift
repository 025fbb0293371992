/// A request target split into its path and its query parameters exactly as they are on the wire, so that a
/// parameter can be replaced or removed and the target put back together with every other byte unchanged.
struct SigV4Target: Sendable, Equatable {
    /// One `name=value` pair of the query, raw (still percent-encoded).
    struct Parameter: Sendable, Equatable {
        var name: String
        /// `nil` when the pair has no `=` (`?acl`).
        var value: String?

        /// The name with `%XX` escapes decoded (`+` stays a plus).
        var decodedName: String { SigV4Signer.percentDecoded(self.name) }
        /// The value with `%XX` escapes decoded, `""` when there is none.
        var decodedValue: String { SigV4Signer.percentDecoded(self.value ?? "") }
    }

    /// Everything before the first `?`.
    var path: String
    /// Whether the target has a `?` at all (`/path?` keeps its empty query).
    var hasQuery: Bool
    /// The `&`-separated pairs in wire order; an empty query has none.
    var parameters: [Parameter]

    init(_ target: String) {
        guard let mark = target.firstIndex(of: "?") else {
            self.path = target
            self.hasQuery = false
            self.parameters = []
            return
        }
        self.path = String(target[..<mark])
        self.hasQuery = true
        let query = target[target.index(after: mark)...]
        if query.isEmpty {
            self.parameters = []
        } else {
            self.parameters = query.split(separator: "&", omittingEmptySubsequences: false).map { pair in
                if let equals = pair.firstIndex(of: "=") {
                    return Parameter(
                        name: String(pair[..<equals]),
                        value: String(pair[pair.index(after: equals)...])
                    )
                }
                return Parameter(name: String(pair), value: nil)
            }
        }
    }

    /// The target in origin form again.
    var target: String {
        guard self.hasQuery || !self.parameters.isEmpty else {
            return self.path
        }
        let pairs = self.parameters.map { parameter in
            parameter.value.map { "\(parameter.name)=\($0)" } ?? parameter.name
        }
        return self.path + "?" + pairs.joined(separator: "&")
    }

    /// The indices of the parameters whose decoded name is exactly `name` (AWS compares parameter names
    /// case-sensitively).
    func indices(named name: String) -> [Int] {
        self.parameters.indices.filter { self.parameters[$0].decodedName == name }
    }
}
