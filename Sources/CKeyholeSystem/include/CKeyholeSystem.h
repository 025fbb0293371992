#pragma once
/// Makes the process non-dumpable (no ptrace attach, no /proc/PID/mem reads by the same user) and disables
/// core files. Returns 0 on success, -1 with errno set.
int ckh_harden_process(void);
