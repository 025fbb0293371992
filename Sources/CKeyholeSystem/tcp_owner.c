#include "CKeyholeSystem.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/// Copies a socket address's IP address (network byte order, 4 or 16 bytes) and port (host byte order) into a
/// sock_diag socket id half. Returns the address family, or -1 when the address is not IPv4 or IPv6.
static int copy_endpoint(const struct sockaddr *address, __be32 out[4], __be16 *port) {
    if (address->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)address;
        memcpy(out, &v4->sin_addr, 4);
        *port = v4->sin_port;
        return AF_INET;
    }
    if (address->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)address;
        memcpy(out, &v6->sin6_addr, 16);
        *port = v6->sin6_port;
        return AF_INET6;
    }
    return -1;
}

int ckh_tcp_socket_owner(const struct sockaddr *local, const struct sockaddr *remote, uint32_t *uid) {
    struct {
        struct nlmsghdr header;
        struct inet_diag_req_v2 request;
    } message;
    memset(&message, 0, sizeof message);
    int family = copy_endpoint(local, message.request.id.idiag_src, &message.request.id.idiag_sport);
    if (family < 0 || copy_endpoint(remote, message.request.id.idiag_dst, &message.request.id.idiag_dport) != family) {
        errno = EAFNOSUPPORT;
        return -1;
    }
    message.header.nlmsg_len = sizeof message;
    message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    message.header.nlmsg_flags = NLM_F_REQUEST;
    message.header.nlmsg_seq = 1;
    message.request.sdiag_family = (__u8)family;
    message.request.sdiag_protocol = IPPROTO_TCP;
    message.request.idiag_states = ~0U;
    message.request.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
    message.request.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) return -1;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (sendto(fd, &message, sizeof message, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    // The kernel answers an exact lookup while handling sendto, so the reply is already queued: never wait.
    long reply[1024];
    ssize_t length = recv(fd, reply, sizeof reply, MSG_DONTWAIT);
    int saved = errno;
    close(fd);
    if (length < 0) {
        errno = saved;
        return -1;
    }
    const struct nlmsghdr *header = (const struct nlmsghdr *)reply;
    if (!NLMSG_OK(header, (size_t)length)) {
        errno = EPROTO;
        return -1;
    }
    if (header->nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *error = NLMSG_DATA(header);
        errno = error->error < 0 ? -error->error : EPROTO;
        return -1;
    }
    if (header->nlmsg_type != SOCK_DIAG_BY_FAMILY || header->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
        errno = EPROTO;
        return -1;
    }
    const struct inet_diag_msg *found = NLMSG_DATA(header);
    // A socket its owner has closed (an orphan, or a time-wait entry, which reports uid 0) has no inode and no
    // trustworthy owner.
    if (found->idiag_inode == 0) {
        errno = ESRCH;
        return -1;
    }
    *uid = found->idiag_uid;
    return 0;
}
