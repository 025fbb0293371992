/// A header that the proxy adds to requests bound for a credential's hosts when the request does not carry
/// that header at all: `Authorization: Bearer {secret}`.
public struct InjectTemplate: Sendable, Hashable, Codable, CustomStringConvertible {
    public let headerName: String
    /// The value with `{secret}` where the secret goes.
    public let valueTemplate: String

    public static let marker = "{secret}"

    public init(_ text: String) throws {
        guard let colon = text.firstIndex(of: ":") else {
            throw InjectTemplateError(text: text, problem: "expected 'Header-Name: value with {secret}'")
        }
        let name = String(text[..<colon]).trimmingASCIIWhitespace()
        let value = String(text[text.index(after: colon)...]).trimmingASCIIWhitespace()
        guard !name.isEmpty, name.utf8.allSatisfy(InjectTemplate.isTokenByte) else {
            throw InjectTemplateError(text: text, problem: "'\(name)' is not a valid header name")
        }
        guard value.contains(InjectTemplate.marker) else {
            throw InjectTemplateError(text: text, problem: "the value must contain {secret}")
        }
        guard !value.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D || $0 == 0x00 }) else {
            throw InjectTemplateError(text: text, problem: "the value must be a single line")
        }
        let lowered = name.lowercased()
        guard !["host", "content-length", "transfer-encoding", "connection", "proxy-authorization"]
            .contains(lowered)
        else {
            throw InjectTemplateError(text: text, problem: "keyhole does not inject '\(name)'")
        }
        self.headerName = name
        self.valueTemplate = value
    }

    /// The header value with the secret in place of `{secret}`.
    public func render(_ secret: Secret) -> String {
        self.valueTemplate.replacingAll(InjectTemplate.marker, with: secret.value)
    }

    public var description: String { "\(self.headerName): \(self.valueTemplate)" }

    public init(from decoder: any Decoder) throws {
        try self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(self.description)
    }

    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}

public struct InjectTemplateError: Error, Sendable, CustomStringConvertible {
    public let text: String
    public let problem: String

    public var description: String { "invalid --inject '\(self.text)': \(self.problem)" }
}

extension String {
    /// Replaces every occurrence of `target` (non-empty) with `replacement`, without Foundation.
    public func replacingAll(_ target: String, with replacement: String) -> String {
        precondition(!target.isEmpty)
        let source = Array(self.utf8)
        let needle = Array(target.utf8)
        var result: [UInt8] = []
        result.reserveCapacity(source.count)
        var index = 0
        while index < source.count {
            if index + needle.count <= source.count && source[index] == needle[0]
                && Array(source[index..<(index + needle.count)]) == needle
            {
                result.append(contentsOf: replacement.utf8)
                index += needle.count
            } else {
                result.append(source[index])
                index += 1
            }
        }
        return String(decoding: result, as: UTF8.self)
    }
}
