#!/bin/sh
# keyhole benchmark: direct-to-upstream against through-keyhole on a local nginx, in one run (< ~10 min,
# loopback only). Prints a table of figures against the targets of issue 3; never a pass/fail test.
#
#   scripts/bench/run.sh                 # builds keyhole in release mode if needed
#   KEYHOLE_BIN=/path/keyhole scripts/bench/run.sh
#   BENCH_SECONDS=6 BENCH_TRANSFER_BYTES=1073741824 BENCH_HOLD=1000 scripts/bench/run.sh   # the defaults
#   BENCH_UPLOAD_SINK=read scripts/bench/run.sh   # nginx reads the whole upload before answering
#
# Needs (installed here when missing, from Debian): nginx-light (+ its echo module), hyperfine, gcc,
# libssl-dev, curl, openssl. With BENCH_RESULTS=FILE the raw figures are also written there as JSON.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

missing=""
command -v nginx >/dev/null 2>&1 || missing="$missing nginx-light"
command -v hyperfine >/dev/null 2>&1 || missing="$missing hyperfine"
command -v gcc >/dev/null 2>&1 || missing="$missing gcc"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
[ -f /usr/include/openssl/ssl.h ] || missing="$missing libssl-dev"
if [ -n "$missing" ]; then
    echo "[bench] installing:$missing" >&2
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq >/dev/null
    # policy-rc.d keeps the package from starting a system nginx on port 80.
    DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $sudo apt-get install -y -qq $missing >/dev/null
fi

if [ -n "${KEYHOLE_BIN:-}" ]; then
    keyhole=$KEYHOLE_BIN
else
    echo "[bench] swift build -c release --product keyhole" >&2
    (cd "$repo" && swift build -c release --product keyhole >&2)
    keyhole=$repo/.build/release/keyhole
fi
[ -x "$keyhole" ] || { echo "[bench] no keyhole binary at $keyhole" >&2; exit 1; }

work=$(mktemp -d /tmp/kh-bench-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
gcc -O2 -Wall -o "$work/loadgen" "$here/loadgen.c" -lssl -lcrypto -lpthread

# 1000 held connections through the proxy need ~2000 descriptors in the daemon (client + upstream leg)
# and 1000 in the load generator; everything started from here inherits this limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

status=0
timeout --kill-after=30 900 python3 "$here/bench.py" --keyhole "$keyhole" --loadgen "$work/loadgen" \
    ${BENCH_RESULTS:+--results "$BENCH_RESULTS"} "$@" || status=$?
exit $status
