/// What the daemon does with control requests. The transport knows nothing about their content.
public protocol ControlRequestHandler: Sendable {
    /// Called for each line; the returned bytes (one JSON object, no newline) are written back followed by "\n".
    /// Requests of one connection are handled one at a time, in order.
    func handle(line: [UInt8], peer: ControlPeer) async -> [UInt8]

    /// Called once when the connection closes (client exited, killed, or closed it) — used to end sessions.
    func connectionClosed(peer: ControlPeer) async
}
