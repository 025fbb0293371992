import Foundation
import KeyholeCore
import Testing

@testable import KeyholeStore

/// The availability probe and the fall-back to the file vault, without any keyring.
@Suite("Secret Service probe")
struct SecretServiceProbeTests {
    /// Generous bound for "quickly": the probe's own deadline is 0.5 s.
    private static let quickly = Duration.seconds(2)

    private func timedProbe(_ environment: [String: String]) -> (available: Bool, elapsed: Duration) {
        let clock = ContinuousClock()
        var available = true
        let elapsed = clock.measure { available = StoreFactory.secretServiceAvailable(environment: environment) }
        return (available, elapsed)
    }

    @Test func noBusAddressIsUnavailableAtOnce() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        for environment in [[:], ["XDG_RUNTIME_DIR": directory.path], ["DBUS_SESSION_BUS_ADDRESS": ""]] {
            let (available, elapsed) = self.timedProbe(environment)
            #expect(!available)
            #expect(elapsed < Self.quickly)
        }
    }

    @Test func addressPointingNowhereIsUnavailableQuickly() {
        let (available, elapsed) = self.timedProbe(["DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/keyhole/bus"])
        #expect(!available)
        #expect(elapsed < Self.quickly)
    }

    @Test func silentSocketDoesNotHangTheProbe() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/silent.sock"
        // Listens, never accepts, never answers: a connect succeeds and then nothing happens.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in path.utf8.enumerated() { buffer[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        try #require(bound == 0)
        try #require(listen(fd, 8) == 0)

        let (available, elapsed) = self.timedProbe(["DBUS_SESSION_BUS_ADDRESS": "unix:path=\(path)"])
        #expect(!available)
        #expect(elapsed < Self.quickly)
        #expect(elapsed >= .milliseconds(400))  // it did wait for an answer, up to its deadline
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/dbus-daemon"), "needs dbus-daemon"))
    func busWithoutProviderIsUnavailable() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let bus = try PrivateBus(directory: directory)
        defer { bus.stop() }
        let environment = ["DBUS_SESSION_BUS_ADDRESS": bus.address]

        let (available, elapsed) = self.timedProbe(environment)
        #expect(!available)
        #expect(elapsed < Self.quickly)

        let error = #expect(throws: StoreError.noProvider) {
            try StoreFactory.open(
                kind: .secretService,
                paths: directory.paths,
                environment: environment,
                logger: quietLogger,
                warn: { _ in }
            )
        }
        #expect(error?.message.contains("org.freedesktop.secrets") == true)
        #expect(error?.hint?.contains("--store file") == true)

        let store = try StoreFactory.open(
            kind: .auto,
            paths: directory.paths,
            environment: environment.merging(["KEYHOLE_PASSPHRASE": "pw"]) { $1 },
            logger: quietLogger,
            warn: { _ in }
        )
        #expect(store.kind == .file)
    }

    @Test func missingLibsecretFallsBackToTheVault() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var environment = ProcessInfo.processInfo.environment
        environment["KEYHOLE_LIBSECRET"] = "libsecret-keyhole-test-missing.so.0"
        environment["KEYHOLE_PASSPHRASE"] = "pw"

        #expect(!StoreFactory.secretServiceAvailable(environment: environment))
        let error = #expect(throws: StoreError.libsecretMissing) {
            try StoreFactory.open(
                kind: .secretService,
                paths: directory.paths,
                environment: environment,
                logger: quietLogger,
                warn: { _ in }
            )
        }
        #expect(error?.message.contains("libsecret-keyhole-test-missing.so.0") == true)
        #expect(error?.hint?.contains("--store file") == true)

        let store = try StoreFactory.open(
            kind: .auto,
            paths: directory.paths,
            environment: environment,
            logger: quietLogger,
            warn: { _ in }
        )
        #expect(store.kind == .file)
        try store.store(Secret("value"), for: "name")
        #expect(try store.secret(for: "name") == Secret("value"))
    }

    @Test func busAddressFromTheRuntimeDirectory() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        #expect(SecretServiceProbe.busAddress(environment: ["XDG_RUNTIME_DIR": directory.path]) == nil)
        let explicit = SecretServiceProbe.busAddress(environment: ["DBUS_SESSION_BUS_ADDRESS": "unix:path=/x"])
        #expect(explicit == "unix:path=/x")

        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = directory.path + "/bus"
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in path.utf8.enumerated() { buffer[index] = byte }
        }
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        #expect(SecretServiceProbe.busAddress(environment: ["XDG_RUNTIME_DIR": directory.path]) == "unix:path=\(path)")
    }
}

/// A private dbus-daemon with no activatable services at all.
private struct PrivateBus {
    let process: Process
    let address: String

    init(directory: TemporaryDirectory) throws {
        let config = directory.path + "/bus.conf"
        let xml = """
            <!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
             "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
            <busconfig>
              <type>session</type>
              <listen>unix:dir=\(directory.path)</listen>
              <auth>EXTERNAL</auth>
              <policy context="default">
                <allow send_destination="*" eavesdrop="true"/>
                <allow eavesdrop="true"/>
                <allow own="*"/>
              </policy>
            </busconfig>
            """
        try Files.write(config, Array(xml.utf8))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/dbus-daemon")
        process.arguments = ["--config-file=\(config)", "--nofork", "--nopidfile", "--print-address=1"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        self.process = process
        self.address = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if self.address.isEmpty {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw POSIXError(.EIO)
        }
    }

    func stop() {
        // SIGKILL: the test process may hand its children a blocked SIGTERM.
        kill(self.process.processIdentifier, SIGKILL)
        self.process.waitUntilExit()
    }
}
