import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The child of `keyhole run`: same terminal, stdin, stdout and stderr, same process group (so job control
/// and Ctrl-C behave as without keyhole). Signals sent to `keyhole run` by another process (kill) are passed
/// on; signals the terminal sends reach the child directly, so they are not sent twice.
enum ChildProcess {
    nonisolated(unsafe) static var childPID: pid_t = 0
    static let forwarded: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGWINCH, SIGQUIT, SIGUSR1, SIGUSR2]

    /// Runs `argv` (searched on PATH) and returns a shell-style exit status (128+N for signal N).
    static func run(_ argv: [String], environment: [String: String]) throws -> Int32 {
        self.installForwarding()
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in self.forwarded { sigaddset(&defaults, signal) }
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let env = environment.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let spawnResult = CStringArray.with(argv) { cArgv in
            CStringArray.with(env) { cEnv in
                // posix_spawnp searches PATH of *our* environment; the child's PATH is the same one.
                posix_spawnp(&pid, argv[0], nil, &attributes, cArgv, cEnv)
            }
        }
        guard spawnResult == 0 else {
            if spawnResult == ENOENT {
                throw CLIError("command not found: \(argv[0])", hint: "check the name and your PATH", exitCode: 127)
            }
            throw CLIError("cannot run \(argv[0]): \(String(cString: strerror(spawnResult)))", hint: nil, exitCode: 126)
        }
        self.childPID = pid
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return 1 }
        }
        self.childPID = 0
        if (status & 0x7f) == 0 {
            return (status >> 8) & 0xff
        }
        return 128 + (status & 0x7f)
    }

    private static func installForwarding() {
        for signal in self.forwarded {
            var action = sigaction()
            action.sa_flags = SA_SIGINFO | SA_RESTART
            action.__sigaction_handler.sa_sigaction = { signal, info, _ in
                let pid = ChildProcess.childPID
                guard pid > 0 else { return }
                // si_code > 0 means the kernel sent it (e.g. the terminal's Ctrl-C or a resize), and the
                // child, in the same foreground process group, got it too.
                if let info, info.pointee.si_code > 0 { return }
                kill(pid, signal)
            }
            sigemptyset(&action.sa_mask)
            sigaction(signal, &action, nil)
        }
    }
}
