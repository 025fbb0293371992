#if canImport(Glibc)
import Glibc
#endif

// keyhole-fuzz TARGET [libFuzzer flags and corpus directories]
//
// One binary for every target (built once per run of scripts/fuzz.sh). The target is chosen by the first
// argument; the rest goes to libFuzzer unchanged.

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// The target the process runs (chosen once, before libFuzzer starts).
nonisolated(unsafe) var selectedTarget: FuzzTarget?

/// libFuzzer's own `main` (linked from its archive, unused: SwiftPM points `main` at this file) refers to this name.
@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    selectedTarget?.run(bytes)
    return 0
}

let arguments = CommandLine.arguments
guard arguments.count >= 2, let target = FuzzTargets.all.first(where: { $0.name == arguments[1] }) else {
    let names = FuzzTargets.all.map { "  \($0.name)  \($0.summary)" }.joined(separator: "\n")
    fputs("usage: keyhole-fuzz TARGET [libFuzzer flags] [CORPUS...]\ntargets:\n\(names)\n", stderr)
    exit(arguments.count >= 2 && arguments[1] == "--list" ? 0 : 2)
}
selectedTarget = target
target.setUp()

// argv without the target name, for libFuzzer.
var argc = CommandLine.argc - 1
let argv = CommandLine.unsafeArgv
argv[1] = argv[0]
var shifted: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = argv + 1
exit(LLVMFuzzerRunDriver(&argc, &shifted, testOneInput))
