import KeyholeCore

/// An error for the person at the terminal: what happened and what to do.
struct CLIError: HintedError {
    let message: String
    let hint: String?
    var exitCode: Int32 = 1

    init(_ message: String, hint: String?, exitCode: Int32 = 1) {
        self.message = message
        self.hint = hint
        self.exitCode = exitCode
    }

    var description: String { self.message }
}
