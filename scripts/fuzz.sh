#!/usr/bin/env bash
# Fuzzes the request path (tests/fuzz/fuzz_request.c) with libFuzzer for a bounded time.
#
#   scripts/fuzz.sh [SECONDS]        (or FUZZ_SECONDS=...; default 60)
#
# Builds with clang into build-fuzz/ (-fsanitize=fuzzer,address,undefined), starts from the seed
# corpus in tests/fuzz/corpus/ plus what earlier runs found (build-fuzz/fuzz/corpus/, not in git),
# and prints how many inputs were run. A crash, a sanitizer report or a broken invariant leaves
# the input in build-fuzz/fuzz/artifacts/ and makes this script exit non-zero. Without clang and
# libFuzzer it says so and exits 0 ("skipped"), so CI can call it everywhere.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_TO_RUN=${1:-${FUZZ_SECONDS:-60}}
BUILD=${FUZZ_BUILD:-build-fuzz}
JOBS=${JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}

CLANG=${FUZZ_CC:-$(command -v clang || true)}
if [ -z "$CLANG" ]; then
    echo "fuzz: skipped: clang not found (Debian/Ubuntu: apt-get install clang)"
    exit 0
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' \
    >"$probe/p.c"
if ! "$CLANG" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2>/dev/null; then
    echo "fuzz: skipped: $CLANG cannot link -fsanitize=fuzzer (Debian: apt-get install libclang-rt-dev, or the libclang-rt-N-dev of your clang)"
    exit 0
fi

cmake -S . -B "$BUILD" -DCMAKE_C_COMPILER="$CLANG" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFANOUT_FUZZ=ON >/dev/null
cmake --build "$BUILD" --target fuzz_request -j "$JOBS" >/dev/null

OUT=$BUILD/fuzz
mkdir -p "$OUT/corpus" "$OUT/artifacts"
LOG=$OUT/last-run.log
echo "fuzz: running fuzz_request for ${SECONDS_TO_RUN}s (log: $LOG)"
set +e
"$OUT/fuzz_request" -max_total_time="$SECONDS_TO_RUN" -max_len=20000 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$OUT/artifacts/" \
    "$OUT/corpus" tests/fuzz/corpus >"$LOG" 2>&1
rc=$?
set -e
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOG")
cov=$(grep -E '^#[0-9]+' "$LOG" | tail -1 | grep -o 'cov: [0-9]*' || true)
echo "fuzz: ${runs:-?} inputs run, ${cov:-cov: ?} edges, corpus $(find "$OUT/corpus" -type f | wc -l | tr -d ' ') files"
if [ "$rc" -ne 0 ]; then
    echo "fuzz: FAILED (exit $rc); the input is in $OUT/artifacts/:"
    find "$OUT/artifacts" -type f | sed 's/^/  /'
    grep -E -m 20 'ERROR|SUMMARY|invariant broken|runtime error' "$LOG" | sed 's/^/  /'
    exit 1
fi
echo "fuzz: nothing found"
