#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A program people run under `keyhole run`, as `keyhole doctor` checks it and the README lists it: how to find it
/// and its version, what keyhole sets for it, whether it reaches keyhole (perhaps depending on its version), and a
/// cheap command that shows it does.
public struct Runtime: Sendable {
    public enum Status: String, Sendable, Equatable, CaseIterable {
        case works = "works"
        case worksWithNote = "works with a note"
        case doesNot = "does not"
    }

    /// What keyhole can say about one version of the runtime.
    public struct Assessment: Sendable, Equatable {
        public var status: Status
        public var note: String?

        public init(_ status: Status, _ note: String? = nil) {
            self.status = status
            self.note = note
        }
    }

    /// A runtime found on PATH.
    public struct Detected: Sendable, Equatable {
        public var name: String
        /// The absolute path of the executable found.
        public var executable: String
        /// nil when the version command failed or printed no version.
        public var version: RuntimeVersion?
        public var status: Status
        public var note: String?
    }

    /// What it is called in the README and in `doctor`'s output.
    public var name: String
    /// Executable names to look for on PATH, in order.
    public var executables: [String]
    /// The arguments that make it print its version (stdout or stderr).
    public var versionArguments: [String]
    /// The text the version number follows in that output ("" = the first number).
    public var versionPrefix: String
    /// The variables keyhole sets that this runtime reads.
    public var variables: [String]
    private let assessVersion: @Sendable (RuntimeVersion?) -> Assessment
    private let probeArguments: (@Sendable (String) -> [String])?

    public init(
        name: String,
        executables: [String],
        versionArguments: [String] = ["--version"],
        versionPrefix: String = "",
        variables: [String],
        assess: @escaping @Sendable (RuntimeVersion?) -> Assessment,
        probe: (@Sendable (String) -> [String])? = nil
    ) {
        self.name = name
        self.executables = executables
        self.versionArguments = versionArguments
        self.versionPrefix = versionPrefix
        self.variables = variables
        self.assessVersion = assess
        self.probeArguments = probe
    }

    /// The status and note for a version (nil: unknown version).
    public func assessment(for version: RuntimeVersion?) -> Assessment {
        self.assessVersion(version)
    }

    /// A command line that requests `url` (a local HTTPS test server) and prints its HTTP status code on stdout,
    /// to run under a session; nil when the runtime has no such one-liner (it needs a project or a compiler).
    public func probe(url: String) -> [String]? {
        self.probeArguments?(url)
    }

    /// The version in the output of the version command.
    public func parseVersion(_ output: String) -> RuntimeVersion? {
        RuntimeVersion(parsing: output, after: self.versionPrefix)
    }

    /// The first of `executables` found executable on `path` (a `PATH` value).
    public func locate(path: String) -> String? {
        self.executables.lazy.compactMap { ExecutableSearch.find($0, path: path) }.first
    }

    /// Finds the runtime on `environment`'s PATH and asks its version with `run` (argv and environment in, the
    /// command's output out, nil on failure). nil when it is not installed.
    public func detect(
        environment: [String: String],
        run: ([String], [String: String]) -> String?
    ) -> Detected? {
        guard let executable = self.locate(path: environment["PATH"] ?? "") else { return nil }
        let version = run([executable] + self.versionArguments, environment).flatMap { self.parseVersion($0) }
        let assessment = self.assessment(for: version)
        return Detected(
            name: self.name, executable: executable, version: version, status: assessment.status,
            note: assessment.note
        )
    }
}
