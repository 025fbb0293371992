/// A dotted version number read from a program's `--version` output (`20.20.2`, `1.8.0`, `17`).
public struct RuntimeVersion: Sendable, Equatable, Comparable, CustomStringConvertible {
    public var components: [Int]

    public init(_ components: [Int]) {
        self.components = components
    }

    /// The first dotted number in `text` after the first occurrence of `prefix` (anywhere when `prefix` is empty);
    /// nil when there is none.
    public init?(parsing text: String, after prefix: String = "") {
        var rest = Substring(text)
        if !prefix.isEmpty {
            guard let range = rest.range(of: prefix) else { return nil }
            rest = rest[range.upperBound...]
        }
        guard let start = rest.firstIndex(where: \.isASCIIDigit) else { return nil }
        var components: [Int] = []
        var current = ""
        var index = start
        while index < rest.endIndex {
            let character = rest[index]
            if character.isASCIIDigit {
                current.append(character)
            } else if character == ".", !current.isEmpty,
                rest.index(after: index) < rest.endIndex, rest[rest.index(after: index)].isASCIIDigit
            {
                components.append(Int(current) ?? 0)
                current = ""
            } else {
                break
            }
            index = rest.index(after: index)
        }
        if !current.isEmpty { components.append(Int(current) ?? 0) }
        guard !components.isEmpty else { return nil }
        self.components = components
    }

    public var major: Int { self.components.first ?? 0 }
    public var minor: Int { self.components.count > 1 ? self.components[1] : 0 }

    /// Java's feature release: `1.8.0` is 8, `17.0.15` is 17.
    public var javaFeature: Int { self.major == 1 ? self.minor : self.major }

    public var description: String { self.components.map(String.init).joined(separator: ".") }

    public static func < (lhs: RuntimeVersion, rhs: RuntimeVersion) -> Bool {
        let count = max(lhs.components.count, rhs.components.count)
        for index in 0..<count {
            let left = index < lhs.components.count ? lhs.components[index] : 0
            let right = index < rhs.components.count ? rhs.components[index] : 0
            if left != right { return left < right }
        }
        return false
    }
}
