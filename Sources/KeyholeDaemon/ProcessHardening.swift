import CKeyholeSystem

#if canImport(Glibc)
import Glibc
#endif

/// Keeps the daemon's memory, which holds secrets while requests are in flight, away from other processes of
/// the same user: no ptrace attach or /proc/PID/mem read (not dumpable), and no core files.
enum ProcessHardening {
    static func apply() {
        _ = ckh_harden_process()
        umask(0o077)
    }
}
