import Foundation
import KeyholeCore
import Testing

@testable import KeyholeCommands

@Suite struct WrappedCommandsTests {
    @Test(arguments: ["gh", "curl", "aws", "kubectl", "docker-compose", "python3.12", "g++", "my_tool"])
    func plainNamesCanBeWrapped(name: String) {
        #expect(WrappedCommands.problem(with: name) == nil)
    }

    @Test(arguments: [
        "", "keyhole", "git-credential-keyhole", "docker-credential-keyhole", "/usr/bin/curl", "bin/gh", "-x",
        ".hidden", "a b", "gh;rm", "$(x)", "naïve",
    ])
    func otherNamesAreRefused(name: String) {
        #expect(WrappedCommands.problem(with: name) != nil)
    }

    @Test func theListIsSortedUniqueAndSkipsCommentsAndJunk() {
        let text = "# header\ncurl\ngh\n\n  curl  \nbad name\n../x\nkeyhole\naws"
        #expect(WrappedCommands.parseList(text) == ["aws", "curl", "gh"])
        let rendered = WrappedCommands.renderList(["gh", "curl", "gh"])
        #expect(rendered.hasPrefix("# "))
        #expect(WrappedCommands.parseList(rendered) == ["curl", "gh"])
        #expect(rendered.hasSuffix("curl\ngh\n"))
    }

    @Test func findsTheRealCommandPastTheWrapperDirectory() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("kh-wrap-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let wrappers = root + "/wrappers"
        let first = root + "/first"
        let second = root + "/second"
        for directory in [wrappers, first, second] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        try FileManager.default.createSymbolicLink(atPath: root + "/alias", withDestinationPath: wrappers)
        func make(_ path: String, mode: Int) {
            _ = FileManager.default.createFile(
                atPath: path, contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: mode]
            )
        }
        make(wrappers + "/tool", mode: 0o755)
        make(first + "/tool", mode: 0o644)  // not executable: skipped
        try FileManager.default.createDirectory(atPath: first + "/dir", withIntermediateDirectories: true)
        make(second + "/tool", mode: 0o755)
        let path = [wrappers, root + "/alias", "", first, second].joined(separator: ":")
        #expect(WrappedCommands.findExecutable("tool", path: path, skipping: wrappers) == second + "/tool")
        #expect(WrappedCommands.findExecutable("dir", path: path, skipping: wrappers) == nil)
        #expect(WrappedCommands.findExecutable("absent", path: path, skipping: wrappers) == nil)
    }

    @Test func wrapperDirectoryFirstOnPath() {
        let paths = Paths(configDirectory: "/c", dataDirectory: "/d", stateDirectory: "/s", runtimeDirectory: "/r")
        let wrapped = WrappedCommands(paths: paths)
        #expect(wrapped.wrapperDirectoryIsFirst(on: "/d/bin:/usr/bin"))
        #expect(!wrapped.wrapperDirectoryIsFirst(on: "/usr/bin:/d/bin"))
        #expect(!wrapped.wrapperDirectoryIsFirst(on: ""))
    }

    @Test func theWrapperQuotesItsValuesAndCarriesTheMarker() {
        let script = WrapperScript.render(name: "g++", directory: "/home/o'brien/bin", keyhole: "/opt/keyhole")
        #expect(script.hasPrefix("#!/bin/sh\n" + WrapperScript.marker))
        #expect(script.contains("name='g++'\n"))
        #expect(script.contains("here='/home/o'\\''brien/bin'\n"))
        #expect(script.contains("keyhole='/opt/keyhole'\n"))
        #expect(script.contains("exec \"$keyhole\" run -- \"$real\" \"$@\""))
    }
}
