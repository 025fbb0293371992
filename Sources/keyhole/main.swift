import KeyholeCommands

#if canImport(Glibc)
import Glibc
#endif

// One binary, several names: `git-credential-keyhole` and `docker-credential-keyhole` dispatch on argv[0].
let arguments = Array(CommandLine.arguments.dropFirst())
exit(await KeyholeMain.main(argv0: CommandLine.arguments.first ?? "keyhole", arguments: arguments))
