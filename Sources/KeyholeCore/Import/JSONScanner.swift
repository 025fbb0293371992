/// A strict JSON scanner over bytes that records positions rather than building values.
struct JSONScanner {
    let bytes: [UInt8]
    var position = 0
    var depth = 0

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    var atEnd: Bool { self.position >= self.bytes.count }
    var peek: UInt8? { self.atEnd ? nil : self.bytes[self.position] }

    func error(_ expected: String) -> ImportFileError {
        let line = 1 + self.bytes[..<min(self.position, self.bytes.count)].count { $0 == UInt8(ascii: "\n") }
        return ImportFileError.invalidJSON(line: line, "expected \(expected)")
    }

    mutating func skipWhitespace() {
        while let byte = self.peek, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
            self.position += 1
        }
    }

    mutating func expect(_ byte: UInt8, _ what: String) throws(ImportFileError) {
        guard self.peek == byte else { throw self.error(what) }
        self.position += 1
    }

    mutating func object() throws(ImportFileError) -> JSONObjectLayout {
        let open = self.position
        try self.expect(UInt8(ascii: "{"), "'{'")
        try self.descend()
        defer { self.depth -= 1 }
        var members: [JSONObjectLayout.Member] = []
        self.skipWhitespace()
        if self.peek == UInt8(ascii: "}") {
            self.position += 1
            return JSONObjectLayout(open: open, close: self.position - 1, members: [])
        }
        while true {
            self.skipWhitespace()
            let keyStart = self.position
            guard self.peek == UInt8(ascii: "\"") else { throw self.error("a member name in double quotes") }
            let key = try self.string()
            self.skipWhitespace()
            try self.expect(UInt8(ascii: ":"), "':' after a member name")
            self.skipWhitespace()
            let valueStart = self.position
            try self.skipValue()
            members.append(JSONObjectLayout.Member(key: key, keyStart: keyStart, value: valueStart..<self.position))
            self.skipWhitespace()
            if self.peek == UInt8(ascii: ",") {
                self.position += 1
                continue
            }
            let close = self.position
            try self.expect(UInt8(ascii: "}"), "',' or '}'")
            return JSONObjectLayout(open: open, close: close, members: members)
        }
    }

    mutating func skipValue() throws(ImportFileError) {
        guard let byte = self.peek else { throw self.error("a value") }
        switch byte {
        case UInt8(ascii: "{"):
            _ = try self.object()
        case UInt8(ascii: "["):
            try self.array()
        case UInt8(ascii: "\""):
            _ = try self.string()
        case UInt8(ascii: "t"):
            try self.literal("true")
        case UInt8(ascii: "f"):
            try self.literal("false")
        case UInt8(ascii: "n"):
            try self.literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try self.number()
        default:
            throw self.error("a value")
        }
    }

    private mutating func descend() throws(ImportFileError) {
        self.depth += 1
        guard self.depth <= 512 else { throw self.error("less deeply nested values") }
    }

    private mutating func array() throws(ImportFileError) {
        try self.expect(UInt8(ascii: "["), "'['")
        try self.descend()
        defer { self.depth -= 1 }
        self.skipWhitespace()
        if self.peek == UInt8(ascii: "]") {
            self.position += 1
            return
        }
        while true {
            self.skipWhitespace()
            try self.skipValue()
            self.skipWhitespace()
            if self.peek == UInt8(ascii: ",") {
                self.position += 1
                continue
            }
            try self.expect(UInt8(ascii: "]"), "',' or ']'")
            return
        }
    }

    private mutating func literal(_ word: String) throws(ImportFileError) {
        for byte in word.utf8 {
            try self.expect(byte, "'\(word)'")
        }
    }

    private mutating func number() throws(ImportFileError) {
        if self.peek == UInt8(ascii: "-") { self.position += 1 }
        if self.peek == UInt8(ascii: "0") {
            self.position += 1
        } else {
            try self.digits()
        }
        if self.peek == UInt8(ascii: ".") {
            self.position += 1
            try self.digits()
        }
        if self.peek == UInt8(ascii: "e") || self.peek == UInt8(ascii: "E") {
            self.position += 1
            if self.peek == UInt8(ascii: "+") || self.peek == UInt8(ascii: "-") { self.position += 1 }
            try self.digits()
        }
    }

    private mutating func digits() throws(ImportFileError) {
        guard let byte = self.peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else {
            throw self.error("a digit")
        }
        while let byte = self.peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
            self.position += 1
        }
    }

    /// A string literal, decoded (escapes, surrogate pairs); the bytes must be UTF-8.
    mutating func string() throws(ImportFileError) -> String {
        try self.expect(UInt8(ascii: "\""), "'\"'")
        var out: [UInt8] = []
        while true {
            guard let byte = self.peek else { throw self.error("the end of a string") }
            self.position += 1
            switch byte {
            case UInt8(ascii: "\""):
                let text = String(decoding: out, as: UTF8.self)
                guard text.utf8.elementsEqual(out) else { throw self.error("UTF-8 text in a string") }
                return text
            case UInt8(ascii: "\\"):
                try self.escape(into: &out)
            case 0x00..<0x20:
                self.position -= 1
                throw self.error("no control characters in a string")
            default:
                out.append(byte)
            }
        }
    }

    private mutating func escape(into out: inout [UInt8]) throws(ImportFileError) {
        guard let byte = self.peek else { throw self.error("an escape sequence") }
        self.position += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(byte)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try self.hex4()
            if (0xD800..<0xDC00).contains(scalar) {
                guard self.peek == UInt8(ascii: "\\") else { throw self.error("a low surrogate") }
                self.position += 1
                try self.expect(UInt8(ascii: "u"), "a low surrogate")
                let low = try self.hex4()
                guard (0xDC00..<0xE000).contains(low) else { throw self.error("a low surrogate") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let unicode = Unicode.Scalar(scalar) else { throw self.error("a valid \\u escape") }
            out.append(contentsOf: String(Character(unicode)).utf8)
        default:
            self.position -= 1
            throw self.error("a valid escape sequence")
        }
    }

    private mutating func hex4() throws(ImportFileError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = self.peek else { throw self.error("four hex digits") }
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw self.error("four hex digits")
            }
            value = value << 4 | UInt32(digit)
            self.position += 1
        }
        return value
    }
}
