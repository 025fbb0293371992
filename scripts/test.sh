#!/usr/bin/env bash
# The whole test suite: unit and handler tests (Swift Testing), the store tests against a real
# gnome-keyring, and the end-to-end tests that drive the built binary with real clients.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -d /opt/swift/usr/bin ]] && export PATH="/opt/swift/usr/bin:$PATH"

scripts/install-deps.sh --test
swift build --build-tests
swift test --skip-build
# The Secret Service tests again, now with a real gnome-keyring on a private bus (skipped above).
Tests/scripts/with-keyring.sh swift test --skip-build --filter KeyholeStoreTests
KEYHOLE_BIN="$PWD/.build/debug/keyhole" python3 -m pytest -q Tests/EndToEnd
# The fuzzers' smoke (Fuzz/FUZZING.md): every libFuzzer target for a few seconds with its property oracles, the
# network fuzzer for about a minute against a real daemon, and the fuzzer's open regressions replayed.
KEYHOLE_BIN="$PWD/.build/debug/keyhole" scripts/fuzz.sh smoke
