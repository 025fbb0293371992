/// A table while the document is being parsed: mutable and shared, so that headers and dotted keys can
/// reach into tables defined earlier. Knows how it was defined, to refuse what TOML forbids (a table
/// defined twice, a value redefined, an inline table extended later).
final class TOMLTableNode {
    enum Origin {
        /// Defined by a `[header]` (or the root).
        case header
        /// Created on the way to a deeper `[a.b.c]` header; may still be defined by its own header later.
        case implicit
        /// Created by a dotted key `a.b = …`.
        case dotted
    }

    private enum Slot {
        case value(TOMLValue)
        case table(TOMLTableNode)
        case arrayOfTables([TOMLTableNode])
    }

    private var origin: Origin
    private var line: Int
    /// Where this table is, from the document root (or the inline table being parsed), for messages.
    private let path: [String]
    private var order: [String] = []
    private var slots: [String: (slot: Slot, line: Int)] = [:]

    init(origin: Origin, line: Int, path: [String] = []) {
        self.origin = origin
        self.line = line
        self.path = path
    }

    /// Sets `path` (a dotted key relative to this table) to `value`.
    func insert(_ value: TOMLValue, at path: [String], line: Int) throws(TOMLParseError) {
        var node = self
        for (index, key) in path.dropLast().enumerated() {
            let prefix = self.path + path[...index]
            switch node.slots[key]?.slot {
            case nil:
                let child = TOMLTableNode(origin: .dotted, line: line, path: prefix)
                node.add(key, .table(child), line: line)
                node = child
            case .table(let child):
                guard child.origin == .dotted else {
                    throw TOMLParseError(
                        line: line,
                        message: "cannot add keys to the table '\(TOMLSubsetParser.display(prefix))' "
                            + "(defined on line \(child.line)) with a dotted key; put them under its [header]"
                    )
                }
                node = child
            case .arrayOfTables, .value:
                throw TOMLParseError(
                    line: line,
                    message: "'\(TOMLSubsetParser.display(prefix))' already holds a value "
                        + "(line \(node.slots[key]!.line)) and cannot also be a table"
                )
            }
        }
        let key = path[path.count - 1]
        if let existing = node.slots[key] {
            throw TOMLParseError(
                line: line,
                message:
                    "duplicate key '\(TOMLSubsetParser.display(self.path + path))' (first set on line \(existing.line))"
            )
        }
        node.add(key, .value(value), line: line)
    }

    /// Finds or creates the table named by a `[path]` or `[[path]]` header and returns it.
    func openTable(at path: [String], line: Int, arrayElement: Bool) throws(TOMLParseError) -> TOMLTableNode {
        var node = self
        for (index, key) in path.enumerated() {
            let prefix = Array(path[...index])
            let isLast = index == path.count - 1
            switch node.slots[key]?.slot {
            case nil:
                if isLast && arrayElement {
                    let element = TOMLTableNode(origin: .header, line: line, path: prefix)
                    node.add(key, .arrayOfTables([element]), line: line)
                    return element
                }
                let child = TOMLTableNode(origin: isLast ? .header : .implicit, line: line, path: prefix)
                node.add(key, .table(child), line: line)
                node = child
            case .table(let child):
                if isLast {
                    if arrayElement {
                        throw TOMLParseError(
                            line: line,
                            message: "'\(TOMLSubsetParser.display(prefix))' is a table (line \(child.line)), "
                                + "not an array of tables"
                        )
                    }
                    switch child.origin {
                    case .header:
                        throw TOMLParseError(
                            line: line,
                            message: "the table [\(TOMLSubsetParser.display(prefix))] is defined twice "
                                + "(first on line \(child.line))"
                        )
                    case .dotted:
                        throw TOMLParseError(
                            line: line,
                            message: "the table [\(TOMLSubsetParser.display(prefix))] was already defined "
                                + "by dotted keys on line \(child.line)"
                        )
                    case .implicit:
                        child.origin = .header
                        child.line = line
                    }
                }
                node = child
            case .arrayOfTables(let elements):
                if isLast {
                    guard arrayElement else {
                        throw TOMLParseError(
                            line: line,
                            message: "'\(TOMLSubsetParser.display(prefix))' is an array of tables; "
                                + "use [[\(TOMLSubsetParser.display(prefix))]] to add an element"
                        )
                    }
                    let element = TOMLTableNode(origin: .header, line: line, path: prefix)
                    node.slots[key] = (.arrayOfTables(elements + [element]), node.slots[key]!.line)
                    return element
                }
                node = elements[elements.count - 1]
            case .value:
                throw TOMLParseError(
                    line: line,
                    message: "'\(TOMLSubsetParser.display(prefix))' already holds a value "
                        + "(line \(node.slots[key]!.line)) and cannot be extended by a [header]"
                )
            }
        }
        return node
    }

    /// The finished, immutable table.
    func table() -> TOMLTable {
        TOMLTable(
            entries: self.order.map { key in
                let (slot, line) = self.slots[key]!
                switch slot {
                case .value(let value):
                    return TOMLTable.Entry(key: key, line: line, value: value)
                case .table(let node):
                    return TOMLTable.Entry(
                        key: key, line: line, value: TOMLValue(.table(node.table()), line: node.line))
                case .arrayOfTables(let nodes):
                    let elements = nodes.map { TOMLValue(.table($0.table()), line: $0.line) }
                    return TOMLTable.Entry(key: key, line: line, value: TOMLValue(.array(elements), line: line))
                }
            }
        )
    }

    private func add(_ key: String, _ slot: Slot, line: Int) {
        self.order.append(key)
        self.slots[key] = (slot, line)
    }
}
