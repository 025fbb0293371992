#if canImport(Glibc)
import Glibc
#endif

/// Who a vault file is: device, inode, size and change times. An atomic replace (new inode), an edit in place
/// (new mtime/ctime/size) or a removal all change it.
struct VaultFileIdentity: Equatable, Sendable {
    let device: UInt64
    let inode: UInt64
    let size: Int64
    let modified: timespec
    let changed: timespec

    /// nil when the file cannot be stat'ed (missing, unreadable): callers then read it the slow way and report.
    init?(path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        self.device = UInt64(info.st_dev)
        self.inode = UInt64(info.st_ino)
        self.size = Int64(info.st_size)
        self.modified = info.st_mtim
        self.changed = info.st_ctim
    }

    static func == (lhs: VaultFileIdentity, rhs: VaultFileIdentity) -> Bool {
        lhs.device == rhs.device && lhs.inode == rhs.inode && lhs.size == rhs.size
            && lhs.modified.tv_sec == rhs.modified.tv_sec && lhs.modified.tv_nsec == rhs.modified.tv_nsec
            && lhs.changed.tv_sec == rhs.changed.tv_sec && lhs.changed.tv_nsec == rhs.changed.tv_nsec
    }
}

extension timespec: @retroactive @unchecked Sendable {}
