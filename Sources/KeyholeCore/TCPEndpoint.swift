/// One end of a TCP connection as the kernel's socket tables name it: a 16-byte IPv6 address in network byte
/// order, with an IPv4 address held IPv4-mapped (`::ffff:a.b.c.d`) so that an IPv4 socket and an IPv6 socket
/// connected to a mapped address compare alike, and the port.
public struct TCPEndpoint: Sendable, Hashable {
    public let address: [UInt8]
    public let port: UInt16

    /// `address` is 4 (IPv4) or 16 (IPv6) bytes in network byte order; nil for any other length.
    public init?(address: some Collection<UInt8>, port: UInt16) {
        switch address.count {
        case 4: self.address = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF] + address
        case 16: self.address = Array(address)
        default: return nil
        }
        self.port = port
    }
}
