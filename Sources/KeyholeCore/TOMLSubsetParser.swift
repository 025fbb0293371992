/// A syntax error in a TOML document: the 1-based line and what was expected there.
struct TOMLParseError: Error, Sendable, Equatable {
    var line: Int
    var message: String
}

/// A small TOML parser, enough for `config.toml`: comments, bare, quoted and dotted keys, basic and literal
/// strings (single- and multi-line, with escapes), integers (decimal, hex, octal, binary), floats, booleans,
/// arrays (also over several lines, with trailing commas), inline tables, `[table]` and `[[array of tables]]`
/// headers. Dates and times are refused with a clear message. Redefinitions are errors, as in TOML 1.0.
struct TOMLSubsetParser {
    private let bytes: [UInt8]
    private var position: Int = 0
    private var line: Int = 1
    /// Arrays and inline tables open around the value being parsed.
    private var depth = 0
    /// Deeper nesting is refused: the parser recurses, and a file of `[[[[…` would overflow the stack (found by the
    /// config fuzz target). No configuration needs more than a few levels.
    static let maximumDepth = 64

    private init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Parses a whole document into its root table.
    static func parse(_ bytes: [UInt8]) throws(TOMLParseError) -> TOMLTable {
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw TOMLParseError(line: Self.firstInvalidUTF8Line(bytes), message: "the file is not valid UTF-8")
        }
        var parser = TOMLSubsetParser(bytes: bytes)
        return try parser.parseDocument()
    }

    static func parse(_ text: String) throws(TOMLParseError) -> TOMLTable {
        try Self.parse(Array(text.utf8))
    }

    // MARK: - Document structure

    private mutating func parseDocument() throws(TOMLParseError) -> TOMLTable {
        if self.bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            self.position = 3
        }
        let root = TOMLTableNode(origin: .header, line: 1)
        var current = root
        while true {
            self.skipSpaces()
            guard let byte = self.peek() else { break }
            switch byte {
            case UInt8(ascii: "#"):
                try self.skipComment()
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                try self.consumeNewline()
            case UInt8(ascii: "["):
                current = try self.parseHeader(root: root)
                try self.expectEndOfLine(after: "the table header")
            default:
                let keyLine = self.line
                let path = try self.parseKeyPath()
                self.skipSpaces()
                guard self.peek() == UInt8(ascii: "=") else {
                    throw self.error("expected '=' after the key '\(Self.display(path))'")
                }
                self.position += 1
                self.skipSpaces()
                let value = try self.parseValue()
                try current.insert(value, at: path, line: keyLine)
                try self.expectEndOfLine(after: "the value of '\(Self.display(path))'")
            }
        }
        return root.table()
    }

    private mutating func parseHeader(root: TOMLTableNode) throws(TOMLParseError) -> TOMLTableNode {
        let headerLine = self.line
        self.position += 1
        let isArray = self.peek() == UInt8(ascii: "[")
        if isArray {
            self.position += 1
        }
        self.skipSpaces()
        let path = try self.parseKeyPath()
        self.skipSpaces()
        guard self.peek() == UInt8(ascii: "]") else {
            throw self.error("expected ']' to close the table header [\(Self.display(path))")
        }
        self.position += 1
        if isArray {
            guard self.peek() == UInt8(ascii: "]") else {
                throw self.error("expected ']]' to close the array-of-tables header [[\(Self.display(path))]]")
            }
            self.position += 1
        }
        return try root.openTable(at: path, line: headerLine, arrayElement: isArray)
    }

    /// After a value or header only spaces, a comment and the end of the line may follow.
    private mutating func expectEndOfLine(after what: String) throws(TOMLParseError) {
        self.skipSpaces()
        guard let byte = self.peek() else { return }
        switch byte {
        case UInt8(ascii: "#"):
            try self.skipComment()
        case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
            break
        default:
            throw self.error("expected the end of the line after \(what), found \(self.describeCurrent())")
        }
    }

    // MARK: - Keys

    private mutating func parseKeyPath() throws(TOMLParseError) -> [String] {
        var path = [try self.parseSimpleKey()]
        while true {
            self.skipSpaces()
            guard self.peek() == UInt8(ascii: ".") else { return path }
            self.position += 1
            self.skipSpaces()
            path.append(try self.parseSimpleKey())
        }
    }

    private mutating func parseSimpleKey() throws(TOMLParseError) -> String {
        guard let byte = self.peek() else {
            throw self.error("expected a key, found the end of the file")
        }
        if byte == UInt8(ascii: "\"") {
            if self.lookingAt("\"\"\"") { throw self.error("a key cannot be a multi-line string") }
            return try self.parseBasicString()
        }
        if byte == UInt8(ascii: "'") {
            if self.lookingAt("'''") { throw self.error("a key cannot be a multi-line string") }
            return try self.parseLiteralString()
        }
        let start = self.position
        while let next = self.peek(), Self.isBareKeyByte(next) {
            self.position += 1
        }
        guard self.position > start else {
            throw self.error(
                "expected a key (letters, digits, '_', '-' or a quoted string), found \(self.describeCurrent())")
        }
        return String(decoding: self.bytes[start..<self.position], as: UTF8.self)
    }

    // MARK: - Values

    private mutating func parseValue() throws(TOMLParseError) -> TOMLValue {
        let valueLine = self.line
        guard let byte = self.peek() else {
            throw self.error("expected a value, found the end of the file")
        }
        switch byte {
        case UInt8(ascii: "\""):
            if self.lookingAt("\"\"\"") {
                return TOMLValue(.string(try self.parseMultiLineBasicString()), line: valueLine)
            }
            return TOMLValue(.string(try self.parseBasicString()), line: valueLine)
        case UInt8(ascii: "'"):
            if self.lookingAt("'''") {
                return TOMLValue(.string(try self.parseMultiLineLiteralString()), line: valueLine)
            }
            return TOMLValue(.string(try self.parseLiteralString()), line: valueLine)
        case UInt8(ascii: "["), UInt8(ascii: "{"):
            guard self.depth < Self.maximumDepth else {
                throw self.error("arrays and inline tables nest at most \(Self.maximumDepth) levels deep")
            }
            self.depth += 1
            defer { self.depth -= 1 }
            if byte == UInt8(ascii: "[") {
                return TOMLValue(.array(try self.parseArray()), line: valueLine)
            }
            return TOMLValue(.table(try self.parseInlineTable()), line: valueLine)
        default:
            return TOMLValue(try self.parseBareValue(), line: valueLine)
        }
    }

    private mutating func parseArray() throws(TOMLParseError) -> [TOMLValue] {
        let openLine = self.line
        self.position += 1
        var elements: [TOMLValue] = []
        while true {
            try self.skipSpacesNewlinesAndComments()
            guard let byte = self.peek() else {
                throw TOMLParseError(line: openLine, message: "the array opened here is never closed with ']'")
            }
            if byte == UInt8(ascii: "]") {
                self.position += 1
                return elements
            }
            elements.append(try self.parseValue())
            try self.skipSpacesNewlinesAndComments()
            switch self.peek() {
            case UInt8(ascii: ","):
                self.position += 1
            case UInt8(ascii: "]"):
                self.position += 1
                return elements
            case nil:
                throw TOMLParseError(line: openLine, message: "the array opened here is never closed with ']'")
            default:
                throw self.error("expected ',' or ']' in the array, found \(self.describeCurrent())")
            }
        }
    }

    /// Inline tables are accepted over several lines and with a trailing comma (as TOML 1.1 allows).
    private mutating func parseInlineTable() throws(TOMLParseError) -> TOMLTable {
        let openLine = self.line
        self.position += 1
        let node = TOMLTableNode(origin: .header, line: openLine)
        while true {
            try self.skipSpacesNewlinesAndComments()
            guard let byte = self.peek() else {
                throw TOMLParseError(line: openLine, message: "the inline table opened here is never closed with '}'")
            }
            if byte == UInt8(ascii: "}") {
                self.position += 1
                return node.table()
            }
            let keyLine = self.line
            let path = try self.parseKeyPath()
            self.skipSpaces()
            guard self.peek() == UInt8(ascii: "=") else {
                throw self.error("expected '=' after the key '\(Self.display(path))' in the inline table")
            }
            self.position += 1
            self.skipSpaces()
            let value = try self.parseValue()
            try node.insert(value, at: path, line: keyLine)
            try self.skipSpacesNewlinesAndComments()
            switch self.peek() {
            case UInt8(ascii: ","):
                self.position += 1
            case UInt8(ascii: "}"):
                self.position += 1
                return node.table()
            case nil:
                throw TOMLParseError(line: openLine, message: "the inline table opened here is never closed with '}'")
            default:
                throw self.error("expected ',' or '}' in the inline table, found \(self.describeCurrent())")
            }
        }
    }

    /// Booleans and numbers: everything that is not quoted or bracketed.
    private mutating func parseBareValue() throws(TOMLParseError) -> TOMLValue.Kind {
        let start = self.position
        while let byte = self.peek(), Self.isBareValueByte(byte) {
            self.position += 1
        }
        let token = String(decoding: self.bytes[start..<self.position], as: UTF8.self)
        if token.isEmpty {
            throw self.error(
                "expected a value (a \"string\", a number, true/false, an [array] or an { inline table }), "
                    + "found \(self.describeCurrent())"
            )
        }
        if token == "true" { return .boolean(true) }
        if token == "false" { return .boolean(false) }
        if let integer = Self.integer(from: token) { return .integer(integer) }
        if let float = Self.float(from: token) { return .float(float) }
        if token.contains(":") || (token.count >= 10 && token.dropFirst(4).first == "-") {
            throw self.error("dates and times are not supported here; quote the value as a string")
        }
        if let first = token.unicodeScalars.first, first.properties.isAlphabetic {
            throw self.error("expected a value, found '\(token)'; strings must be quoted, e.g. \"\(token)\"")
        }
        throw self.error("'\(token)' is not a valid number")
    }

    // MARK: - Strings

    private mutating func parseBasicString() throws(TOMLParseError) -> String {
        self.position += 1
        var scalars = String.UnicodeScalarView()
        var run = self.position
        while true {
            guard let byte = self.peek() else {
                throw self.error("unterminated string: expected a closing '\"'")
            }
            switch byte {
            case UInt8(ascii: "\""):
                scalars.append(contentsOf: self.decode(run..<self.position))
                self.position += 1
                return String(scalars)
            case UInt8(ascii: "\\"):
                scalars.append(contentsOf: self.decode(run..<self.position))
                scalars.append(try self.parseEscape())
                run = self.position
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                throw self.error("unterminated string: a \"basic string\" must close on the same line")
            default:
                try self.checkStringByte(byte)
                self.position += 1
            }
        }
    }

    private mutating func parseLiteralString() throws(TOMLParseError) -> String {
        self.position += 1
        let start = self.position
        while true {
            guard let byte = self.peek() else {
                throw self.error("unterminated string: expected a closing \"'\"")
            }
            switch byte {
            case UInt8(ascii: "'"):
                let value = String(decoding: self.bytes[start..<self.position], as: UTF8.self)
                self.position += 1
                return value
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                throw self.error("unterminated string: a 'literal string' must close on the same line")
            default:
                try self.checkStringByte(byte)
                self.position += 1
            }
        }
    }

    private mutating func parseMultiLineBasicString() throws(TOMLParseError) -> String {
        let openLine = self.line
        self.position += 3
        try self.skipNewlineRightAfterOpening()
        var scalars = String.UnicodeScalarView()
        var run = self.position
        while true {
            guard let byte = self.peek() else {
                throw TOMLParseError(
                    line: openLine, message: "the multi-line string opened here is never closed with \"\"\"")
            }
            switch byte {
            case UInt8(ascii: "\""):
                let quotes = self.countRun(of: UInt8(ascii: "\""))
                if quotes < 3 {
                    self.position += quotes
                    continue
                }
                if quotes > 5 {
                    throw self.error("too many '\"' at the end of a multi-line string")
                }
                // Up to two quotes right before the closing delimiter belong to the string.
                scalars.append(contentsOf: self.decode(run..<(self.position + quotes - 3)))
                self.position += quotes
                return String(scalars)
            case UInt8(ascii: "\\"):
                scalars.append(contentsOf: self.decode(run..<self.position))
                if self.isLineEndingBackslash() {
                    try self.skipLineEndingBackslash()
                } else {
                    scalars.append(try self.parseEscape())
                }
                run = self.position
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                scalars.append(contentsOf: self.decode(run..<self.position))
                try self.consumeNewline()
                scalars.append("\n")
                run = self.position
            default:
                try self.checkStringByte(byte)
                self.position += 1
            }
        }
    }

    private mutating func parseMultiLineLiteralString() throws(TOMLParseError) -> String {
        let openLine = self.line
        self.position += 3
        try self.skipNewlineRightAfterOpening()
        var scalars = String.UnicodeScalarView()
        var run = self.position
        while true {
            guard let byte = self.peek() else {
                throw TOMLParseError(
                    line: openLine, message: "the multi-line string opened here is never closed with '''")
            }
            switch byte {
            case UInt8(ascii: "'"):
                let quotes = self.countRun(of: UInt8(ascii: "'"))
                if quotes < 3 {
                    self.position += quotes
                    continue
                }
                if quotes > 5 {
                    throw self.error("too many \"'\" at the end of a multi-line string")
                }
                scalars.append(contentsOf: self.decode(run..<(self.position + quotes - 3)))
                self.position += quotes
                return String(scalars)
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                scalars.append(contentsOf: self.decode(run..<self.position))
                try self.consumeNewline()
                scalars.append("\n")
                run = self.position
            default:
                try self.checkStringByte(byte)
                self.position += 1
            }
        }
    }

    private mutating func parseEscape() throws(TOMLParseError) -> Unicode.Scalar {
        self.position += 1
        guard let byte = self.peek() else {
            throw self.error("unterminated escape sequence at the end of the file")
        }
        self.position += 1
        switch byte {
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "e"): return "\u{1B}"
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "x"): return try self.parseHexScalar(digits: 2)
        case UInt8(ascii: "u"): return try self.parseHexScalar(digits: 4)
        case UInt8(ascii: "U"): return try self.parseHexScalar(digits: 8)
        default:
            self.position -= 1
            throw self.error(
                "invalid escape sequence '\\\(self.describeByte(byte))'; use \\\\ for a backslash, "
                    + "or a 'literal string' in single quotes"
            )
        }
    }

    private mutating func parseHexScalar(digits: Int) throws(TOMLParseError) -> Unicode.Scalar {
        guard self.position + digits <= self.bytes.count else {
            throw self.error("expected \(digits) hexadecimal digits in the escape sequence")
        }
        let text = String(decoding: self.bytes[self.position..<(self.position + digits)], as: UTF8.self)
        guard text.utf8.allSatisfy(Self.isHexDigit), let code = UInt32(text, radix: 16) else {
            throw self.error("expected \(digits) hexadecimal digits in the escape sequence, found '\(text)'")
        }
        guard let scalar = Unicode.Scalar(code) else {
            throw self.error("the escape sequence U+\(text) is not a Unicode scalar value")
        }
        self.position += digits
        return scalar
    }

    private mutating func skipNewlineRightAfterOpening() throws(TOMLParseError) {
        if self.peek() == UInt8(ascii: "\n") || self.peek() == UInt8(ascii: "\r") {
            try self.consumeNewline()
        }
    }

    /// A backslash followed only by spaces up to the end of the line.
    private func isLineEndingBackslash() -> Bool {
        var index = self.position + 1
        while index < self.bytes.count,
            self.bytes[index] == UInt8(ascii: " ") || self.bytes[index] == UInt8(ascii: "\t")
        {
            index += 1
        }
        return index < self.bytes.count
            && (self.bytes[index] == UInt8(ascii: "\n") || self.bytes[index] == UInt8(ascii: "\r"))
    }

    /// Skips the backslash, the line ending and all whitespace and newlines up to the next character.
    private mutating func skipLineEndingBackslash() throws(TOMLParseError) {
        self.position += 1
        while let byte = self.peek() {
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"):
                self.position += 1
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                try self.consumeNewline()
            default:
                return
            }
        }
    }

    private func checkStringByte(_ byte: UInt8) throws(TOMLParseError) {
        if (byte < 0x20 && byte != UInt8(ascii: "\t")) || byte == 0x7F {
            throw self.error("control character \(self.describeByte(byte)) in a string; write it as an escape sequence")
        }
    }

    // MARK: - Numbers

    static func integer(from token: String) -> Int64? {
        var text = Substring(token)
        var radix = 10
        var negative = false
        if text.hasPrefix("0x") || text.hasPrefix("0o") || text.hasPrefix("0b") {
            radix = text.hasPrefix("0x") ? 16 : (text.hasPrefix("0o") ? 8 : 2)
            text = text.dropFirst(2)
        } else if let sign = text.first, sign == "+" || sign == "-" {
            negative = sign == "-"
            text = text.dropFirst()
        }
        guard Self.hasValidUnderscores(text) else { return nil }
        let digits = text.filter { $0 != "_" }
        if radix == 10, digits.count > 1, digits.hasPrefix("0") { return nil }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isHexDigit }) else { return nil }
        guard let magnitude = UInt64(digits, radix: radix) else { return nil }
        if negative {
            if magnitude == UInt64(Int64.max) + 1 { return Int64.min }
            guard let value = Int64(exactly: magnitude) else { return nil }
            return -value
        }
        return Int64(exactly: magnitude)
    }

    static func float(from token: String) -> Double? {
        var text = Substring(token)
        var sign = ""
        if let first = text.first, first == "+" || first == "-" {
            sign = first == "-" ? "-" : ""
            text = text.dropFirst()
        }
        if text == "inf" { return sign == "-" ? -.infinity : .infinity }
        if text == "nan" { return .nan }
        guard Self.hasValidUnderscores(text), text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) else {
            return nil
        }
        let digits = text.filter { $0 != "_" }
        guard let first = digits.first, first.isNumber, let last = digits.last, last.isNumber else { return nil }
        if digits.contains(".e") || digits.contains(".E") { return nil }
        let integerPart = digits.prefix { $0.isNumber }
        if integerPart.count > 1, integerPart.hasPrefix("0") { return nil }
        guard digits.allSatisfy({ $0.isNumber || "eE.+-".contains($0) }) else { return nil }
        return Double(sign + digits)
    }

    /// Underscores only between two digits.
    private static func hasValidUnderscores(_ text: Substring) -> Bool {
        let characters = Array(text)
        for (index, character) in characters.enumerated() where character == "_" {
            guard index > 0, index < characters.count - 1,
                characters[index - 1].isHexDigit, characters[index + 1].isHexDigit
            else { return false }
        }
        return true
    }

    // MARK: - Low-level scanning

    private func peek() -> UInt8? {
        self.position < self.bytes.count ? self.bytes[self.position] : nil
    }

    private func lookingAt(_ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard self.position + count <= self.bytes.count else { return false }
        return text.withUTF8Buffer { buffer in
            buffer.elementsEqual(self.bytes[self.position..<(self.position + count)])
        }
    }

    private func countRun(of byte: UInt8) -> Int {
        var index = self.position
        while index < self.bytes.count, self.bytes[index] == byte {
            index += 1
        }
        return index - self.position
    }

    private mutating func skipSpaces() {
        while let byte = self.peek(), byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") {
            self.position += 1
        }
    }

    private mutating func skipComment() throws(TOMLParseError) {
        self.position += 1
        while let byte = self.peek(), byte != UInt8(ascii: "\n") {
            if byte == UInt8(ascii: "\r"), self.position + 1 < self.bytes.count,
                self.bytes[self.position + 1] == UInt8(ascii: "\n")
            {
                return
            }
            if (byte < 0x20 && byte != UInt8(ascii: "\t")) || byte == 0x7F {
                throw self.error("control character \(self.describeByte(byte)) in a comment")
            }
            self.position += 1
        }
    }

    private mutating func consumeNewline() throws(TOMLParseError) {
        if self.peek() == UInt8(ascii: "\r") {
            guard self.position + 1 < self.bytes.count, self.bytes[self.position + 1] == UInt8(ascii: "\n") else {
                throw self.error("a carriage return must be followed by a line feed")
            }
            self.position += 1
        }
        self.position += 1
        self.line += 1
    }

    private mutating func skipSpacesNewlinesAndComments() throws(TOMLParseError) {
        while let byte = self.peek() {
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"):
                self.position += 1
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                try self.consumeNewline()
            case UInt8(ascii: "#"):
                try self.skipComment()
            default:
                return
            }
        }
    }

    private func decode(_ range: Range<Int>) -> String.UnicodeScalarView {
        String(decoding: self.bytes[range], as: UTF8.self).unicodeScalars
    }

    private func error(_ message: String) -> TOMLParseError {
        TOMLParseError(line: self.line, message: message)
    }

    private func describeCurrent() -> String {
        guard let byte = self.peek() else { return "the end of the file" }
        if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") { return "the end of the line" }
        return "'\(self.describeByte(byte))'"
    }

    private func describeByte(_ byte: UInt8) -> String {
        if byte >= 0x20 && byte < 0x7F { return String(UnicodeScalar(byte)) }
        if byte >= 0x80 {
            // Show the whole character the byte starts.
            var end = self.position + 1
            while end < self.bytes.count, self.bytes[end] & 0xC0 == 0x80 { end += 1 }
            return String(decoding: self.bytes[self.position..<end], as: UTF8.self)
        }
        let hex = String(byte, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: 4 - hex.count) + hex
    }

    private static func isBareKeyByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    private static func isBareValueByte(_ byte: UInt8) -> Bool {
        Self.isBareKeyByte(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: ":")
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"),
            UInt8(ascii: "A")...UInt8(ascii: "F"):
            return true
        default:
            return false
        }
    }

    static func display(_ path: [String]) -> String {
        path.map { key in
            key.utf8.allSatisfy(Self.isBareKeyByte) && !key.isEmpty ? key : "\"\(key)\""
        }.joined(separator: ".")
    }

    private static func firstInvalidUTF8Line(_ bytes: [UInt8]) -> Int {
        var line = 1
        var lineStart = 0
        for (index, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") {
            if String(validating: bytes[lineStart..<index], as: UTF8.self) == nil { return line }
            line += 1
            lineStart = index + 1
        }
        return line
    }
}
