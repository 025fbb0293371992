/// An error that knows what the user can do about it. Module errors adopt it so the CLI and the daemon can
/// print "what happened" and "what to do" without knowing every module's types.
public protocol HintedError: Error, CustomStringConvertible {
    var hint: String? { get }
}
