#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One line of the audit log (`$XDG_STATE_HOME/keyhole/audit.jsonl`). It names the credential but never
/// holds a secret or a placeholder, and the path is stored without its query (which may carry either).
/// Identical refusals close together are written once with a `count` (see ``AuditThrottle``).
///
/// ```json
/// {"time":"2025-01-02T03:04:05.678Z","session":"1a2b3c4d","method":"GET","host":"api.github.com:443",
///  "path":"/user","credential":"github","decision":"swap","status":200,"bytes_up":0,"bytes_down":1234,
///  "ms":87,"reason":null}
/// ```
public struct AuditEvent: Codable, Sendable, Hashable {
    /// RFC 3339 UTC time with milliseconds, e.g. `2025-01-02T03:04:05.678Z`.
    public var time: String
    /// Short session id (8 hex characters).
    public var session: String
    public var method: String
    /// `host[:port]`.
    public var host: String
    /// The request path without query or fragment.
    public var path: String {
        didSet { self.path = Self.pathWithoutQuery(self.path) }
    }
    public var credential: String?
    public var decision: AuditDecision
    /// The upstream status (or the status keyhole answered with), if there was one.
    public var status: Int?
    public var bytesUp: Int64
    public var bytesDown: Int64
    /// Duration in milliseconds.
    public var ms: Int
    /// Why, for denials and errors.
    public var reason: String?
    /// How many identical events this line stands for, when more than one (nil: one).
    public var count: Int?

    enum CodingKeys: String, CodingKey {
        case time, session, method, host, path, credential, decision, status
        case bytesUp = "bytes_up"
        case bytesDown = "bytes_down"
        case ms, reason, count
    }

    public init(
        time: String = AuditEvent.now(),
        session: String,
        method: String,
        host: String,
        path: String,
        credential: String? = nil,
        decision: AuditDecision,
        status: Int? = nil,
        bytesUp: Int64 = 0,
        bytesDown: Int64 = 0,
        ms: Int = 0,
        reason: String? = nil,
        count: Int? = nil
    ) {
        self.time = time
        self.session = session
        self.method = method
        self.host = host
        self.path = Self.pathWithoutQuery(path)
        self.credential = credential
        self.decision = decision
        self.status = status
        self.bytesUp = bytesUp
        self.bytesDown = bytesDown
        self.ms = ms
        self.reason = reason
        self.count = count
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            time: try container.decode(String.self, forKey: .time),
            session: try container.decode(String.self, forKey: .session),
            method: try container.decode(String.self, forKey: .method),
            host: try container.decode(String.self, forKey: .host),
            path: try container.decode(String.self, forKey: .path),
            credential: try container.decodeIfPresent(String.self, forKey: .credential),
            decision: try container.decode(AuditDecision.self, forKey: .decision),
            status: try container.decodeIfPresent(Int.self, forKey: .status),
            bytesUp: try container.decodeIfPresent(Int64.self, forKey: .bytesUp) ?? 0,
            bytesDown: try container.decodeIfPresent(Int64.self, forKey: .bytesDown) ?? 0,
            ms: try container.decodeIfPresent(Int.self, forKey: .ms) ?? 0,
            reason: try container.decodeIfPresent(String.self, forKey: .reason),
            count: try container.decodeIfPresent(Int.self, forKey: .count)
        )
    }

    /// Every key is always written (absent values as `null`), so each line has the same shape; only `count`
    /// is left out when the line stands for one event.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.time, forKey: .time)
        try container.encode(self.session, forKey: .session)
        try container.encode(self.method, forKey: .method)
        try container.encode(self.host, forKey: .host)
        try container.encode(self.path, forKey: .path)
        try container.encode(self.credential, forKey: .credential)
        try container.encode(self.decision, forKey: .decision)
        try container.encode(self.status, forKey: .status)
        try container.encode(self.bytesUp, forKey: .bytesUp)
        try container.encode(self.bytesDown, forKey: .bytesDown)
        try container.encode(self.ms, forKey: .ms)
        try container.encode(self.reason, forKey: .reason)
        try container.encodeIfPresent(self.count, forKey: .count)
    }

    /// The event as one JSON object without a trailing newline, keys in a fixed order. Written by hand
    /// (no Foundation) because the proxy writes one per request. Strings are pure printable text: every
    /// character a terminal would act on (``Unicode/Scalar/isUnsafeToDisplay``) is written as `\uXXXX`,
    /// so `keyhole log --json` or `cat audit.jsonl` cannot be steered by a crafted path.
    public func jsonLine() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        func key(_ name: StaticString, first: Bool = false) {
            if !first { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "\""))
            name.withUTF8Buffer { out.append(contentsOf: $0) }
            out.append(contentsOf: "\":".utf8)
        }
        func string(_ value: String?) {
            guard let value else {
                out.append(contentsOf: "null".utf8)
                return
            }
            Self.appendJSONString(value, to: &out)
        }
        func number<N: BinaryInteger>(_ value: N?) {
            out.append(contentsOf: (value.map { String($0) } ?? "null").utf8)
        }
        out.append(UInt8(ascii: "{"))
        key("time", first: true)
        string(self.time)
        key("session")
        string(self.session)
        key("method")
        string(self.method)
        key("host")
        string(self.host)
        key("path")
        string(self.path)
        key("credential")
        string(self.credential)
        key("decision")
        string(self.decision.rawValue)
        key("status")
        number(self.status)
        key("bytes_up")
        number(self.bytesUp)
        key("bytes_down")
        number(self.bytesDown)
        key("ms")
        number(self.ms)
        key("reason")
        string(self.reason)
        if let count = self.count {
            key("count")
            number(count)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// The path without query or fragment, and without placeholders (`{placeholder}` where the proxy has not
    /// already put the credential's name).
    public static func pathWithoutQuery(_ path: String) -> String {
        guard let end = path.utf8.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) else {
            return Placeholder.redacting(path)
        }
        return Placeholder.redacting(String(path[..<end]))
    }

    /// The current time as an RFC 3339 UTC timestamp with milliseconds.
    public static func now() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Self.timestamp(secondsSinceEpoch: Int(now.tv_sec), milliseconds: Int(now.tv_nsec / 1_000_000))
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` for the given instant.
    public static func timestamp(secondsSinceEpoch: Int, milliseconds: Int) -> String {
        var seconds = time_t(secondsSinceEpoch)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return pad(parts.tm_year + 1900, 4) + "-" + pad(parts.tm_mon + 1, 2) + "-" + pad(parts.tm_mday, 2) + "T"
            + pad(parts.tm_hour, 2) + ":" + pad(parts.tm_min, 2) + ":" + pad(parts.tm_sec, 2) + "."
            + pad(Int32(milliseconds), 3) + "Z"
    }

    /// Seconds since the epoch of an RFC 3339 timestamp (`Z` or `±HH:MM`, fraction optional), or nil.
    public static func secondsSinceEpoch(of timestamp: String) -> Int? {
        let bytes = Array(timestamp.utf8)
        func number(_ range: Range<Int>) -> Int32? {
            guard range.upperBound <= bytes.count else { return nil }
            var value: Int32 = 0
            for byte in bytes[range] {
                guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int32(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard bytes.count >= 20, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t") || bytes[10] == UInt8(ascii: " "),
            bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
            let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19)
        else { return nil }
        var index = 19
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                index += 1
            }
        }
        var offset = 0
        guard index < bytes.count else { return nil }
        switch bytes[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            guard index + 1 == bytes.count else { return nil }
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard index + 6 == bytes.count, bytes[index + 3] == UInt8(ascii: ":"),
                let hours = number((index + 1)..<(index + 3)), let minutes = number((index + 4)..<(index + 6))
            else { return nil }
            offset = (Int(hours) * 60 + Int(minutes)) * 60 * (bytes[index] == UInt8(ascii: "-") ? -1 : 1)
        default:
            return nil
        }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        return Int(timegm(&parts)) - offset
    }

    private static func appendJSONString(_ value: String, to out: inout [UInt8]) {
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out.append(contentsOf: "\\\"".utf8)
            case "\\": out.append(contentsOf: "\\\\".utf8)
            case "\n": out.append(contentsOf: "\\n".utf8)
            case "\r": out.append(contentsOf: "\\r".utf8)
            case "\t": out.append(contentsOf: "\\t".utf8)
            case _ where scalar.isUnsafeToDisplay:
                out.append(contentsOf: "\\u".utf8)
                for shift in stride(from: 12, through: 0, by: -4) {
                    out.append(hex[Int((scalar.value >> UInt32(shift)) & 0xF)])
                }
            default:
                UTF8.encode(scalar) { out.append($0) }
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
