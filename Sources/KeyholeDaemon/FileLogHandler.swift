import Foundation
import KeyholeCore
import Logging
import NIOConcurrencyHelpers

/// A swift-log handler that appends lines to the daemon log (0600). Callers never pass secret values or
/// placeholders in messages or metadata; the log is safe to share in a bug report.
struct FileLogHandler: LogHandler {
    final class Sink: Sendable {
        private let handle: NIOLockedValueBox<FileHandle?>

        init(path: String) {
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            self.handle = NIOLockedValueBox(fd >= 0 ? FileHandle(fileDescriptor: fd, closeOnDealloc: true) : nil)
        }

        func write(_ line: String) {
            self.handle.withLockedValue { handle in
                handle?.write(Data(line.utf8))
            }
        }
    }

    let label: String
    let sink: Sink
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    /// Also copy lines to stderr (when the daemon runs in the foreground on a terminal).
    let echo: Bool

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = self.metadata
        if let extra = event.metadata {
            merged.merge(extra) { _, new in new }
        }
        let time = Timestamp.local(from: Date())
        let meta = merged.isEmpty ? "" : " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let line = "\(time) \(event.level) \(self.label): \(event.message)\(meta)\n"
        self.sink.write(line)
        if self.echo {
            FileHandle.standardError.write(Data(line.utf8))
        }
    }
}
