import Foundation
import KeyholeCore
import Testing

@Suite struct RuntimeCatalogTests {
    func runtime(_ name: String) throws -> Runtime {
        try #require(RuntimeCatalog.runtime(named: name))
    }

    @Test func listsEveryRuntimeOnceWithVariables() {
        let names = RuntimeCatalog.all.map(\.name)
        #expect(
            names == [
                "curl", "python3", "node", "go", "java", "git", "aws", "gh", "docker", "podman", "skopeo", "cargo",
                "pip", "uv", "ruby", "dotnet", "deno",
            ]
        )
        for runtime in RuntimeCatalog.all {
            #expect(!runtime.executables.isEmpty, "\(runtime.name)")
            #expect(!runtime.variables.isEmpty, "\(runtime.name)")
            let assessment = runtime.assessment(for: nil)
            if assessment.status == .worksWithNote || assessment.status == .doesNot {
                #expect(assessment.note?.isEmpty == false, "\(runtime.name) needs a note")
            }
        }
    }

    @Test(arguments: [
        ("node", "v20.20.2\n", "20.20.2"),
        ("java", "Picked up JAVA_TOOL_OPTIONS: -Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort=8080\n"
            + "openjdk version \"17.0.15\" 2025-04-15\nOpenJDK Runtime Environment", "17.0.15"),
        ("java", "java version \"1.8.0_392\"\nJava(TM) SE Runtime Environment", "1.8.0"),
        ("java", "openjdk version \"21\" 2023-09-19", "21"),
        ("go", "go version go1.19.8 linux/amd64\n", "1.19.8"),
        ("python3", "Python 3.11.7\n", "3.11.7"),
        ("ruby", "ruby 3.1.2p20 (2022-04-12 revision 4491bb740a) [x86_64-linux-gnu]\n", "3.1.2"),
        ("dotnet", "8.0.100\n", "8.0.100"),
        ("aws", "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.debian.12\n", "2.15.0"),
        ("docker", "Docker version 24.0.5, build ced0996\n", "24.0.5"),
        ("podman", "podman version 4.3.1\n", "4.3.1"),
        ("skopeo", "skopeo version 1.9.3\n", "1.9.3"),
        ("git", "git version 2.39.5\n", "2.39.5"),
        ("curl", "curl 7.88.1 (x86_64-pc-linux-gnu) libcurl/7.88.1 OpenSSL/3.0.19\n", "7.88.1"),
        ("pip", "pip 24.0 from /usr/lib/python3/dist-packages/pip (python 3.11)\n", "24.0"),
        ("uv", "uv 0.13.9 (x86_64-unknown-linux-gnu)\n", "0.13.9"),
        ("deno", "deno 2.9.8 (stable, release, x86_64-unknown-linux-gnu)\nv8 15.0.245.2-rusty\n", "2.9.8"),
        ("cargo", "cargo 1.75.0 (1d8b05cdd 2023-11-20)\n", "1.75.0"),
        ("gh", "gh version 2.40.1 (2023-12-13)\nhttps://github.com/cli/cli/releases/tag/v2.40.1\n", "2.40.1"),
    ])
    func parsesVersionOutput(name: String, output: String, expected: String) throws {
        #expect(try self.runtime(name).parseVersion(output)?.description == expected)
    }

    @Test func versionsCompareNumerically() throws {
        #expect(RuntimeVersion([24, 5]) > RuntimeVersion([24, 4, 9]))
        #expect(RuntimeVersion([24, 5, 0]) == RuntimeVersion([24, 5, 0]))
        #expect(!(RuntimeVersion([24, 5]) < RuntimeVersion([24, 5, 0])))
        #expect(RuntimeVersion([10]) > RuntimeVersion([9, 99]))
        #expect(RuntimeVersion(parsing: "1.8.0_392")?.javaFeature == 8)
        #expect(RuntimeVersion(parsing: "17.0.15")?.javaFeature == 17)
        #expect(RuntimeVersion(parsing: "no digits") == nil)
        #expect(RuntimeVersion(parsing: "v20.", after: "v")?.components == [20])
        #expect(RuntimeVersion(parsing: "version 1.2", after: "missing") == nil)
    }

    @Test func nodeNeedsKeyholesPreloadBefore24Point5() throws {
        let node = try self.runtime("node")
        func status(_ version: [Int]) -> Runtime.Status { node.assessment(for: RuntimeVersion(version)).status }
        #expect(status([18, 20, 4]) == .worksWithNote)
        #expect(status([20, 20, 2]) == .worksWithNote)
        #expect(status([22, 20, 0]) == .worksWithNote)
        #expect(status([22, 21, 0]) == .works)
        #expect(status([23, 11, 0]) == .worksWithNote)
        #expect(status([24, 4, 1]) == .worksWithNote)
        #expect(status([24, 5, 0]) == .works)
        #expect(status([26, 0, 0]) == .works)
        #expect(node.assessment(for: nil).status == .worksWithNote)
        #expect(node.assessment(for: RuntimeVersion([20])).note?.contains("NODE_OPTIONS") == true)
    }

    @Test func statusesOfTheOthers() throws {
        #expect(try self.runtime("docker").assessment(for: nil).status == .doesNot)
        #expect(try self.runtime("java").assessment(for: RuntimeVersion([17])).status == .worksWithNote)
        #expect(try self.runtime("java").assessment(for: nil).note?.contains("Authenticator") == true)
        for name in ["curl", "go", "git", "aws", "skopeo", "ruby", "deno", "uv", "pip"] {
            #expect(try self.runtime(name).assessment(for: nil).status == .works, "\(name)")
        }
    }

    @Test func probesRequestTheURL() throws {
        let url = "https://127.0.0.1:8443/probe"
        for runtime in RuntimeCatalog.all {
            guard let probe = runtime.probe(url: url) else { continue }
            #expect(runtime.executables.contains(probe[0]), "\(runtime.name) probes with its own executable")
            #expect(probe.last == url, "\(runtime.name) passes the URL as the last argument")
        }
        let curl = try self.runtime("curl").probe(url: url)
        #expect(curl == ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", url])
        let probed = RuntimeCatalog.all.filter { $0.probe(url: url) != nil }.map(\.name)
        #expect(probed == ["curl", "python3", "node", "ruby", "deno"])
    }

    @Test func detectFindsTheExecutableOnPathAndAsksItsVersion() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kh-runtime-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory + "/bin", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Not executable, a directory, then the real one.
        FileManager.default.createFile(atPath: directory + "/node", contents: Data("#!/bin/sh\n".utf8))
        try FileManager.default.createDirectory(atPath: directory + "/dir/node", withIntermediateDirectories: true)
        FileManager.default.createFile(
            atPath: directory + "/bin/node", contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o755]
        )
        let node = try self.runtime("node")
        let path = "\(directory):\(directory)/dir:\(directory)/bin"
        var asked: [[String]] = []
        let detected = try #require(
            node.detect(environment: ["PATH": path]) { argv, environment in
                asked.append(argv)
                #expect(environment["PATH"] == path)
                return "v20.11.1\n"
            }
        )
        #expect(asked == [[directory + "/bin/node", "--version"]])
        #expect(detected.executable == directory + "/bin/node")
        #expect(detected.version == RuntimeVersion([20, 11, 1]))
        #expect(detected.status == .worksWithNote)
        #expect(detected.note != nil)

        let failed = try #require(node.detect(environment: ["PATH": path]) { _, _ in nil })
        #expect(failed.version == nil)
        #expect(try self.runtime("deno").detect(environment: ["PATH": path]) { _, _ in "deno 2.0.0" } == nil)
        #expect(node.detect(environment: [:]) { _, _ in "v24.5.0" } == nil)
    }
}
