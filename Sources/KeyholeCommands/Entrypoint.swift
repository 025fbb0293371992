import ArgumentParser
import Foundation
import KeyholeControl
import KeyholeCore

/// Runs the command line: `keyhole …`, with errors printed as "what happened" plus "what to do".
public enum KeyholeMain {
    /// The names the binary answers to besides `keyhole`: the helpers git and registry clients look up on PATH.
    static let helperNames = [
        "git-credential-keyhole": "git-credential",
        "docker-credential-keyhole": "docker-credential",
    ]

    /// Runs the command line of a process started as `argv0` (dispatching on its base name, like SwiftPM's
    /// multi-call binary).
    public static func main(argv0: String, arguments: [String]) async -> Int32 {
        let name = argv0.split(separator: "/").last.map(String.init) ?? argv0
        if let subcommand = Self.helperNames[name] {
            return await Self.main(arguments: [subcommand] + arguments)
        }
        return await Self.main(arguments: arguments)
    }

    public static func main(arguments: [String]) async -> Int32 {
        do {
            var command = try Keyhole.parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            return 0
        } catch let error as ExitStatus {
            return error.code
        } catch let error as ControlError {
            Terminal.error(error.description, hint: error.hint)
            return 1
        } catch let error as any HintedError {
            Terminal.error(error.description, hint: error.hint)
            return (error as? CLIError)?.exitCode ?? 1
        } catch {
            let code = Keyhole.exitCode(for: error).rawValue
            let message = Keyhole.fullMessage(for: error)
            if !message.isEmpty {
                // A clean exit (--help, --version, completion scripts, dump-help) is output, an error is not.
                let handle = code == 0 ? FileHandle.standardOutput : FileHandle.standardError
                handle.write(Data((message + "\n").utf8))
            }
            return code
        }
    }
}

/// Ends a command with a given exit status (e.g. `run` passing its child's status through).
struct ExitStatus: Error {
    let code: Int32
}
