import NIOCore
import NIOPosix
import NIOSSL

/// Words for why an upstream could not be reached, for the 502 body and the audit line.
enum UpstreamFailure {
    static func describe(_ error: any Error) -> String {
        switch error {
        case let error as NIOSSLError:
            switch error {
            case .handshakeFailed(let inner):
                return "TLS handshake failed (certificate not trusted or wrong host?): \(inner)"
            default:
                return "TLS error: \(error)"
            }
        case let error as NIOSSLExtraError:
            return "TLS verification failed: \(error)"
        case is HandshakeTimeout:
            return "TLS handshake timed out"
        case is NIOConnectionError:
            return "connection failed (is the host up and the address right?)"
        case let error as ChannelError:
            switch error {
            case .connectTimeout:
                return "connection timed out"
            case .eof:
                return "connection closed during the TLS handshake"
            default:
                return "\(error)"
            }
        case let error as IOError:
            return "I/O error: \(error.description)"
        default:
            return "\(error)"
        }
    }
}
