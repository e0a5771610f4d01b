#!/usr/bin/env bash
# scripts/fuzz.sh when it cannot fuzz (no clang, or no libFuzzer): in CI (CI=true) that fails,
# exit 1 with a clear message, so that "did not fuzz" never counts as a pass; elsewhere it skips
# with exit 0, saying so. Also: each of its targets has a seed folder, and .ci/run installs
# libFuzzer before fuzzing with CI=true. The fuzzing itself is `make fuzz` (minutes, not here).
. "$(dirname "$0")/lib.sh"

SRC=${FANOUT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
FUZZ=$SRC/scripts/fuzz.sh
NO_CC=$WORK/no-such-clang

CI=true FUZZ_CC=$NO_CC FUZZ_BUILD=$WORK/build-fuzz bash "$FUZZ" 5 >"$WORK/ci.out" 2>&1
rc=$?
check "in CI, a compiler that cannot link libFuzzer fails the run (exit $rc, want 1)" [ "$rc" -eq 1 ]
check "in CI, it says it cannot fuzz and how to fix it ($(head -c 200 "$WORK/ci.out"))" \
    grep -q 'cannot fuzz in CI.*install-deps.sh --fuzz' "$WORK/ci.out"

CI=false FUZZ_CC=$NO_CC FUZZ_BUILD=$WORK/build-fuzz bash "$FUZZ" 5 >"$WORK/local.out" 2>&1
rc=$?
check "outside CI, it skips (exit $rc, want 0)" [ "$rc" -eq 0 ]
check "outside CI, it says it skipped ($(head -c 200 "$WORK/local.out"))" \
    grep -q '^fuzz: skipped:' "$WORK/local.out"
check "nothing was built when it could not fuzz" [ ! -e "$WORK/build-fuzz" ]

FUZZ_CC=$NO_CC bash "$FUZZ" 5s >"$WORK/bad.out" 2>&1
rc=$?
check "a duration that is not a whole number of seconds is refused (exit $rc, want 2)" [ "$rc" -eq 2 ]

# Every target it runs has its seeds, and is a target of tests/fuzz/CMakeLists.txt.
targets=$(sed -n 's/^TARGETS=(\(.*\))$/\1/p' "$FUZZ")
check "fuzz.sh names its targets (found: $targets)" [ -n "$targets" ]
for t in $targets; do
    check "$t has seeds in tests/fuzz/corpus/${t#fuzz_}/" \
        bash -c "[ -n \"\$(ls -A '$SRC/tests/fuzz/corpus/${t#fuzz_}' 2>/dev/null)\" ]"
    check "$t is built by tests/fuzz/CMakeLists.txt" \
        grep -q "^fanout_fuzz_target($t " "$SRC/tests/fuzz/CMakeLists.txt"
done

# .ci/run installs libFuzzer, then fuzzes with CI=true (so that it fails rather than skips).
install_line=$(grep -n '^scripts/install-deps.sh --fuzz$' "$SRC/.ci/run" | cut -d: -f1)
fuzz_line=$(grep -n '^CI=true scripts/fuzz.sh' "$SRC/.ci/run" | cut -d: -f1)
check ".ci/run runs scripts/install-deps.sh --fuzz, then CI=true scripts/fuzz.sh" \
    all [ -n "$install_line" ] -- [ -n "$fuzz_line" ] -- [ "${install_line:-0}" -lt "${fuzz_line:-0}" ]

finish
