import Foundation
import KeyholeControl
import KeyholeCore

/// Whether `keyhole run` reaches each installed runtime: what keyhole knows about its version, and, where a
/// one-line probe exists, a real request from it, made with exactly the environment `keyhole run` gives, through
/// the proxy to a reach server of the daemon (a `keyhole.invalid` name with a keyhole-CA certificate, so only a
/// runtime that uses the proxy and trusts the CA gets its `204`).
struct RuntimeChecks {
    let context: ClientContext

    func run(into report: inout DoctorReport) {
        let environment = self.context.environment
        let installed = RuntimeCatalog.all.compactMap { runtime in
            runtime.detect(environment: environment).map { (runtime, $0) }
        }
        guard !installed.isEmpty else {
            report.add("runtimes", "runtimes", .skip, "none of the runtimes keyhole knows is installed")
            return
        }

        // The session stays open while this connection does; the daemon ends it (and the server) when it closes.
        let connection = try? self.context.connect(autostart: false)
        defer { connection?.close() }
        var probe: (url: String, environment: [String: String], files: SessionFiles)?
        if let connection, let response = try? connection.send(ControlRequest(command: .reachTest)),
            let grant = response.session, let url = response.reachURL,
            let files = try? SessionFiles.create(
                for: grant, paths: self.context.paths, environment: environment, lifetime: .process
            )
        {
            probe = (url, SessionEnvironment.apply(grant, files: files, to: environment), files)
        }
        defer { probe?.files.remove() }

        for (runtime, detected) in installed {
            let version = detected.version.map { " \($0)" } ?? ""
            var status: DoctorReport.Status = detected.status == .doesNot ? .warn : .ok
            var detail = "\(detected.name)\(version): \(detected.status.rawValue)"
            if let probe, var argv = runtime.probe(url: probe.url) {
                argv[0] = detected.executable
                let answer = Runtime.output(of: argv, environment: probe.environment)?
                    .trimmingCharacters(in: .whitespacesAndNewlines)
                if answer?.split(separator: "\n").last == "204" {
                    detail += ", reached through keyhole (probed)"
                } else {
                    status = .warn
                    detail += ", the probe did not reach the test server through keyhole"
                }
            } else if probe == nil {
                detail += " (not probed: needs the daemon)"
            }
            report.add("runtime.\(detected.name)", "runtime", status, detail, fix: detected.note)
        }
    }
}
