#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

import struct Foundation.Date

/// RFC 3339 timestamps: UTC with milliseconds for definitions and the audit log, local time with its offset for
/// the daemon log. Formatted from `gmtime_r`/`localtime_r` directly: Foundation's date formatters load ICU's
/// calendar and time-zone data, several MiB of a daemon that otherwise never needs them.
public enum Timestamp {
    public static func now() -> String {
        Self.string(from: Date())
    }

    /// `2026-11-23T14:03:07.123Z`
    public static func string(from date: Date) -> String {
        // Rounded to the nearest millisecond, as Foundation's ISO 8601 formatter does.
        let total = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let milliseconds = Int(((total % 1000) + 1000) % 1000)
        var clock = time_t((total - Int64(milliseconds)) / 1000)
        var parts = tm()
        gmtime_r(&clock, &parts)
        return Self.dateAndTime(parts) + "." + Self.pad(milliseconds, 3) + "Z"
    }

    /// `2026-11-23T15:03:07+01:00`, in the process's time zone.
    public static func local(from date: Date) -> String {
        var clock = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        localtime_r(&clock, &parts)
        let offset = Int(parts.tm_gmtoff) / 60
        let sign = offset < 0 ? "-" : "+"
        return Self.dateAndTime(parts) + sign + Self.pad(abs(offset) / 60, 2) + ":" + Self.pad(abs(offset) % 60, 2)
    }

    private static func dateAndTime(_ parts: tm) -> String {
        Self.pad(Int(parts.tm_year) + 1900, 4) + "-" + Self.pad(Int(parts.tm_mon) + 1, 2) + "-"
            + Self.pad(Int(parts.tm_mday), 2) + "T" + Self.pad(Int(parts.tm_hour), 2) + ":"
            + Self.pad(Int(parts.tm_min), 2) + ":" + Self.pad(Int(parts.tm_sec), 2)
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}
