#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Reads the audit log: all of it at once, or following it as it grows (`keyhole log --follow`).
/// Lines that are not audit events (truncated writes, garbage, events of a newer format) are skipped.
public enum AuditLogReader {
    /// What ``readAll(path:)`` found.
    public struct Contents: Sendable, Equatable {
        public var events: [AuditEvent]
        /// Lines that could not be read as an event.
        public var malformedLines: Int
        /// Where the last complete line ends: pass it as `startOffset` to ``follow(from:startOffset:skipExisting:
        /// pollInterval:handler:)`` to continue right after what was read, without losing or repeating an event.
        public var endOffset: Int64

        public init(events: [AuditEvent], malformedLines: Int, endOffset: Int64 = 0) {
            self.events = events
            self.malformedLines = malformedLines
            self.endOffset = endOffset
        }
    }

    /// Every event in the file, oldest first. A missing file is an empty log.
    public static func readAll(path: String) throws(AuditLogError) -> Contents {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return Contents(events: [], malformedLines: 0) }
            throw AuditLogError(code: .cannotOpen, path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var splitter = LineSplitter()
        var contents = Contents(events: [], malformedLines: 0)
        let decoder = JSONDecoder()
        var total: Int64 = 0
        while true {
            let chunk = try Self.read(fd, path: path)
            if chunk.isEmpty { break }
            total += Int64(chunk.count)
            splitter.append(chunk) { line in
                if let event = Self.decode(line, decoder: decoder) {
                    contents.events.append(event)
                } else if !Self.isBlank(line) {
                    contents.malformedLines += 1
                }
            }
        }
        if splitter.hasPartialLine {
            contents.malformedLines += 1
        }
        contents.endOffset = total - Int64(splitter.pendingCount)
        return contents
    }

    /// Calls `handler` with every event of the file and then with each event appended later, polling every
    /// `pollInterval`, until the task is cancelled. Waits for a file that does not exist yet, starts over
    /// when the file is truncated, and follows it to a new file when it is replaced (rotated).
    /// With `startOffset` (e.g. ``Contents/endOffset`` of an earlier ``readAll(path:)``), following starts
    /// there (from the beginning if the file is now shorter); with `skipExisting`, at the current end.
    public static func follow(
        from path: String,
        startOffset: Int64? = nil,
        skipExisting: Bool = false,
        pollInterval: Duration = .milliseconds(200),
        handler: (AuditEvent) -> Void
    ) async throws(AuditLogError) {
        var fd: Int32 = -1
        var identity = (device: UInt64(0), inode: UInt64(0))
        var offset: Int64 = 0
        var splitter = LineSplitter()
        var firstAttempt = true
        let decoder = JSONDecoder()
        defer {
            if fd >= 0 { close(fd) }
        }
        while !Task.isCancelled {
            if fd < 0 {
                fd = open(path, O_RDONLY | O_CLOEXEC)
                if fd < 0 && errno != ENOENT {
                    throw AuditLogError(code: .cannotOpen, path: path, reason: String(cString: strerror(errno)))
                }
                if fd >= 0 {
                    var info = stat()
                    fstat(fd, &info)
                    identity = (UInt64(info.st_dev), UInt64(info.st_ino))
                    offset = 0
                    splitter = LineSplitter()
                    if firstAttempt, let startOffset, startOffset <= Int64(info.st_size) {
                        offset = startOffset
                        lseek(fd, off_t(offset), SEEK_SET)
                    } else if firstAttempt && skipExisting {
                        offset = Int64(info.st_size)
                        lseek(fd, off_t(offset), SEEK_SET)
                    }
                }
            }
            firstAttempt = false
            var replaced = false
            if fd >= 0 {
                var info = stat()
                if fstat(fd, &info) == 0, Int64(info.st_size) < offset {
                    // Truncated: start over from the beginning.
                    lseek(fd, 0, SEEK_SET)
                    offset = 0
                    splitter = LineSplitter()
                }
                while true {
                    let chunk = try Self.read(fd, path: path)
                    if chunk.isEmpty { break }
                    offset += Int64(chunk.count)
                    splitter.append(chunk) { line in
                        if let event = Self.decode(line, decoder: decoder) {
                            handler(event)
                        }
                    }
                }
                var current = stat()
                if stat(path, &current) != 0
                    || (UInt64(current.st_dev), UInt64(current.st_ino)) != identity
                {
                    // Removed or replaced: what was in the old file has been read; switch to the new one.
                    close(fd)
                    fd = -1
                    replaced = true
                }
            }
            if replaced { continue }
            do {
                try await Task.sleep(for: pollInterval)
            } catch {
                return
            }
        }
    }

    /// One line as an event, or nil when it is not one.
    public static func decode(_ line: some Collection<UInt8>) -> AuditEvent? {
        Self.decode(line, decoder: JSONDecoder())
    }

    private static func decode(_ line: some Collection<UInt8>, decoder: JSONDecoder) -> AuditEvent? {
        guard !Self.isBlank(line) else { return nil }
        return try? decoder.decode(AuditEvent.self, from: Data(line))
    }

    private static func isBlank(_ line: some Collection<UInt8>) -> Bool {
        line.allSatisfy { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\r") }
    }

    private static func read(_ fd: Int32, path: String) throws(AuditLogError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count >= 0 {
                buffer.removeSubrange(count...)
                return buffer
            }
            if errno != EINTR {
                throw AuditLogError(code: .cannotRead, path: path, reason: String(cString: strerror(errno)))
            }
        }
    }
}

/// Splits a byte stream into lines; keeps an unfinished last line until its newline arrives. A line longer
/// than 1 MiB is dropped rather than held in memory.
private struct LineSplitter {
    private var pending: [UInt8] = []
    private var discarding = false
    private static let maximumLine = 1 << 20

    var hasPartialLine: Bool { !self.pending.isEmpty }
    var pendingCount: Int { self.pending.count }

    mutating func append(_ chunk: [UInt8], line: ([UInt8]) -> Void) {
        var start = 0
        while let newline = chunk[start...].firstIndex(of: UInt8(ascii: "\n")) {
            if self.discarding {
                self.discarding = false
            } else if self.pending.isEmpty {
                line(Array(chunk[start..<newline]))
            } else {
                self.pending.append(contentsOf: chunk[start..<newline])
                line(self.pending)
                self.pending.removeAll(keepingCapacity: true)
            }
            start = newline + 1
        }
        guard !self.discarding else { return }
        self.pending.append(contentsOf: chunk[start...])
        if self.pending.count > Self.maximumLine {
            self.pending = []
            self.discarding = true
        }
    }
}
