import Foundation
import KeyholeCore

#if canImport(Glibc)
import Glibc
#endif

/// Starts `keyhole daemon` in the background, in its own session, detached from the terminal.
enum DaemonLauncher {
    struct Launched {
        let pid: pid_t

        /// The daemon's exit status if it has already exited (reaped), else nil.
        func exitStatus() -> Int32? {
            var status: Int32 = 0
            let result = waitpid(self.pid, &status, WNOHANG)
            guard result == self.pid else { return nil }
            return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        }
    }

    static func launch(paths: Paths, environment: [String: String]) throws -> Launched {
        let executable = SelfExecutable.path
        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        posix_spawn_file_actions_addopen(&fileActions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&fileActions, 1, "/dev/null", O_WRONLY, 0)
        // Start-up errors (before the daemon's own log is open) land at the end of its log file.
        if (try? FileSystem.makePrivateDirectory(paths.stateDirectory)) != nil {
            posix_spawn_file_actions_addopen(&fileActions, 2, paths.daemonLogFile, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        } else {
            posix_spawn_file_actions_addopen(&fileActions, 2, "/dev/null", O_WRONLY, 0)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A new session: no controlling terminal, and the user's Ctrl-C does not reach the daemon.
        posix_spawnattr_setflags(&attributes, Int16(0x80 /* POSIX_SPAWN_SETSID (glibc) */ | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        let arguments = [executable, "daemon", "--background"]
        let env = environment.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let result = CStringArray.with(arguments) { argv in
            CStringArray.with(env) { envp in
                posix_spawn(&pid, executable, &fileActions, &attributes, argv, envp)
            }
        }
        guard result == 0 else {
            throw CLIError("could not start the keyhole daemon: \(String(cString: strerror(result)))", hint: nil)
        }
        return Launched(pid: pid)
    }
}

/// The running binary's own path, for starting the daemon and for generated helper configs.
enum SelfExecutable {
    static var path: String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if count > 0 {
            return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return CommandLine.arguments[0]
    }
}

/// NUL-terminated C string arrays for exec/spawn.
enum CStringArray {
    static func with<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer {
            for pointer in pointers { free(pointer) }
        }
        return body(pointers)
    }
}
