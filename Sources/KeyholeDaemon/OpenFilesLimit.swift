import CKeyholeSystem
import Logging

/// Each proxied connection holds two descriptors (client and upstream legs), so the daemon starts by raising
/// its soft open-files limit to the hard limit: the kernel's ceiling, not a login shell's default of 1024,
/// bounds how many connections it can serve.
enum OpenFilesLimit {
    static func raise(logger: Logger) {
        var soft: UInt64 = 0
        var hard: UInt64 = 0
        guard ckh_raise_open_files_limit(&soft, &hard) == 0 else {
            logger.warning("cannot read the open-files limit")
            return
        }
        let level: Logger.Level = soft == hard ? .info : .warning
        logger.log(level: level, "open-files limit", metadata: ["limit.soft": "\(soft)", "limit.hard": "\(hard)"])
    }
}
