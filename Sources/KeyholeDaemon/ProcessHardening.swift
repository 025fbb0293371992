#if canImport(Glibc)
import Glibc
#endif

/// Keeps the daemon's memory, which holds secrets while requests are in flight, away from other processes of
/// the same user: no ptrace attach or /proc/PID/mem read (not dumpable), and no core files.
enum ProcessHardening {
    static func apply() {
        #if os(Linux)
        _ = prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        var limit = rlimit(rlim_cur: 0, rlim_max: 0)
        _ = setrlimit(RLIMIT_CORE, &limit)
        #endif
        umask(0o077)
    }
}
