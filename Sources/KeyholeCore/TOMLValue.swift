/// A value read from a TOML document, with the line it started on (1-based) so that whoever interprets
/// the document can point at the line of a value it does not accept.
struct TOMLValue: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        case string(String)
        case integer(Int64)
        case float(Double)
        case boolean(Bool)
        case array([TOMLValue])
        case table(TOMLTable)
    }

    var kind: Kind
    var line: Int

    init(_ kind: Kind, line: Int) {
        self.kind = kind
        self.line = line
    }

    var stringValue: String? {
        if case .string(let value) = self.kind { return value }
        return nil
    }

    var tableValue: TOMLTable? {
        if case .table(let value) = self.kind { return value }
        return nil
    }

    var arrayValue: [TOMLValue]? {
        if case .array(let value) = self.kind { return value }
        return nil
    }

    /// "a string", "an integer", … for messages that say what was found instead of what was expected.
    var typeDescription: String {
        switch self.kind {
        case .string: return "a string"
        case .integer: return "an integer"
        case .float: return "a float"
        case .boolean: return "a boolean"
        case .array: return "an array"
        case .table: return "a table"
        }
    }
}

/// A TOML table: its keys in document order, each with the line the key was written on.
struct TOMLTable: Sendable, Equatable {
    struct Entry: Sendable, Equatable {
        var key: String
        var line: Int
        var value: TOMLValue
    }

    var entries: [Entry]

    init(entries: [Entry] = []) {
        self.entries = entries
    }

    subscript(key: String) -> TOMLValue? {
        self.entries.first { $0.key == key }?.value
    }

    var keys: [String] { self.entries.map(\.key) }
}
