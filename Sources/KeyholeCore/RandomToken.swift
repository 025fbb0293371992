/// Random identifiers from the system's CSPRNG (`SystemRandomNumberGenerator` reads getrandom(2)).
public enum RandomToken {
    /// `byteCount` random bytes as lowercase hex.
    public static func hex(byteCount: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return Hex.lowercase((0..<byteCount).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }
}
