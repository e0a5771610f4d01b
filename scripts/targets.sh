# shellcheck shell=bash disable=SC2153 # the TARGET_* variables come from fo_target_load
# Sourced by the bench scripts and the tests (after scripts/proc.sh): targets, servers the suite
# starts but did not build (the blog's Django stacks; Node.js, Go, nginx+Lua). Each is one
# declarative file, bench/targets/NAME.target, a bash fragment that only assigns TARGET_*
# variables (bench/targets/README.md lists them); it is sourced in a subshell and only those
# variables come back. This file installs what a target needs, builds it once when it has a
# build step, starts it in its own process group on a free port, waits until it answers, and
# stops it (and every process it started) with the signal it names. Only what macOS's and
# Linux's userlands both have.

FO_TARGETS_DIR=${FO_TARGETS_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../bench/targets" && pwd)}
FO_TARGETS_CACHE=${FO_TARGETS_CACHE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/targets}
# Seconds a target has to answer its ready path, and to end after its stop signal.
FO_TARGET_READY_S=${FO_TARGET_READY_S:-30}
FO_TARGET_STOP_S=${FO_TARGET_STOP_S:-10}
# Every TARGET_* variable a target file may set; the ones in FO_TARGET_REQUIRED must be set.
FO_TARGET_VARS="TARGET_KIND TARGET_ROW TARGET_DESC TARGET_APT TARGET_BREW TARGET_PIP TARGET_BUILD
TARGET_CMD TARGET_SIZE_CAPS TARGET_SIZE TARGET_READY TARGET_STOP TARGET_VERSION"
FO_TARGET_REQUIRED="TARGET_KIND TARGET_ROW TARGET_DESC TARGET_CMD TARGET_VERSION"

# fo_target_list: the names of the targets found, one a line, sorted.
fo_target_list() {
    local f
    for f in "$FO_TARGETS_DIR"/*.target; do
        [ -e "$f" ] || continue
        f=${f##*/}
        echo "${f%.target}"
    done
}

# fo_target_exists NAME: whether bench/targets/NAME.target exists (NAME is a plain name).
fo_target_exists() {
    [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] && [ -f "$FO_TARGETS_DIR/$1.target" ]
}

# fo_target_load NAME (an addition to the agreed shape): sets the TARGET_* variables of NAME in
# the caller, the defaults filled in; returns 1 with a message naming the file when it is missing,
# fails to source, sets a required variable empty or a value out of its set.
fo_target_load() {
    local name=$1 file="$FO_TARGETS_DIR/$1.target" vars v
    fo_target_exists "$name" || { echo "targets: no target '$name' (bench/targets/$name.target)" >&2; return 1; }
    # shellcheck disable=SC2086,SC1090 # the list of names, split on purpose; a target's file
    vars=$(unset $FO_TARGET_VARS; . "$file" >/dev/null && for v in $FO_TARGET_VARS; do printf '%s=%q\n' "$v" "${!v:-}"; done) || {
        echo "targets: $file could not be sourced" >&2
        return 1
    }
    # shellcheck disable=SC2086
    unset $FO_TARGET_VARS
    eval "$vars"
    for v in $FO_TARGET_REQUIRED; do
        [ -n "${!v:-}" ] || { echo "targets: $file sets no $v" >&2; return 1; }
    done
    TARGET_SIZE_CAPS=${TARGET_SIZE_CAPS:-no} TARGET_SIZE=${TARGET_SIZE:-1}
    TARGET_READY=${TARGET_READY:-/0/} TARGET_STOP=${TARGET_STOP:-TERM}
    TARGET_APT=${TARGET_APT:-} TARGET_BREW=${TARGET_BREW:-} TARGET_PIP=${TARGET_PIP:-}
    TARGET_BUILD=${TARGET_BUILD:-}
    case "$TARGET_KIND/$TARGET_SIZE_CAPS/$TARGET_STOP" in
    target/*/* | peer/*/*) ;;
    *) echo "targets: $file: TARGET_KIND is target or peer, not '$TARGET_KIND'" >&2; return 1 ;;
    esac
    case "$TARGET_SIZE_CAPS" in yes | no) ;; *)
        echo "targets: $file: TARGET_SIZE_CAPS is yes or no, not '$TARGET_SIZE_CAPS'" >&2; return 1 ;;
    esac
    case "$TARGET_STOP" in TERM | INT | QUIT) ;; *)
        echo "targets: $file: TARGET_STOP is TERM, INT or QUIT, not '$TARGET_STOP'" >&2; return 1 ;;
    esac
    [[ $TARGET_SIZE =~ ^[1-9][0-9]*$ ]] || { echo "targets: $file: TARGET_SIZE must be 1 or more" >&2; return 1; }
    FO_TARGET_NAME=$name
}

# fo_target_python: the Python the targets run: a macOS virtual environment that fo_target_install
# made (Homebrew has no Django), else the system's /usr/bin/python3 (on Debian the packages install
# for it; the python3 first on PATH may be a pyenv shim), else python3.
fo_target_python() {
    if [ -x "$FO_TARGETS_CACHE/venv/bin/python3" ]; then
        echo "$FO_TARGETS_CACHE/venv/bin/python3"
    elif [ -x /usr/bin/python3 ]; then
        echo /usr/bin/python3
    else
        command -v python3
    fi
}

# fo_target_sh CMD (an addition): runs the shell command CMD with the macOS virtual environment's
# bin folder first on PATH when there is one (its uwsgi, gunicorn), as every target command runs.
fo_target_sh() {
    if [ -d "$FO_TARGETS_CACHE/venv/bin" ]; then
        PATH="$FO_TARGETS_CACHE/venv/bin:$PATH" bash -c "$1"
    else
        bash -c "$1"
    fi
}

# fo_target_expand TEXT PORT UPSTREAM SIZE WORK (an addition): TEXT with the placeholders of the
# loaded target filled in: {port} {upstream} {size} {procs} {dir} {work} {python} {cache}
# {targets}.
fo_target_expand() {
    local t=$1
    t=${t//\{port\}/$2}
    t=${t//\{upstream\}/$3}
    t=${t//\{size\}/$4}
    t=${t//\{procs\}/${FO_TARGET_PROCS:-1}}
    t=${t//\{dir\}/$FO_TARGETS_DIR/$FO_TARGET_NAME}
    t=${t//\{work\}/$5}
    t=${t//\{python\}/$(fo_target_python)}
    t=${t//\{cache\}/$FO_TARGETS_CACHE/$FO_TARGET_NAME}
    t=${t//\{targets\}/$FO_TARGETS_DIR}
    printf '%s' "$t"
}

# fo_target_installed NAME (an addition): whether NAME can run here: its version command succeeds.
fo_target_installed() {
    fo_target_load "$1" 2>/dev/null || return 1
    fo_target_sh "$(fo_target_expand "$TARGET_VERSION" 0 "" 1 /tmp)" >/dev/null 2>&1
}

# fo_target_install NAME...: installs what the named targets need: their TARGET_APT packages with
# apt-get (as root or through sudo) on Debian/Ubuntu; on macOS their TARGET_BREW formulas and a
# virtual environment under build/targets/venv with their TARGET_PIP packages.
fo_target_install() {
    local n apt_pkgs=() brew_pkgs=() pip_pkgs=() missing_pkgs=() sudo=""
    for n in "$@"; do
        fo_target_load "$n" || return 1
        # shellcheck disable=SC2206 # package lists, split on purpose
        apt_pkgs+=($TARGET_APT) brew_pkgs+=($TARGET_BREW) pip_pkgs+=($TARGET_PIP)
    done
    if [ "$(uname -s)" = Darwin ]; then
        if [ ${#brew_pkgs[@]} -gt 0 ]; then brew install "${brew_pkgs[@]}" || return 1; fi
        if [ ${#pip_pkgs[@]} -gt 0 ]; then
            mkdir -p "$FO_TARGETS_CACHE" && { [ -x "$FO_TARGETS_CACHE/venv/bin/python3" ] || python3 -m venv "$FO_TARGETS_CACHE/venv"; } || return 1
            "$FO_TARGETS_CACHE/venv/bin/python3" -m pip install -q "${pip_pkgs[@]}" || return 1
        fi
    elif command -v apt-get >/dev/null 2>&1; then
        [ ${#apt_pkgs[@]} -gt 0 ] || return 0
        [ "$(id -u)" = 0 ] || sudo=sudo
        # Only what is missing: apt-get update is slow and needs the network.
        for n in "${apt_pkgs[@]}"; do
            # shellcheck disable=SC2016 # dpkg-query's format, not the shell's
            dpkg-query -W -f='${Status}' "$n" 2>/dev/null | grep -q 'ok installed' || missing_pkgs+=("$n")
        done
        [ ${#missing_pkgs[@]} -gt 0 ] || return 0
        echo "targets: apt-get install ${missing_pkgs[*]}"
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing_pkgs[@]}" || return 1
    else
        echo "targets: no apt-get or brew here; install by hand: ${apt_pkgs[*]}" >&2
        return 1
    fi
}

# fo_target_build NAME (an addition): runs the loaded target's TARGET_BUILD once, in
# build/targets/NAME (its {cache}), again only when a file of the target changed; its output goes
# to build.log there.
fo_target_build() {
    local cache="$FO_TARGETS_CACHE/$FO_TARGET_NAME" stamp
    [ -n "$TARGET_BUILD" ] || return 0
    mkdir -p "$cache"
    stamp=$({ cat "$FO_TARGETS_DIR/$FO_TARGET_NAME.target"
        find "$FO_TARGETS_DIR/$FO_TARGET_NAME" -type f -exec cat {} + 2>/dev/null; } | cksum)
    [ -f "$cache/.stamp" ] && [ "$(cat "$cache/.stamp")" = "$stamp" ] && return 0
    if ! (cd "$cache" && fo_target_sh "$(fo_target_expand "$TARGET_BUILD" 0 "" 1 "$cache")") >"$cache/build.log" 2>&1; then
        echo "targets: $FO_TARGET_NAME: the build failed; see $cache/build.log: $(tail -3 "$cache/build.log")" >&2
        return 1
    fi
    echo "$stamp" >"$cache/.stamp"
}

# fo_target_spawn LOG CMD (an addition): runs the shell command CMD in the background in a process
# group of its own (so that fo_target_stop can end whatever it starts), output to LOG, the macOS
# virtual environment first on PATH when there is one; sets TARGET_PID, also the group's ID.
fo_target_spawn() {
    local path=$PATH
    [ -d "$FO_TARGETS_CACHE/venv/bin" ] && path="$FO_TARGETS_CACHE/venv/bin:$PATH"
    if command -v setsid >/dev/null 2>&1; then
        # setsid does not fork: a background job of a script is no group leader.
        PATH=$path setsid bash -c "exec $2" >"$1" 2>&1 </dev/null &
    else
        PATH=$path perl -e 'setpgrp(0, 0); exec @ARGV or die "exec: $!\n"' bash -c "exec $2" >"$1" 2>&1 </dev/null &
    fi
    TARGET_PID=$!
    PIDS+=("$TARGET_PID")
}

# fo_target_start NAME SIZE UPSTREAM WORKDIR [LOG]: builds NAME if needed, starts it with SIZE on a
# free port against UPSTREAM (the API's base URL), WORKDIR its scratch folder, output to LOG
# (default WORKDIR/NAME.log), and waits up to FO_TARGET_READY_S seconds for its ready path to
# answer 200. Sets TARGET_PORT, TARGET_PID and TARGET_VERSION_STR, and the TARGET_* variables of
# NAME. On failure says why, naming the target, leaves nothing running and returns 1.
fo_target_start() {
    local name=$1 size=$2 upstream=$3 work=$4 log=${5:-$4/$1.log} cmd code deadline
    TARGET_PID="" TARGET_PORT="" TARGET_VERSION_STR=""
    fo_target_load "$name" || return 1
    [[ $size =~ ^[1-9][0-9]*$ ]] || { echo "targets: $name: the size must be 1 or more, not '$size'" >&2; return 1; }
    mkdir -p "$work" || return 1
    fo_target_build || return 1
    # shellcheck disable=SC2034 # for the caller
    TARGET_VERSION_STR=$(fo_target_sh "$(fo_target_expand "$TARGET_VERSION" 0 "$upstream" "$size" "$work")" 2>&1 | head -1) || true
    TARGET_PORT=$(fo_free_port) || { echo "targets: $name: no free port" >&2; return 1; }
    cmd=$(fo_target_expand "$TARGET_CMD" "$TARGET_PORT" "$upstream" "$size" "$work")
    echo "# $cmd" >"$log.cmd"
    fo_target_spawn "$log" "$cmd"
    deadline=$((SECONDS + FO_TARGET_READY_S + 1)) # SECONDS counts whole seconds: at least READY_S
    while [ "$SECONDS" -lt "$deadline" ]; do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$TARGET_PORT$TARGET_READY") || true
        [ "$code" = 200 ] && return 0
        if ! kill -0 "$TARGET_PID" 2>/dev/null; then
            echo "targets: $name exited before it answered; its command: $cmd" >&2
            echo "targets: $name: $(tail -5 "$log")" >&2
            fo_target_stop
            return 1
        fi
        sleep 0.1
    done
    echo "targets: $name did not answer 200 on $TARGET_READY within $FO_TARGET_READY_S s (last: ${code:-none}); see $log" >&2
    fo_target_stop
    return 1
}

# fo_target_group_alive PGID: whether a process of the group is left that has not ended (a zombie
# waiting to be reaped has).
fo_target_group_alive() {
    ps -A -o pgid= -o stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}

# fo_target_stop: stops the started target with its TARGET_STOP signal, waits up to
# FO_TARGET_STOP_S seconds for its whole process group to end, then SIGKILLs the group; reaps the
# target and forgets it. Nothing of it is left running; a no-op when none is started.
fo_target_stop() {
    local pid=${TARGET_PID:-} deadline
    [ -n "$pid" ] || return 0
    TARGET_PID=""
    fo_forget "$pid"
    kill -s "${TARGET_STOP:-TERM}" "$pid" 2>/dev/null || true
    deadline=$((SECONDS + FO_TARGET_STOP_S))
    while [ "$SECONDS" -lt "$deadline" ]; do
        fo_target_group_alive "$pid" || break
        # The leader may have ended while its children linger: they get the signal too.
        case $(ps -o stat= -p "$pid" 2>/dev/null) in '' | Z*) kill -s "${TARGET_STOP:-TERM}" -- "-$pid" 2>/dev/null || true ;; esac
        sleep 0.1
    done
    kill -9 -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
