import CKeyholeSystem
import KeyholeCore
import NIOConcurrencyHelpers
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Which user owns the client end of an accepted loopback TCP connection. TCP has no `SO_PEERCRED`, but on
/// loopback the client's socket is in this host's tables, named by the connection's two addresses swapped:
/// the kernel is asked with one NETLINK_SOCK_DIAG exact lookup (a single non-blocking round trip, fine on an
/// event loop), and `/proc/net/tcp{,6}` is read only when netlink does not work.
enum TCPPeerCredentials {
    /// Once netlink has answered, its ENOENT means "no such socket" rather than "no sock_diag handler", and
    /// the slow table scan (milliseconds on a busy host) is not worth doing for a connection already gone.
    private static let netlinkAnswered = NIOLockedValueBox(false)

    /// The uid of the process that opened the client socket of `channel` (an accepted connection); nil when
    /// it cannot be told (not IP, the socket is gone, or its owner has already closed it).
    static func uid(ofClientOf channel: any Channel) -> uid_t? {
        guard let local = channel.localAddress, let remote = channel.remoteAddress else { return nil }
        return self.uid(client: remote, server: local)
    }

    /// The owner of the socket whose own end is `client` and whose peer is `server`.
    static func uid(client: SocketAddress, server: SocketAddress) -> uid_t? {
        var uid: UInt32 = 0
        let (result, failure) = client.withSockAddr { clientAddress, _ in
            server.withSockAddr { serverAddress, _ in
                (ckh_tcp_socket_owner(clientAddress, serverAddress, &uid), errno)
            }
        }
        if result == 0 {
            Self.netlinkAnswered.withLockedValue { $0 = true }
            return uid
        }
        switch failure {
        case ESRCH, EAFNOSUPPORT:
            return nil
        case ENOENT where Self.netlinkAnswered.withLockedValue({ $0 }):
            return nil  // the socket is gone (a client that reset at once), not netlink: no table scan
        default:
            return self.procTableUID(client: client, server: server)
        }
    }

    /// The fallback: the line of `/proc/net/tcp` or `/proc/net/tcp6` for the client socket.
    static func procTableUID(client: SocketAddress, server: SocketAddress) -> uid_t? {
        guard let local = Self.endpoint(client), let remote = Self.endpoint(server) else { return nil }
        for path in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let table = try? FileSystem.contents(of: path) else { continue }
            if let uid = ProcNetTCPEntry.owner(of: local, peer: remote, inTable: table) { return uid }
        }
        return nil
    }

    private static func endpoint(_ address: SocketAddress) -> TCPEndpoint? {
        guard let port = address.port, let bytes = Self.addressBytes(address) else { return nil }
        return TCPEndpoint(address: bytes, port: UInt16(truncatingIfNeeded: port))
    }

    private static func addressBytes(_ address: SocketAddress) -> [UInt8]? {
        switch address {
        case .v4(let v4):
            return withUnsafeBytes(of: v4.address.sin_addr) { Array($0) }
        case .v6(let v6):
            return withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
        case .unixDomainSocket:
            return nil
        }
    }
}
