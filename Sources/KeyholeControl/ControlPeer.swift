/// The process at the other end of a control connection, as the kernel reports it (`SO_PEERCRED`).
public struct ControlPeer: Sendable, Hashable {
    /// Unique per connection for the lifetime of the server.
    public let connectionID: UInt64
    /// The peer's process id when it connected.
    public let pid: Int32
    /// The peer's user id; always ours for a connection handed to the handler.
    public let uid: UInt32

    public init(connectionID: UInt64, pid: Int32, uid: UInt32) {
        self.connectionID = connectionID
        self.pid = pid
        self.uid = uid
    }
}
