import KeyholeCommands

#if canImport(Glibc)
import Glibc
#endif

// One binary, several names: `git-credential-keyhole` and `docker-credential-keyhole` (issue 4) dispatch on
// argv[0] here, like SwiftPM's multi-call binary.
let arguments = Array(CommandLine.arguments.dropFirst())
exit(await KeyholeMain.main(arguments: arguments))
