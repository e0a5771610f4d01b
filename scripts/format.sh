#!/usr/bin/env bash
# Formats the C sources (every *.c and *.h git tracks) with the repository's .clang-format, or,
# with --check, changes nothing: lists the files it would change and exits 1 when there are any
# (make format, make format-check; CI runs the check).
# Usage: scripts/format.sh [--check]
# The tree is kept in clang-format 14's form (Debian 12's): other versions move a few constructs
# differently, so clang-format-14 is used when it is on PATH (CLANG_FORMAT names another), and a
# check by another version says which one it used.
set -euo pipefail
cd "$(dirname "$0")/.."

check=0
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "format.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
esac

KEPT_MAJOR=14
cf=${CLANG_FORMAT:-}
if [ -z "$cf" ]; then
  if command -v "clang-format-$KEPT_MAJOR" >/dev/null 2>&1; then cf=clang-format-$KEPT_MAJOR; else cf=clang-format; fi
fi
command -v "$cf" >/dev/null 2>&1 || {
  echo "format.sh: $cf not found (scripts/install-deps.sh installs it)" >&2
  exit 2
}
major=$("$cf" --version | sed -n 's/.*version \([0-9]*\).*/\1/p')
[ "$major" = "$KEPT_MAJOR" ] ||
  echo "format.sh: using $cf $major; the tree is kept in clang-format $KEPT_MAJOR's form, so a few lines may differ" >&2

files=()
while IFS= read -r f; do files+=("$f"); done < <(git ls-files '*.c' '*.h')
if [ $check = 0 ]; then
  "$cf" -i --style=file "${files[@]}"
  exit 0
fi
changed=0
for f in "${files[@]}"; do
  if ! "$cf" --style=file "$f" | cmp -s - "$f"; then
    echo "$f"
    changed=$((changed + 1))
  fi
done
if [ $changed -gt 0 ]; then
  echo "format.sh: $changed of ${#files[@]} files are not formatted; make format formats them" >&2
  exit 1
fi
