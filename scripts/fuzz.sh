#!/usr/bin/env bash
# keyhole's fuzzers (Fuzz/FUZZING.md):
#   scripts/fuzz.sh --list                       the targets
#   scripts/fuzz.sh TARGET|all [--runs N | --seconds N]   in-process libFuzzer targets (each, for `all`)
#   scripts/fuzz.sh net [--seconds N | --inputs N]        the network fuzzer against a running daemon
#   scripts/fuzz.sh smoke                        what CI runs: every target briefly, the network fuzzer ~60 s
#   scripts/fuzz.sh coverage [--net] [--work]    line coverage of keyhole's modules reached by the checked-in corpus
#                                                (--net: and by the network fuzzer's CI run against a daemon built
#                                                with coverage; --work: and by the corpora grown here)
# KEYHOLE_FUZZ_INSTRUMENT=none runs the targets without ASan (about twice as fast; for long runs).
# Exits non-zero on any crash or broken property, printing the input's path.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -d /opt/swift/usr/bin ]] && export PATH="/opt/swift/usr/bin:$PATH"

INSTRUMENT="${KEYHOLE_FUZZ_INSTRUMENT:-address}"
[[ "${1:-}" == coverage ]] && INSTRUMENT=coverage
case "$INSTRUMENT" in
    address) FUZZ_BUILD=.build-fuzz ;;
    none|coverage) FUZZ_BUILD=".build-fuzz-$INSTRUMENT" ;;
    *) echo "fuzz.sh: KEYHOLE_FUZZ_INSTRUMENT is address, none or coverage, not '$INSTRUMENT'" >&2; exit 2 ;;
esac
export KEYHOLE_FUZZ_INSTRUMENT="$INSTRUMENT"
# No Swift crash reporter on every abort (slow; it once held the output pipe after the run).
export SWIFT_BACKTRACE=enable=no
# No allocation stacks while fuzzing (ASan spends a fifth of the time collecting them); replaying an input by hand
# (the command printed on a failure) gets them back.
export ASAN_OPTIONS="${ASAN_OPTIONS:-malloc_context_size=0}"
# Optimised (-O) by default: the same checks, several times the executions per second of a debug build.
# KEYHOLE_FUZZ_CONFIG=debug builds and runs the debug binary instead (better stacks when triaging).
CONFIG="${KEYHOLE_FUZZ_CONFIG:-release}"
BIN="$FUZZ_BUILD/$CONFIG/keyhole-fuzz"
FINDINGS="${KEYHOLE_FUZZ_FINDINGS:-$PWD/$FUZZ_BUILD/findings}"

build() {
    if [[ -z "${KEYHOLE_FUZZ_NO_BUILD:-}" ]]; then
        KEYHOLE_FUZZ=1 swift build -c "$CONFIG" --scratch-path "$FUZZ_BUILD" --product keyhole-fuzz >&2
    fi
}

targets() {
    build
    LLVM_PROFILE_FILE=/dev/null "$BIN" --list 2>&1 | sed -n 's/^  \([a-z0-9-]*\)  .*/\1/p'
}

# run_target NAME LIBFUZZER-FLAGS...: a scratch corpus seeded from Fuzz/corpus/NAME; crashes go to $FINDINGS/NAME.
run_target() {
    local name=$1; shift
    local work="$FUZZ_BUILD/work/$name"
    mkdir -p "$work" "$FINDINGS/$name"
    local seeds=()
    [[ -d "Fuzz/corpus/$name" ]] && seeds=("Fuzz/corpus/$name")
    local dict=()
    [[ -f "Fuzz/dict/$name.dict" ]] && dict=("-dict=Fuzz/dict/$name.dict")
    echo "== $name" >&2
    if ! "$BIN" "$name" "$@" "${dict[@]}" -artifact_prefix="$FINDINGS/$name/" -timeout=10 -print_final_stats=1 \
        -detect_leaks=0 "$work" "${seeds[@]}" 2> "$work.log"; then
        grep -a -E "PROPERTY BROKEN|ERROR: |Test unit written to|SUMMARY" "$work.log" >&2 || tail -20 "$work.log" >&2
        echo "keyhole-fuzz: $name FAILED; the input is in $FINDINGS/$name/ (replay: $BIN $name FILE)" >&2
        return 1
    fi
    grep -a -E "^stat::number_of_executed_units|^stat::average_exec_per_sec|DONE|^#[0-9]+ *DONE" "$work.log" >&2 || true
}

limits=()
parse_limits() {
    limits=()
    while (($#)); do
        case "$1" in
            --runs) limits+=("-runs=$2"); shift 2 ;;
            --seconds) limits+=("-max_total_time=$2"); shift 2 ;;
            *) limits+=("$1"); shift ;;
        esac
    done
    ((${#limits[@]})) || limits=("-max_total_time=60")
}

case "${1:-}" in
    --list)
        targets
        echo net
        ;;
    net)
        shift
        exec python3 Fuzz/net/netfuzz.py "$@"
        ;;
    smoke)
        build
        status=0
        for name in $(targets); do
            # A fixed seed: CI's smoke explores the same inputs each run (long runs use random seeds).
            run_target "$name" -seed=1 -max_total_time="${KEYHOLE_FUZZ_SMOKE_SECONDS:-20}" || status=1
        done
        export KEYHOLE_BIN="${KEYHOLE_BIN:-$PWD/.build/debug/keyhole}"
        python3 Fuzz/net/netfuzz.py --seconds "${KEYHOLE_FUZZ_NET_SECONDS:-60}" --seed "${KEYHOLE_FUZZ_NET_SEED:-1}" || status=1
        for input in Fuzz/net/regressions/*.json; do
            [[ -e "$input" ]] || continue
            python3 Fuzz/net/netfuzz.py --replay "$input" >/dev/null 2>&1 || {
                echo "keyhole-fuzz: the network fuzzer's regression $input fails again (replay it to see why)" >&2
                status=1
            }
        done
        exit $status
        ;;
    coverage)
        shift
        corpora=(Fuzz/corpus)
        net=0
        while (($#)); do
            case "$1" in
                --work) corpora+=(.build-fuzz/work .build-fuzz-none/work) ;;
                --net) net=1 ;;
                *) echo "fuzz.sh coverage: unknown option $1" >&2; exit 2 ;;
            esac
            shift
        done
        build
        profiles="$FUZZ_BUILD/profiles"
        rm -rf "$profiles" && mkdir -p "$profiles"
        objects=()
        reached="${corpora[*]}"
        if ((net)); then
            # The daemon (and every keyhole command the fuzzer runs) with coverage, through what CI's smoke runs:
            # the network fuzzer for 60 s with seed 1 and its regressions. Each process writes its own profile.
            swift build --product keyhole --scratch-path .build-cov -Xswiftc -profile-generate \
                -Xswiftc -profile-coverage-mapping >&2
            export LLVM_PROFILE_FILE="$PWD/$profiles/net-%p.profraw"
            KEYHOLE_BIN="$PWD/.build-cov/debug/keyhole" python3 Fuzz/net/netfuzz.py --seconds 60 --seed 1 >&2 || true
            for input in Fuzz/net/regressions/*.json; do
                [[ -e "$input" ]] && { KEYHOLE_BIN="$PWD/.build-cov/debug/keyhole" python3 Fuzz/net/netfuzz.py --replay "$input" >/dev/null 2>&1 || true; }
            done
            unset LLVM_PROFILE_FILE
            objects=(-object .build-cov/debug/keyhole)
            reached+=" and the network fuzzer (60 s, seed 1, regressions)"
        fi
        for name in $(targets); do
            dirs=()
            for corpus in "${corpora[@]}"; do [[ -d "$corpus/$name" ]] && dirs+=("$corpus/$name"); done
            ((${#dirs[@]})) || continue
            # -runs=0: run every input of the corpora once, then stop.
            LLVM_PROFILE_FILE="$profiles/$name.profraw" "$BIN" "$name" -runs=0 -timeout=10 "${dirs[@]}" \
                > "$profiles/$name.log" 2>&1 || { echo "fuzz.sh: $name failed on its corpus (see $profiles/$name.log)" >&2; exit 1; }
        done
        llvm-profdata merge -sparse "$profiles"/*.profraw -o "$profiles/all.profdata"
        llvm-cov export "$BIN" "${objects[@]}" -instr-profile="$profiles/all.profdata" -summary-only > "$profiles/summary.json"
        echo "line coverage reached by $reached (per file: llvm-cov report $BIN ${objects[*]} -instr-profile=$profiles/all.profdata):"
        python3 - "$profiles/summary.json" "$PWD/Sources/" <<'PY'
import collections, json, sys
summary, root = json.load(open(sys.argv[1])), sys.argv[2]
modules = collections.defaultdict(lambda: [0, 0])
for entry in summary["data"][0]["files"]:
    if entry["filename"].startswith(root):
        lines = entry["summary"]["lines"]
        module = modules[entry["filename"][len(root):].split("/")[0]]
        module[0] += lines["covered"]; module[1] += lines["count"]
for name, (covered, count) in sorted(modules.items()):
    print(f"  {name:<16} {covered:6d} / {count:6d} lines  {100 * covered / max(count, 1):5.1f} %")
PY
        ;;
    all)
        shift
        parse_limits "$@"
        build
        status=0
        for name in $(targets); do run_target "$name" "${limits[@]}" || status=1; done
        exit $status
        ;;
    ""|-h|--help)
        sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
        ;;
    *)
        name=$1; shift
        parse_limits "$@"
        build
        run_target "$name" "${limits[@]}"
        ;;
esac
