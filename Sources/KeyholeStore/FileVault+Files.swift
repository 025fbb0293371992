import KeyholeCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The vault's file policy on top of ``FileSystem``: a 0700 directory only the user owns, 0600 files read
/// without following links, and every file error reported as a ``StoreError``.
extension FileVault {
    /// Refuse to read anything bigger: a vault or key file is a few kilobytes.
    static let maximumFileSize = 64 << 20

    /// Runs `body` holding the lock of the vault's directory, which is created (0700) or checked first: it
    /// must be a directory owned by the user; group or other permissions are removed.
    func withLockedDirectory<Result>(_ body: () throws -> Result) throws -> Result {
        try StoreError.mappingFileErrors {
            try FileSystem.makePrivateDirectory(self.directory)
            let owner = try FileSystem.ownerAndMode(self.directory).owner
            guard owner == getuid() else {
                throw StoreError.io.with(
                    message: "\(self.directory) belongs to another user (uid \(owner))",
                    hint: "keyhole keeps its data in a directory only you own; fix the owner or set XDG_DATA_HOME"
                )
            }
            return try FileSystem.withDirectoryLock(self.directory, body)
        }
    }

    /// The contents of the private file `path`, or nil when it does not exist (see
    /// ``FileSystem/privateContents(of:maximumSize:)``).
    static func readPrivateFile(_ path: String) throws(StoreError) -> [UInt8]? {
        do {
            return try FileSystem.privateContents(of: path, maximumSize: Self.maximumFileSize)
        } catch {
            throw StoreError(error)
        }
    }

    /// Overwrites `bytes` with zeros (for key material and plaintext read from files).
    static func wipe(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { buffer in
            if let base = buffer.baseAddress {
                explicit_bzero(base, buffer.count)
            }
        }
    }
}
