import ArgumentParser

/// What every `keyhole import` subcommand shares: a dry run, and JSON for scripts.
struct ImportOutputOptions: ParsableArguments {
    @Flag(help: "Show what would be imported (and removed); change nothing.")
    var dryRun = false

    @Flag(help: "Print what was imported as JSON: names, hosts, user names, sources. Never a secret.")
    var json = false
}
