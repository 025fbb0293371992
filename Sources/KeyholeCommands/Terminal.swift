import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Output conventions: errors on stderr as "keyhole: error: …" with a hint line; colour only on a TTY and
/// never with NO_COLOR.
enum Terminal {
    static func error(_ message: String, hint: String?) {
        var text = "keyhole: error: \(message)\n"
        if let hint { text += "  hint: \(hint)\n" }
        FileHandle.standardError.write(Data(text.utf8))
    }

    static func warning(_ message: String) {
        FileHandle.standardError.write(Data("keyhole: warning: \(message)\n".utf8))
    }

    /// A line for people on stderr ("keyhole: …"), where a helper's stdout belongs to its protocol.
    static func notice(_ message: String) {
        FileHandle.standardError.write(Data("keyhole: \(message)\n".utf8))
    }

    static func print(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static var colorOnStdout: Bool {
        isatty(1) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"].map(\.isEmpty) ?? true
            && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }

    /// Encodes a value as JSON on stdout (sorted keys; pretty for people, one line for protocols).
    static func printJSON<T: Encodable>(_ value: T, pretty: Bool = true) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        FileHandle.standardOutput.write(data)
        FileHandle.standardOutput.write(Data("\n".utf8))
    }
}
