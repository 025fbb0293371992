/// A secret value. Its descriptions never show the value, so a stray `print`, log line or string
/// interpolation cannot leak it; code that must use the bytes reads ``Secret/value`` explicitly.
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The secret itself. Read only where the real value must go on the wire or into the store.
    public let value: String

    public init(_ value: String) {
        self.value = value
    }

    public var isEmpty: Bool { self.value.isEmpty }

    public var description: String { "<secret>" }
    public var debugDescription: String { "<secret>" }
}
