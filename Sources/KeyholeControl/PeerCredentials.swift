/// `struct ucred` from `<sys/socket.h>` (Glibc only exposes it with `_GNU_SOURCE`, so Swift cannot see it):
/// what `getsockopt(SOL_SOCKET, SO_PEERCRED)` fills in.
struct PeerCredentials: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}
