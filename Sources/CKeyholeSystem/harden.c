#include "CKeyholeSystem.h"
#include <sys/prctl.h>
#include <sys/resource.h>

int ckh_harden_process(void) {
    struct rlimit none = {0, 0};
    if (setrlimit(RLIMIT_CORE, &none) != 0) return -1;
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return -1;
    return 0;
}

/// Every keyhole process (the CLI, `keyhole run`, the helpers, the daemon) may hold a session token, a secret
/// on its way to the daemon or `KEYHOLE_PASSPHRASE` in its environment, so each becomes non-dumpable before
/// `main`: no ptrace attach and no /proc/PID/environ or /proc/PID/mem reads by other processes of the same user,
/// such as a workload under `keyhole run` reading its parent's environment. Only the dumpable flag: `execve`
/// resets it, so the programs keyhole starts are dumpable as usual, whereas a core-size limit would be inherited
/// by them (the daemon also sets that, through ckh_harden_process).
__attribute__((constructor(101), used)) static void ckh_harden_at_start(void) {
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}
