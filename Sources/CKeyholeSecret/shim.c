#include "CKeyholeSecret.h"
int ckeyhole_secret_placeholder(void) { return 0; }
