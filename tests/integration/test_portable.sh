#!/usr/bin/env bash
# Every shell script in the repository runs on macOS (BSD userland, bash 3.2) as well as Linux:
#   1. no GNU-only command, option or regex, and no bash 4+ feature, in any line of shell code
#      (full-line comments aside); each rule below says what to use instead;
#   2. shellcheck finds nothing in any script (skipped with ctest's skip code, saying so, only
#      when shellcheck is not installed: scripts/install-deps.sh installs it).
# This file is left out of the first check, since it spells out the very patterns it looks for.
# A line that must break a rule on purpose ends with "# portable: <why>".
. "$(dirname "$0")/lib.sh"

SRC=${FANOUT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
SELF=tests/integration/$(basename "$0")

# The shell scripts: *.sh, and files whose first line is a bash or sh shebang (.ci/run), outside
# build trees, results and git's own files. Paths relative to SRC, one a line.
list_scripts() {
    (cd "$SRC" && find . \( -name .git -o -name 'build*' -o -name results -o -name node_modules \) -prune \
        -o -type f -print | sed 's|^\./||' | sort | while IFS= read -r f; do
        case $f in
        *.sh) echo "$f" ;;
        *.c | *.h | *.md | *.json | *.txt | *.tsv | *.png | *.svg | *.gp | *.yml) ;;
        *) head -1 "$f" 2>/dev/null | grep -Eq '^#!.*[/ ](ba)?sh( |$)' && echo "$f" ;;
        esac
    done)
}
SCRIPTS=$(list_scripts)
check "found the repository's shell scripts ($(echo "$SCRIPTS" | wc -l | tr -d ' '))" \
    grep -qx 'tests/integration/lib.sh' <<<"$SCRIPTS"

# A command word starts a line or follows a blank, ; | & ( ` or $( .
W='(^|[;&|(`[:space:]])'
# The rules: an extended regex (grep -E, portable syntax only), a tab, and what to do instead.
# (read, not $(cat <<EOF): bash 3.2 misparses a here-document with unbalanced quotes or
# parentheses inside a command substitution.)
IFS= read -r -d '' RULES <<EOF
${W}g?timeout[[:space:]]+(-[-[:alnum:]=]+[[:space:]]+)*[0-9]	timeout(1) is GNU coreutils, not on macOS: use lib.sh's with_timeout
${W}date[[:space:]][^|;]*%[-_0^#]?[0-9]*N	date's %N is GNU (macOS prints a literal N): use lib.sh's now_ms
${W}date[[:space:]]+(-[[:alpha:]]*d|--date)	date -d is GNU (BSD's -d sets DST): compute with awk or perl
${W}sed([[:space:]]+-[[:alpha:]]+)*[[:space:]]+-[[:alpha:]]*i([[:space:]]|$)	sed -i without a suffix is GNU (BSD takes the next word as the suffix): sed -i.bak ... && rm FILE.bak
${W}sed[[:space:]][^|;]*--in-place	sed --in-place is GNU: sed -i.bak ... && rm FILE.bak
${W}readlink[[:space:]]+-[[:alpha:]]*f	readlink -f is GNU (macOS before 12.3 lacks it): cd "\$(dirname X)" && pwd -P
${W}grep[[:space:]]+(-[[:alnum:]]+[[:space:]]+)*-[[:alpha:]]*P	grep -P (PCRE) is GNU: grep -E
${W}(grep|sed)([[:space:]]+-[abcdefghijklmnopqrstuvwxyzABCDFGHIJKLMNOPQRSTUVWXYZ]+)*[[:space:]]+'[^']*\\\\\|	\\| in a basic regex is a GNU extension: grep -E / sed -E with |
${W}sed[[:space:]].*,\\\\?\+[0-9]+[pd]	sed's ADDR,+N address is GNU: grep -A N, or awk
${W}stat[[:space:]]+(-c|--format|--printf)	stat -c is GNU (BSD stat uses -f): wc -c < FILE for a size, ls -l otherwise
${W}xargs[[:space:]]+(-[[:alpha:]]*r|--no-run-if-empty)	xargs -r is GNU: test for input first, or loop with while read
${W}ps[[:space:]]+([^|;&]*[[:space:]])?--[[:alpha:]]	ps's long options (--no-headers, --ppid, --sort) are GNU: ps -A -o pid= -o ppid=, or fo_children
${W}nproc([[:space:]]|\)|$)	nproc is GNU: getconf _NPROCESSORS_ONLN
${W}sort[[:space:]]+(-[[:alpha:]]*V|--version-sort)	sort -V is GNU: sort -t. -k1,1n -k2,2n ...
${W}head[[:space:]]+-[nc][[:space:]]*-[0-9]	head -n -N (all but the last N) is GNU: sed '\$d' or awk
${W}find[[:space:]].*[[:space:]]-(printf|regextype|readable|writable|executable)([[:space:]]|$)	this find test is GNU: -exec, or a loop
${W}mktemp[[:space:]]+(-[[:alpha:]]*[pt]|--[[:alpha:]])	mktemp -p / -t / --tmpdir differ on BSD: mktemp -d "\${TMPDIR:-/tmp}/name.XXXXXX"
${W}(tac|numfmt|setsid|md5sum|sha[0-9]+sum)([[:space:]]|$)	a GNU-only command, not on macOS: tail -r is BSD-only too; use awk, perl or shasum
${W}sleep[[:space:]]+([0-9.]+[smhd]|infinity)([[:space:]]|;|$)	sleep with a unit is GNU: seconds, as a number
${W}(cat|cp|mv|rm|ls|head|tail|wc|sort|uniq|cut|tr|date|touch|mkdir|ln|du|df|seq|paste|readlink|cksum)[[:space:]]+([^|;&]*[[:space:]])?--[[:alpha:]]	a GNU long option: BSD tools have only the short ones
(^|[^[:alnum:]_])(gensub|asorti?|strftime|systime)\(	a gawk function: macOS's awk has none of them
\\\$\([^)]*wc[[:space:]]+-[clmw][^)]*\)"?[[:space:]]*!?=[[:space:]]	BSD wc pads its count with blanks: compare with -eq, not =
${W}(mapfile|readarray|coproc)[[:space:]]	bash 4: macOS has bash 3.2; use while read
${W}(declare|local|typeset)[[:space:]]+-[[:alpha:]]*[An]	associative arrays and namerefs are bash 4: macOS has bash 3.2
\\\$\{[[:alnum:]_]+(\[[^]]*\])?(,,?|\^\^?)\}	case conversion \${x,,} \${x^^} is bash 4: tr '[:upper:]' '[:lower:]'
\\\$\{[[:alnum:]_]+(\[[^]]*\])?@[QEPAaUuLK]\}	\${x@Q} is bash 4.4: printf %q
${W}shopt[[:space:]]+-s[[:space:]]+(lastpipe|globstar|autocd|checkjobs|direxpand)	a bash 4 option: macOS has bash 3.2
${W}wait[[:space:]]+-[[:alpha:]]*[nfp]	wait -n / -f / -p are bash 4.3+: wait for each PID
\|&|&>>	|& and &>> are bash 4: 2>&1 |, >>FILE 2>&1
;;&	;;& is bash 4: separate case arms
\{[[:alpha:]_][[:alnum:]_]*\}[<>]	exec {fd}<> (automatic descriptors) is bash 4.1: a fixed number
\[-[0-9]+\]\}	negative array subscripts are bash 4.3: \${a[\${#a[@]}-1]}
%\([^)]*\)T	printf's %(...)T is bash 4.2: date +FORMAT
EOF

# gnu_lines FILE: the lines of FILE that break a rule, as "FILE:LINE: what to do instead".
gnu_lines() {
    local f=$1 re why
    while IFS='	' read -r re why; do
        [ -n "$re" ] || continue
        grep -nE -- "$re" "$SRC/$f" | grep -Ev '^[0-9]+:[[:space:]]*#' | grep -v '# portable: ' |
            while IFS=: read -r line _; do echo "$f:$line: $why"; done
    done <<<"$RULES"
}

# The rules themselves: each catches a line it is meant to catch, so none is dead.
probe=$WORK/probe.sh
# shellcheck disable=SC2016 # shell code, not to be expanded
printf '%s\n' 'timeout 5 true' 'x=$(date +%s%N)' "sed -i 's/a/b/' f" 'readlink -f x' 'grep -P "a+" f' \
    'stat -c %s f' 'xargs -r echo' 'ps --no-headers -o pid' 'n=$(nproc)' 'sort -V f' 'head -n -2 f' \
    'declare -A map' 'mapfile -t lines <f' 'echo "${x,,}"' 'cmd |& cat' \
    '[ "$(wc -l <f)" = 3 ]' "grep 'a\\|b' f" 'exec {fd}<>f' >"$probe"
caught=$(SRC=$WORK gnu_lines probe.sh | cut -d: -f2 | sort -un | wc -l)
check "the rules catch each GNU-only or bash 4 line of a probe ($caught of 18)" [ "$caught" -eq 18 ]
# shellcheck disable=SC2016 # shell code, not to be expanded
printf '%s\n' 'sed -i.bak s/a/b/ f' 'curl --max-time 5 x' 'load --timeout 500ms u' 't=$(now_ms)' \
    'with_timeout 5 cat' '[ "$(wc -l <f)" -eq 3 ]' "grep -Eq '^\\| x' f" >"$probe"
check "... and pass portable lines (sed -i.bak, --timeout flags, now_ms, grep -E '\\|')" \
    [ -z "$(SRC=$WORK gnu_lines probe.sh)" ]

found=""
for f in $SCRIPTS; do
    [ "$f" = "$SELF" ] && continue
    found="$found$(gnu_lines "$f")"
done
if [ -n "$found" ]; then awk '{ print "     " $0 }' <<<"$found"; fi
check "no GNU-only command or option and no bash 4 feature in the shell scripts" [ -z "$found" ]

if ! command -v shellcheck >/dev/null 2>&1; then
    echo "# $PASSES passed, $FAILS failed so far"
    [ "$FAILS" -eq 0 ] || exit 1
    skip "shellcheck is not installed (scripts/install-deps.sh installs it; Debian: apt-get install shellcheck, macOS: brew install shellcheck)"
fi
# -x follows sourced files (lib.sh, proc.sh) from each script's directory. Left out: SC2317 and
# SC2329 (code unreachable, a function never called): they cannot see calls through trap and
# through check's arguments, and they change between shellcheck 0.9 and 0.10.
out=$(cd "$SRC" && echo "$SCRIPTS" | tr '\n' '\0' | xargs -0 shellcheck -x -P SCRIPTDIR -e SC2317,SC2329 -f gcc 2>&1)
if [ -n "$out" ]; then awk '{ print "     " $0 }' <<<"$out"; fi
check "shellcheck $(shellcheck --version | sed -n 's/^version: //p') finds nothing in the shell scripts" [ -z "$out" ]

finish
