#include "CKeyholeSystem.h"
#include <sys/resource.h>

int ckh_raise_open_files_limit(uint64_t *soft, uint64_t *hard) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
    if (limit.rlim_cur != limit.rlim_max) {
        struct rlimit raised = {limit.rlim_max, limit.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
    }
    *soft = limit.rlim_cur;
    *hard = limit.rlim_max;
    return 0;
}
