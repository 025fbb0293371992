import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Reads a secret for `add` and `rotate`: from stdin when it is not a terminal (one trailing newline dropped),
/// else from a no-echo prompt on the terminal, asked twice. Never from argv or the environment.
enum SecretInput {
    static func read(name: String) throws -> String {
        let secret: String
        if isatty(0) == 1 {
            let first = try self.prompt("Secret for \(name): ")
            let second = try self.prompt("Again: ")
            guard first == second else {
                throw CLIError("the two entries differ; nothing was stored", hint: "try again")
            }
            secret = first
        } else {
            let data = FileHandle.standardInput.readDataToEndOfFile()
            guard var text = String(data: data, encoding: .utf8) else {
                throw CLIError("the secret on stdin is not UTF-8 text", hint: "pass the secret as text")
            }
            if text.hasSuffix("\r\n") {
                text.removeLast(2)
            } else if text.hasSuffix("\n") {
                text.removeLast()
            }
            secret = text
        }
        guard !secret.isEmpty else {
            throw CLIError("empty secret refused", hint: "pipe the secret on stdin, e.g. `printf %s \"$TOKEN\" | keyhole add \(name) --host ...`")
        }
        return secret
    }

    private static func prompt(_ text: String) throws -> String {
        let tty = open("/dev/tty", O_RDWR | O_CLOEXEC)
        let fd = tty >= 0 ? tty : 0
        defer { if tty >= 0 { close(tty) } }
        _ = text.withCString { write(fd, $0, strlen($0)) }
        var original = termios()
        tcgetattr(fd, &original)
        var silent = original
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(fd, TCSAFLUSH, &silent)
        defer {
            tcsetattr(fd, TCSAFLUSH, &original)
            _ = write(fd, "\n", 1)
        }
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
