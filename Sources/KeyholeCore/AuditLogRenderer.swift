#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Renders audit events as a table for `keyhole log`:
///
/// ```
/// TIME      SESSION   DECISION     STATUS  METHOD   HOST                PATH          CREDENTIAL  UP/DOWN         MS
/// 14:03:07  1a2b3c4d  swap         200     GET      api.github.com:443  /user         github      0B/1.2K         87
/// ```
///
/// Every column has a fixed width, so lines rendered later (`--follow`) stay aligned with the header. Text
/// that does not fit is cut with "…" (hosts keep their end, paths their beginning). Control characters
/// (C0, DEL, C1, U+2028/U+2029) and bidi controls in fields are shown as "?", so a crafted path can neither
/// send escape sequences to the terminal nor reorder what is shown. A line that stands for several
/// identical refusals ends with their number, e.g. `×1999`. Decisions are coloured only when `color` is set.
public struct AuditLogRenderer: Sendable {
    public let color: Bool
    /// Times in UTC instead of local time.
    public let utc: Bool
    public let hostWidth: Int
    public let pathWidth: Int

    private static let separator = "  "
    private static let timeWidth = 8
    private static let sessionWidth = 8
    private static let decisionWidth = 11
    private static let statusWidth = 6
    private static let methodWidth = 7
    private static let credentialWidth = 14
    private static let bytesWidth = 11
    private static let msWidth = 6

    /// `terminalWidth`, when known, lets HOST and PATH grow or shrink to fill it.
    public init(color: Bool = false, utc: Bool = false, terminalWidth: Int? = nil) {
        self.color = color
        self.utc = utc
        let fixed =
            Self.timeWidth + Self.sessionWidth + Self.decisionWidth + Self.statusWidth + Self.methodWidth
            + Self.credentialWidth + Self.bytesWidth + Self.msWidth + 9 * Self.separator.count
        if let terminalWidth {
            let flexible = max(40, terminalWidth - fixed)
            self.hostWidth = flexible * 45 / 100
            self.pathWidth = flexible - self.hostWidth
        } else {
            self.hostWidth = 28
            self.pathWidth = 32
        }
    }

    /// The column titles, aligned like the rows.
    public func header() -> String {
        let line = self.row(
            time: "TIME",
            session: "SESSION",
            decision: "DECISION",
            decisionColor: nil,
            status: "STATUS",
            method: "METHOD",
            host: "HOST",
            path: "PATH",
            credential: "CREDENTIAL",
            bytes: "UP/DOWN",
            ms: "MS"
        )
        return self.color ? "\u{1B}[1m" + line + "\u{1B}[0m" : line
    }

    /// One event as one line (without a newline).
    public func render(_ event: AuditEvent) -> String {
        let line = self.row(
            time: self.clockTime(event.time),
            session: event.session,
            decision: event.decision.rawValue,
            decisionColor: Self.colorCode(event.decision),
            status: event.status.map(String.init) ?? "-",
            method: event.method,
            host: event.host,
            path: event.path.isEmpty ? "-" : event.path,
            credential: event.credential ?? "-",
            bytes: Self.humanBytes(event.bytesUp) + "/" + Self.humanBytes(event.bytesDown),
            ms: String(event.ms)
        )
        guard let count = event.count, count > 1 else { return line }
        return line + Self.separator + "×\(count)"
    }

    /// `512B`, `1.5K`, `12K`, `3.4M`, `1.0G`: at most five characters up to 1023 PiB.
    public static func humanBytes(_ count: Int64) -> String {
        guard count >= 1024 else { return "\(max(count, 0))B" }
        let units = ["K", "M", "G", "T", "P", "E"]
        var value = Double(count) / 1024
        var unit = 0
        while value >= 1023.5 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if value < 9.95 {
            let tenths = Int((value * 10).rounded())
            return "\(tenths / 10).\(tenths % 10)\(units[unit])"
        }
        return "\(Int(value.rounded()))\(units[unit])"
    }

    // MARK: - Private

    private func row(
        time: String,
        session: String,
        decision: String,
        decisionColor: String?,
        status: String,
        method: String,
        host: String,
        path: String,
        credential: String,
        bytes: String,
        ms: String
    ) -> String {
        var decisionCell = Self.cell(decision, width: Self.decisionWidth)
        if self.color, let decisionColor {
            decisionCell = decisionColor + decisionCell + "\u{1B}[0m"
        }
        let cells = [
            Self.cell(time, width: Self.timeWidth),
            Self.cell(session, width: Self.sessionWidth),
            decisionCell,
            Self.cell(status, width: Self.statusWidth),
            Self.cell(method, width: Self.methodWidth),
            Self.cell(host, width: self.hostWidth, keepEnd: true),
            Self.cell(path, width: self.pathWidth),
            Self.cell(credential, width: Self.credentialWidth),
            Self.cell(bytes, width: Self.bytesWidth),
            Self.cell(ms, width: Self.msWidth, alignRight: true),
        ]
        return cells.joined(separator: Self.separator)
    }

    /// `text` made printable, cut to `width` with "…" and padded with spaces to exactly `width`.
    private static func cell(_ text: String, width: Int, keepEnd: Bool = false, alignRight: Bool = false) -> String {
        var characters = Array(Self.printable(text))
        if characters.count > width {
            characters =
                keepEnd
                ? ["…"] + characters.suffix(width - 1)
                : characters.prefix(width - 1) + ["…"]
        }
        let padding = String(repeating: " ", count: width - characters.count)
        return alignRight ? padding + String(characters) : String(characters) + padding
    }

    private static func printable(_ text: String) -> String {
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            result.append(scalar.isUnsafeToDisplay ? "?" : scalar)
        }
        return String(result)
    }

    private static func colorCode(_ decision: AuditDecision) -> String {
        switch decision {
        case .swap, .inject, .resign: return "\u{1B}[32m"
        case .tunnel, .forward: return "\u{1B}[2m"
        case .denyScope, .denyCleartext, .denyAuth, .denyHost, .failClosed: return "\u{1B}[31m"
        case .error: return "\u{1B}[33m"
        }
    }

    /// `hh:mm:ss` in local time (or UTC), or the raw text cut to fit when it is not a timestamp.
    private func clockTime(_ timestamp: String) -> String {
        guard let seconds = AuditEvent.secondsSinceEpoch(of: timestamp) else { return timestamp }
        var time = time_t(seconds)
        var parts = tm()
        if self.utc {
            gmtime_r(&time, &parts)
        } else {
            localtime_r(&time, &parts)
        }
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return two(parts.tm_hour) + ":" + two(parts.tm_min) + ":" + two(parts.tm_sec)
    }
}
