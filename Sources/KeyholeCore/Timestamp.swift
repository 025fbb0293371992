import Foundation

/// RFC 3339 UTC timestamps with milliseconds, as used in definitions and the audit log.
public enum Timestamp {
    public static func now() -> String {
        Self.string(from: Date())
    }

    public static func string(from date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }
}
