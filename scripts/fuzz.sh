#!/usr/bin/env bash
# Fuzzes both libFuzzer targets for a bounded time, split evenly between them:
#   fuzz_server    a client's bytes through src/server_uv.c and the handler, on a real loop
#   fuzz_response  a server's answers through the load generator's client (bench/load/conn.c)
#
#   scripts/fuzz.sh [SECONDS]        (or FUZZ_SECONDS=...; default 60, the total)
#
# Builds with clang into build-fuzz/ (-fsanitize=fuzzer,address,undefined), starts each target
# from its seeds in tests/fuzz/corpus/<name>/ plus what earlier runs found
# (build-fuzz/fuzz/corpus/<name>/, not in git), and prints for each the inputs run, inputs per
# second and the coverage reached (libFuzzer's cov: edges and ft: features at the end). A crash,
# a sanitizer report or a broken invariant leaves the input in build-fuzz/fuzz/artifacts/ and
# makes this script exit non-zero.
#
# Without clang and libFuzzer (scripts/install-deps.sh --fuzz installs them) it cannot fuzz: in
# CI (CI=true) that is a failure, exit 1; elsewhere it says so and exits 0 ("skipped").
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_TO_RUN=${1:-${FUZZ_SECONDS:-60}}
BUILD=${FUZZ_BUILD:-build-fuzz}
JOBS=${JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}
TARGETS=(fuzz_server fuzz_response)

case "$SECONDS_TO_RUN" in
  ''|*[!0-9]*) echo "fuzz: SECONDS must be a whole number, not '$SECONDS_TO_RUN'" >&2; exit 2 ;;
esac
per_target=$((SECONDS_TO_RUN / ${#TARGETS[@]}))
[ "$per_target" -ge 1 ] || per_target=1

# cannot_fuzz REASON: fails in CI, where "did not fuzz" must not pass; skips elsewhere.
cannot_fuzz() {
  if [ "${CI:-}" = true ]; then
    echo "fuzz: FAILED: cannot fuzz in CI: $1 (scripts/install-deps.sh --fuzz installs it)" >&2
    exit 1
  fi
  echo "fuzz: skipped: $1 (scripts/install-deps.sh --fuzz installs it)"
  exit 0
}

# Apple's clang has no libFuzzer: on macOS, Homebrew's llvm when it is there.
brew_clang=""
if [ "$(uname -s)" = Darwin ] && command -v brew >/dev/null 2>&1; then
  brew_clang="$(brew --prefix llvm 2>/dev/null)/bin/clang"
  [ -x "$brew_clang" ] || brew_clang=""
fi
CLANG=${FUZZ_CC:-${brew_clang:-$(command -v clang || true)}}
[ -n "$CLANG" ] || cannot_fuzz "clang not found"
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' \
    >"$probe/p.c"
if ! "$CLANG" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2>/dev/null; then
  cannot_fuzz "$CLANG cannot link -fsanitize=fuzzer (libFuzzer's runtime is missing)"
fi

cmake -S . -B "$BUILD" -DCMAKE_C_COMPILER="$CLANG" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFANOUT_FUZZ=ON >/dev/null
cmake --build "$BUILD" --target "${TARGETS[@]}" -j "$JOBS" >/dev/null

OUT=$BUILD/fuzz
mkdir -p "$OUT/artifacts"
failed=0
for t in "${TARGETS[@]}"; do
  name=${t#fuzz_}
  mkdir -p "$OUT/corpus/$name"
  log=$OUT/$t.log
  echo "fuzz: running $t for ${per_target}s (log: $log)"
  set +e
  "$OUT/$t" -max_total_time="$per_target" -max_len=20000 -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$OUT/artifacts/$t-" \
      "$OUT/corpus/$name" "tests/fuzz/corpus/$name" >"$log" 2>&1
  rc=$?
  set -e
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(printf '%s\n' "$last" | grep -o 'cov: [0-9]*' || true)
  ft=$(printf '%s\n' "$last" | grep -o 'ft: [0-9]*' || true)
  corpus=$(find "$OUT/corpus/$name" -type f | wc -l | tr -d ' ')
  echo "fuzz: $t: ${runs:-?} inputs, ${rate:-?}/s, ${cov:-cov: ?} edges, ${ft:-ft: ?} features, corpus $corpus files"
  if [ "$rc" -ne 0 ]; then
    failed=1
    echo "fuzz: $t FAILED (exit $rc); the input is in $OUT/artifacts/:"
    find "$OUT/artifacts" -type f -name "$t-*" | sed 's/^/  /'
    grep -E -m 20 'ERROR|SUMMARY|invariant broken|runtime error' "$log" | sed 's/^/  /' || true
  fi
done
[ "$failed" = 0 ] || exit 1
echo "fuzz: nothing found"
