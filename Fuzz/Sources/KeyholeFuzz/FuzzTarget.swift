/// One fuzz target: a name for the command line, what it checks, and the function libFuzzer calls per input.
/// A broken property is a crash (`FuzzCheck.fail`), which libFuzzer reports with the input that caused it.
struct FuzzTarget {
    let name: String
    let summary: String
    var setUp: () -> Void = {}
    let run: (UnsafeRawBufferPointer) -> Void
}

/// Every target, in the order `--list` shows them.
enum FuzzTargets {
    static let all: [FuzzTarget] = [
        ProxyFuzz.target,
        AuthorityFuzz.target,
        RewriterFuzz.target, SigV4Fuzz.target, ConfigFuzz.target, ImportersFuzz.target, ControlFuzz.target, AuditFuzz.target,
    ]
}

#if canImport(Glibc)
import Glibc
#endif

enum FuzzCheck {
    /// A property does not hold: print why and abort, so libFuzzer saves the input.
    static func fail(_ message: String) -> Never {
        fputs("keyhole-fuzz: PROPERTY BROKEN: \(message)\n", stderr)
        abort()
    }

    static func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
        if !condition() { Self.fail(message()) }
    }
}
