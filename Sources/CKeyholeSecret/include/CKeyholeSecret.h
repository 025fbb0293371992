#pragma once
int ckeyhole_secret_placeholder(void);
