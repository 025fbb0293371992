@testable import KeyholeCore

/// What `keyhole log` shows: audit lines as ``AuditLogReader`` decodes them, rendered by ``AuditLogRenderer``
/// (colour off and on, a terminal width the input picks) and written back by ``AuditEvent/jsonLine()``. The first
/// byte picks raw lines (the rest of the input, split at LF) or an event built from the input, with fields full
/// of controls, bidi marks and separators.
///
/// Properties: whatever a log line holds, a rendered row and the header hold no C0/C1 control, DEL, U+2028/9 or
/// bidi control (with colour, only the renderer's own SGR sequences: `ESC [ digits m`); the JSON line holds none of those raw either, is a single line, and reads back as the
/// same event.
enum AuditFuzz {
    static let target = FuzzTarget(name: "audit", summary: "audit log lines: AuditLogReader.decode, AuditLogRenderer, AuditEvent.jsonLine") { raw in
        var input = FuzzBytes(raw)
        let mode = input.byte()
        let width = input.pick([nil, 0, 40, 80, 200, 1000])  // TerminalSize.columns(): a UInt16
        if mode & 1 == 0 {
            for line in input.rest().split(separator: 0x0A, omittingEmptySubsequences: false) {
                if let event = AuditLogReader.decode(line) { AuditFuzz.check(event, width: width) }
            }
        } else {
            AuditFuzz.check(AuditFuzz.event(&input), width: width)
        }
    }

    static let nasty = ["\u{1B}[2J", "\u{9B}31m", "\u{202E}", "\u{2066}", "\u{200F}", "\u{061C}", "\u{2028}", "\u{85}", "\u{7F}", "\t", "\r", "\0", "e\u{301}", "\u{301}", "😀", "\\", "\""]

    static func text(_ input: inout FuzzBytes) -> String {
        (0..<input.int(0...4)).map { _ in input.bool() ? input.pick(Self.nasty) : input.text(upTo: 12) }.joined()
    }

    static func event(_ input: inout FuzzBytes) -> AuditEvent {
        AuditEvent(
            time: input.bool() ? "2025-01-02T03:04:05.678Z" : Self.text(&input), session: Self.text(&input), method: Self.text(&input),
            host: Self.text(&input), path: Self.text(&input), credential: input.bool() ? Self.text(&input) : nil,
            decision: input.pick(AuditDecision.allCases), status: input.bool() ? Int(Int16(truncatingIfNeeded: input.int(0...255) << 8 | input.int(0...255))) : nil,
            bytesUp: Int64(Int8(truncatingIfNeeded: input.byte())) << input.int(0...56), bytesDown: Int64(input.byte()) << input.int(0...62),
            ms: input.int(0...255), reason: input.bool() ? Self.text(&input) : nil, count: input.bool() ? input.int(0...255) - 1 : nil
        )
    }

    static func check(_ event: AuditEvent, width: Int?) {
        for color in [false, true] {
            let renderer = AuditLogRenderer(color: color, utc: true, terminalWidth: width)
            let header = renderer.header()
            let row = renderer.render(event)
            for line in [header, row] {
                let shown = color ? Self.withoutSGR(line) : line
                if let bad = shown.unicodeScalars.first(where: \.fuzzIsTerminalUnsafe) {
                    FuzzCheck.fail("the rendered line holds U+\(String(bad.value, radix: 16)): \(fuzzShow(line))")
                }
            }
        }
        let json = event.jsonLine()
        let text = String(decoding: json, as: UTF8.self)
        FuzzCheck.require(text.utf8.elementsEqual(json), "the JSON line is not UTF-8")
        if let bad = text.unicodeScalars.first(where: \.fuzzIsTerminalUnsafe) {
            FuzzCheck.fail("the JSON line holds U+\(String(bad.value, radix: 16)) raw: \(fuzzShow(text))")
        }
        guard let again = AuditLogReader.decode(json) else { FuzzCheck.fail("the JSON line does not read back: \(fuzzShow(text))") }
        FuzzCheck.require(again == event, "the JSON line reads back as another event: \(fuzzShow(text))")
    }

    /// `line` without `ESC [ digits m` sequences.
    static func withoutSGR(_ line: String) -> String {
        var scalars = Array(line.unicodeScalars)
        var index = 0
        while index < scalars.count {
            if scalars[index] == "\u{1B}", index + 1 < scalars.count, scalars[index + 1] == "[" {
                var end = index + 2
                while end < scalars.count, ("0"..."9").contains(scalars[end]) { end += 1 }
                if end < scalars.count, scalars[end] == "m" {
                    scalars.removeSubrange(index...end)
                    continue
                }
            }
            index += 1
        }
        var result = String.UnicodeScalarView()
        result.append(contentsOf: scalars)
        return String(result)
    }
}
