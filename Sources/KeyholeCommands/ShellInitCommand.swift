import ArgumentParser

struct ShellInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shell-init",
        abstract: "Print the shell integration: wrapper directory first on PATH, wrapped commands, completions.",
        discussion: """
            The code puts keyhole's wrapper directory first on PATH (once), defines a function for every command \
            `keyhole wrap` recorded, so that it runs through `keyhole run` (directly inside a session), and, in an \
            interactive shell, loads the completions of every keyhole command. It is the file \
            shell/keyhole.SHELL after a line naming this binary.

            Examples:
              eval "$(keyhole shell-init bash)"          # in ~/.bashrc
              eval "$(keyhole shell-init zsh)"           # in ~/.zshrc, after compinit
              keyhole shell-init fish | source           # in ~/.config/fish/config.fish
            """
    )

    enum Shell: String, ExpressibleByArgument, CaseIterable {
        case bash, zsh, fish
    }

    @Argument(help: "The shell: bash, zsh or fish.")
    var shell: Shell

    func run() throws {
        Terminal.print(Self.text(for: self.shell, keyhole: SelfExecutable.path))
    }

    /// What `shell-init` prints: the binary's path in `__keyhole_bin`, then the shell's file from shell/.
    static func text(for shell: Shell, keyhole: String) -> String {
        switch shell {
        case .bash: "__keyhole_bin=\(ShellQuote.sh(keyhole))\n" + ShellScripts.bash
        case .zsh: "typeset -g __keyhole_bin=\(ShellQuote.sh(keyhole))\n" + ShellScripts.zsh
        case .fish: "set -g __keyhole_bin \(ShellQuote.fish(keyhole))\n" + ShellScripts.fish
        }
    }
}
