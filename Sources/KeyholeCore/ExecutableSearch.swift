#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Finding a command on a `PATH` value the way a shell does, for `run` (the helpers), `wrap` (the real command
/// behind a wrapper) and `doctor` (installed runtimes).
public enum ExecutableSearch {
    /// The first executable regular file `name` in the directories of `path`, skipping empty entries (the current
    /// directory) and the directories `skipping` says to.
    public static func find(
        _ name: String,
        path: String,
        skipping: (String) -> Bool = { _ in false }
    ) -> String? {
        for directory in path.split(separator: ":", omittingEmptySubsequences: true).map(String.init) {
            if skipping(directory) { continue }
            let candidate = directory + "/" + name
            var info = stat()
            guard stat(candidate, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}
