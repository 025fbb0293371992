import Foundation
import Testing

@testable import KeyholeCommands

/// The shell integration `shell-init` prints is the files in shell/, embedded by scripts/embed-shell.sh.
@Suite struct ShellScriptsTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static func file(_ shell: String) throws -> String {
        try String(contentsOf: Self.repository.appendingPathComponent("shell/keyhole.\(shell)"), encoding: .utf8)
    }

    @Test(arguments: ShellInitCommand.Shell.allCases)
    func embeddedTextIsTheFile(shell: ShellInitCommand.Shell) throws {
        let embedded: String
        switch shell {
        case .bash: embedded = ShellScripts.bash
        case .zsh: embedded = ShellScripts.zsh
        case .fish: embedded = ShellScripts.fish
        }
        // The embedded literal has no final newline; `shell-init` prints one.
        #expect(embedded + "\n" == (try Self.file(shell.rawValue)), "run scripts/embed-shell.sh")
    }

    @Test func printedTextIsTheBinaryLineThenTheFile() throws {
        let bash = ShellInitCommand.text(for: .bash, keyhole: "/opt/it's/keyhole")
        #expect(bash == "__keyhole_bin='/opt/it'\\''s/keyhole'\n" + ShellScripts.bash)
        let zsh = ShellInitCommand.text(for: .zsh, keyhole: "/usr/bin/keyhole")
        #expect(zsh == "typeset -g __keyhole_bin='/usr/bin/keyhole'\n" + ShellScripts.zsh)
        let fish = ShellInitCommand.text(for: .fish, keyhole: "/usr/bin/keyhole")
        #expect(fish == "set -g __keyhole_bin '/usr/bin/keyhole'\n" + ShellScripts.fish)
    }
}
