#pragma once
#include <stdint.h>
#include <sys/socket.h>

/// Makes the process non-dumpable (no ptrace attach, no /proc/PID/mem reads by the same user) and disables
/// core files. Returns 0 on success, -1 with errno set.
int ckh_harden_process(void);

/// Raises the soft limit on open files (RLIMIT_NOFILE) to the hard limit and reports both as they are now
/// (the soft one unchanged if raising it failed). Returns 0, or -1 with errno set when they cannot be read.
int ckh_raise_open_files_limit(uint64_t *soft, uint64_t *hard);

/// The uid owning the TCP socket whose own end is `local` and whose peer is `remote` (both AF_INET, or both
/// AF_INET6, IPv4-mapped included), asked of the kernel with one NETLINK_SOCK_DIAG exact lookup; never blocks.
/// For an accepted loopback connection pass the accepted socket's remote address as `local` and its local
/// address as `remote`: that names the client's socket. Returns 0 and sets `*uid`, or -1 with errno set:
/// ESRCH when the socket exists but its owner has closed it (no owner to report), another errno (ENOENT for
/// no such socket) when the kernel did not answer.
int ckh_tcp_socket_owner(const struct sockaddr *local, const struct sockaddr *remote, uint32_t *uid);
