import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Reads a secret for `add` and `rotate`, or the vault passphrase for `unlock`: from stdin when it is not a
/// terminal (one trailing newline dropped), else from a no-echo prompt on the terminal (asked twice where a typo
/// would be stored). Never from argv or the environment.
enum SecretInput {
    static func read(name: String) throws -> String {
        try self.read(
            prompt: "Secret for \(name): ", confirm: true, what: "secret",
            emptyHint: "pipe the secret on stdin, e.g. `printf %s \"$TOKEN\" | keyhole add \(name) --host ...`"
        )
    }

    /// - Parameters:
    ///   - confirm: on a terminal, ask twice and refuse two different entries.
    ///   - what: "secret" or "passphrase", for the messages.
    ///   - emptyHint: what to do when the value is empty.
    static func read(prompt: String, confirm: Bool, what: String, emptyHint: String) throws -> String {
        let value: String
        if isatty(0) == 1 {
            let first = try self.prompt(prompt)
            if confirm, try self.prompt("Again: ") != first {
                throw CLIError("the two entries differ; nothing was changed", hint: "try again")
            }
            value = first
        } else {
            let data = FileHandle.standardInput.readDataToEndOfFile()
            guard var text = String(data: data, encoding: .utf8) else {
                throw CLIError("the \(what) on stdin is not UTF-8 text", hint: "pass the \(what) as text")
            }
            if text.hasSuffix("\r\n") {
                text.removeLast(2)
            } else if text.hasSuffix("\n") {
                text.removeLast()
            }
            value = text
        }
        guard !value.isEmpty else {
            throw CLIError("empty \(what) refused", hint: emptyHint)
        }
        return value
    }

    private static func prompt(_ text: String) throws -> String {
        let tty = open("/dev/tty", O_RDWR | O_CLOEXEC)
        let fd = tty >= 0 ? tty : 0
        defer { if tty >= 0 { close(tty) } }
        var original = termios()
        tcgetattr(fd, &original)
        var silent = original
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(fd, TCSAFLUSH, &silent)
        defer {
            tcsetattr(fd, TCSAFLUSH, &original)
            _ = write(fd, "\n", 1)
        }
        // Echo goes off before the prompt shows: what is typed once it is there is neither echoed nor flushed.
        _ = text.withCString { write(fd, $0, strlen($0)) }
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while Glibc.read(fd, &byte, 1) == 1 {
            if byte == 0x0A || byte == 0x0D { break }
            bytes.append(byte)
        }
        let value = String(decoding: bytes, as: UTF8.self)
        for index in bytes.indices { bytes[index] = 0 }
        return value
    }
}
