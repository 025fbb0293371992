/// The few DER (X.690) encodings a PKCS#12 trust store needs: tag, definite length, contents.
enum DERWriter {
    static func element(tag: UInt8, _ contents: [UInt8]) -> [UInt8] {
        [tag] + self.length(contents.count) + contents
    }

    static func sequence(_ elements: [[UInt8]]) -> [UInt8] {
        self.element(tag: 0x30, elements.flatMap { $0 })
    }

    /// A SET OF: DER sorts the encoded elements.
    static func set(_ elements: [[UInt8]]) -> [UInt8] {
        self.element(tag: 0x31, elements.sorted { $0.lexicographicallyPrecedes($1) }.flatMap { $0 })
    }

    static func octetString(_ bytes: [UInt8]) -> [UInt8] {
        self.element(tag: 0x04, bytes)
    }

    /// `[n] EXPLICIT`.
    static func explicit(_ number: UInt8, _ inner: [UInt8]) -> [UInt8] {
        self.element(tag: 0xA0 | number, inner)
    }

    static let null: [UInt8] = [0x05, 0x00]

    static func integer(_ value: Int) -> [UInt8] {
        precondition(value >= 0, "negative INTEGER")
        var bytes: [UInt8] = []
        var remaining = value
        repeat {
            bytes.insert(UInt8(remaining & 0xFF), at: 0)
            remaining >>= 8
        } while remaining > 0
        if bytes[0] & 0x80 != 0 { bytes.insert(0, at: 0) }
        return self.element(tag: 0x02, bytes)
    }

    /// An OBJECT IDENTIFIER from its dotted form.
    static func objectIdentifier(_ dotted: String) -> [UInt8] {
        let arcs = dotted.split(separator: ".").map { UInt64($0)! }
        precondition(arcs.count >= 2, "OID \(dotted) has fewer than two arcs")
        var bytes = self.base128(arcs[0] * 40 + arcs[1])
        for arc in arcs.dropFirst(2) { bytes += self.base128(arc) }
        return self.element(tag: 0x06, bytes)
    }

    /// A BMPString (UTF-16 big-endian).
    static func bmpString(_ text: String) -> [UInt8] {
        self.element(tag: 0x1E, text.utf16.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] })
    }

    private static func base128(_ value: UInt64) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(value & 0x7F)]
        var remaining = value >> 7
        while remaining > 0 {
            bytes.insert(UInt8(remaining & 0x7F) | 0x80, at: 0)
            remaining >>= 7
        }
        return bytes
    }

    private static func length(_ count: Int) -> [UInt8] {
        if count < 0x80 { return [UInt8(count)] }
        var bytes: [UInt8] = []
        var remaining = count
        while remaining > 0 {
            bytes.insert(UInt8(remaining & 0xFF), at: 0)
            remaining >>= 8
        }
        return [0x80 | UInt8(bytes.count)] + bytes
    }
}
