#if canImport(Glibc)
import Glibc
#endif

/// Reads structured choices out of libFuzzer's bytes (like LLVM's FuzzedDataProvider): small integers, flags and
/// picks from the front, and short strings. Once the bytes run out every read gives zero or empty, so any input
/// describes one complete case.
struct FuzzBytes {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    init(_ buffer: UnsafeRawBufferPointer) {
        self.bytes = Array(buffer)
    }

    var isEmpty: Bool { self.position >= self.bytes.count }

    mutating func byte() -> UInt8 {
        guard self.position < self.bytes.count else { return 0 }
        defer { self.position += 1 }
        return self.bytes[self.position]
    }

    /// A number in `range` (its width at most 256).
    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(self.byte()) % (range.count)
    }

    mutating func bool() -> Bool { self.byte() & 1 == 1 }

    mutating func pick<T>(_ choices: [T]) -> T {
        choices[Int(self.byte()) % choices.count]
    }

    /// Up to `maximum` raw bytes (the count first).
    mutating func bytes(upTo maximum: Int) -> [UInt8] {
        let count = min(self.int(0...maximum), self.bytes.count - min(self.position, self.bytes.count))
        defer { self.position += count }
        return Array(self.bytes[self.position..<(self.position + count)])
    }

    /// Up to `maximum` bytes as text (invalid UTF-8 becomes U+FFFD), without the bytes in `excluding`.
    mutating func text(upTo maximum: Int, excluding: Set<UInt8> = []) -> String {
        String(decoding: self.bytes(upTo: maximum).filter { !excluding.contains($0) }, as: UTF8.self)
    }

    /// Whatever is left.
    mutating func rest() -> [UInt8] {
        defer { self.position = self.bytes.count }
        return self.position < self.bytes.count ? Array(self.bytes[self.position...]) : []
    }
}

/// Cuts `bytes` into pieces at points `choices` picks (so the same input always splits the same way).
func fuzzSplit(_ bytes: [UInt8], _ choices: inout FuzzBytes) -> [[UInt8]] {
    var pieces: [[UInt8]] = []
    var start = 0
    while start < bytes.count {
        let size = choices.isEmpty ? bytes.count - start : 1 + Int(choices.byte()) * Int(choices.byte() % 4 + 1)
        let end = min(bytes.count, start + size)
        pieces.append(Array(bytes[start..<end]))
        start = end
    }
    return pieces
}

extension Unicode.Scalar {
    /// What must never reach a terminal raw: C0 and C1 controls, DEL, U+2028/U+2029 and the bidi controls
    /// (U+200E/F, U+061C, U+202A–U+202E, U+2066–U+2069). Written here again, on purpose, rather than reusing
    /// keyhole's own predicate.
    var fuzzIsTerminalUnsafe: Bool {
        switch self.value {
        case 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029, 0x200E, 0x200F, 0x061C, 0x202A...0x202E, 0x2066...0x2069:
            return true
        default:
            return false
        }
    }
}

/// Bugs the fuzz targets found and that are not fixed yet (see Fuzz/FUZZING.md): by default the targets tolerate
/// exactly these, so the rest of each target keeps running clean; `KEYHOLE_FUZZ_STRICT=1` checks them too.
enum FuzzKnownIssues {
    static let strict = getenv("KEYHOLE_FUZZ_STRICT").map { String(cString: $0) == "1" } ?? false
}

/// `text` escaped for a failure message (never a real secret: the fuzz targets know only their own made-up ones).
func fuzzShow(_ text: String) -> String {
    text.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? String($0) : "\\u{\(String($0.value, radix: 16))}" }
        .joined()
}
