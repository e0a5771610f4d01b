#!/usr/bin/env bash
# Installs whatever fanout needs to build, test and benchmark, and nothing that is already there.
# Debian/Ubuntu: apt-get (as root, or through sudo). macOS: Homebrew.
# Usage: scripts/install-deps.sh [--check] [--fuzz] [--targets | --peers]   (--check only lists
#        what is missing; exit 1 if a package that the build or the tests need is missing; --fuzz
#        also requires clang with libFuzzer, for scripts/fuzz.sh: CI passes it; --targets also
#        the stacks of bench/targets: the blog's Django configurations, for make bench-blog, and
#        the peers; --peers only the peers (Node.js, Go, nginx with Lua), for make bench-peers)
#
# Two groups. Required, for `make` and `make test`: a compiler, CMake, pkg-config, libuv,
# libcurl, jansson, cmocka, llhttp, curl, perl and python3 (the tests' helpers), shellcheck (the
# portability check), PyYAML (the CI workflow's check) and clang-format (make format-check; 14
# where the system has that version, the form the tree is kept in). Optional, for `make bench` only:
# gnuplot (charts) and wrk (bench/compare-wrk.sh). A required package that cannot be installed
# stops this script with exit 1; an optional one only warns, and the benchmarks run without it.
# With --fuzz, clang and its libFuzzer runtime are required too (scripts/fuzz.sh; CI fuzzes).
set -euo pipefail

check_only=0
fuzz=0
targets=0
peers_only=0
base_args=()
for arg in "$@"; do
  case "$arg" in
    --check) check_only=1; base_args+=("$arg") ;;
    --fuzz) fuzz=1; base_args+=("$arg") ;;
    --targets) targets=1 ;;
    --peers) targets=1; peers_only=1 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-deps.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

# --targets: what the build needs first, then every target of bench/targets (scripts/targets.sh:
# apt-get on Debian/Ubuntu, Homebrew and a virtual environment with pip on macOS); --peers: only
# those with TARGET_KIND=peer. RUNLEVEL=1: Debian's nginx package does not start its service (it
# would listen on port 80).
if [ $targets = 1 ]; then
  "$0" ${base_args[@]+"${base_args[@]}"}
  . "$(dirname "$0")/targets.sh"
  names=$(for t in $(fo_target_list); do
    if [ $peers_only = 0 ] || { fo_target_load "$t" && [ "$TARGET_KIND" = peer ]; }; then echo "$t"; fi
  done)
  if [ $check_only = 1 ]; then
    rc=0
    for t in $names; do
      fo_target_installed "$t" || { echo "target not installed: $t"; rc=1; }
    done
    exit $rc
  fi
  # shellcheck disable=SC2086 # one name a word
  RUNLEVEL=1 fo_target_install $names || { echo "install-deps.sh: the targets' packages could not be installed" >&2; exit 1; }
  for t in $names; do
    fo_target_installed "$t" || { echo "install-deps.sh: target $t still cannot run (its version command fails)" >&2; exit 1; }
  done
  echo "install-deps.sh: every target is installed (scripts/bench.sh --list)"
  exit 0
fi

have() { command -v "$1" >/dev/null 2>&1; }
have_pc() { have pkg-config && pkg-config --exists "$1"; }
have_llhttp() {
  have_pc libllhttp && return 0
  [ -f /usr/share/llhttp/llhttp.c ] && [ -f /usr/share/include/llhttp/llhttp.h ]
}
have_pyyaml() { have python3 && python3 -c 'import yaml' >/dev/null 2>&1; }
have_clang_format() { have clang-format-14 || have clang-format; }
# clang that links a libFuzzer target (the same probe as scripts/fuzz.sh).
have_libfuzzer() {
  local cc=${1:-clang} dir ok=1
  have "$cc" || return 1
  dir=$(mktemp -d)
  echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' >"$dir/p.c"
  "$cc" -fsanitize=fuzzer,address,undefined "$dir/p.c" -o "$dir/p" >/dev/null 2>&1 && ok=0
  rm -rf "$dir"
  return $ok
}

required=()   # packages to install, named for this system's package manager
optional=()

# report: with --check, lists what is missing and exits (1 when a required package is missing).
report() {
  [ ${#required[@]} -eq 0 ] || echo "missing: ${required[*]}"
  [ ${#optional[@]} -eq 0 ] || echo "missing, optional (benchmarks only): ${optional[*]}"
  [ ${#required[@]} -eq 0 ]
}

# Homebrew: on PATH, or where its installer puts it (Apple Silicon: /opt/homebrew, Intel:
# /usr/local) when the shell profile does not set PATH up yet.
find_brew() {
  if have brew; then command -v brew; return 0; fi
  local b
  for b in /opt/homebrew/bin/brew /usr/local/bin/brew; do
    [ -x "$b" ] && { echo "$b"; return 0; }
  done
  return 1
}

if [ "$(uname -s)" = Darwin ]; then
  brew=$(find_brew) || {
    echo "install-deps.sh: Homebrew is needed on macOS (https://brew.sh)" >&2
    exit 1
  }
  # The build finds what Homebrew installs through PATH (cmake, pkg-config): say so when the
  # shell does not have it yet, after installing.
  on_path=1
  case ":$PATH:" in *":$(dirname "$brew"):"*) ;; *) on_path=0 ;; esac
  path_hint() {
    echo "install-deps.sh: Homebrew ($brew) is not on your PATH; add this line to ~/.zprofile and open a new shell:" >&2
    echo "  eval \"\$($brew shellenv)\"" >&2
  }
  # brew's own PATH and pkg-config settings, for the checks and installs below.
  eval "$("$brew" shellenv)"
  # libcurl is the system's: Homebrew's pkg-config knows its .pc file; Homebrew's curl is
  # keg-only (not on pkg-config's path) and the build does not use it.
  have pkg-config      || required+=(pkg-config)
  have cmake           || required+=(cmake)
  have_pc libuv        || required+=(libuv)
  have_pc jansson      || required+=(jansson)
  have_pc cmocka       || required+=(cmocka)
  have_pc libllhttp    || required+=(llhttp)
  have python3         || required+=(python)
  have shellcheck      || required+=(shellcheck)
  have_clang_format    || required+=(clang-format)
  have_pyyaml          || optional+=(pyyaml)   # Homebrew's PyYAML is for its own python3
  have gnuplot         || optional+=(gnuplot)
  have wrk             || optional+=(wrk)
  # Apple's clang has no libFuzzer; Homebrew's llvm has (scripts/fuzz.sh looks for it there).
  if [ $fuzz = 1 ] && ! have_libfuzzer "$("$brew" --prefix llvm 2>/dev/null)/bin/clang"; then
    required+=(llvm)
  fi
  if [ $check_only = 1 ]; then
    [ $on_path = 1 ] || { path_hint; report || true; exit 1; }
    report; exit
  fi
  if [ ${#required[@]} -gt 0 ]; then
    echo "install-deps.sh: brew install ${required[*]}"
    "$brew" install "${required[@]}" || {
      echo "install-deps.sh: could not install ${required[*]}; the build needs them" >&2
      exit 1
    }
  fi
  # One at a time: gnuplot pulls in a lot (Qt) and may fail; that must not stop the others.
  for p in ${optional[@]+"${optional[@]}"}; do
    echo "install-deps.sh: brew install $p (optional)"
    "$brew" install "$p" || echo "install-deps.sh: could not install $p; benchmarks run without it" >&2
  done
  [ $on_path = 1 ] || { path_hint; exit 1; }
  exit 0
fi

have apt-get || {
  echo "install-deps.sh: no apt-get or brew here; install by hand: cmake, pkg-config, libuv, libcurl, jansson, cmocka, llhttp, curl, perl, python3 with PyYAML, shellcheck, clang-format (and for benchmarks gnuplot, wrk)" >&2
  exit 1
}

have cmake                || required+=(cmake)
have pkg-config           || required+=(pkg-config)
have cc                   || required+=(build-essential)
have_pc libuv             || required+=(libuv1-dev)
have_pc libcurl           || required+=(libcurl4-openssl-dev)
have_pc jansson           || required+=(libjansson-dev)
have_pc cmocka            || required+=(libcmocka-dev)
have_llhttp               || required+=(node-llhttp)
have curl                 || required+=(curl)
have perl                 || required+=(perl)
have python3              || required+=(python3)
have_pyyaml               || required+=(python3-yaml)
have shellcheck           || required+=(shellcheck)
if ! have_clang_format; then
  # scripts/format.sh prefers 14; elsewhere the system's own version.
  if apt-cache show clang-format-14 >/dev/null 2>&1; then required+=(clang-format-14); else required+=(clang-format); fi
fi
have gnuplot              || optional+=(gnuplot-nox)
have wrk                  || optional+=(wrk)
# --fuzz: clang, and libFuzzer's runtime, which Debian 12 packages apart (libclang-rt-dev);
# elsewhere it comes with clang or in libclang-rt-N-dev for clang's major version N. Kept apart
# from the build's packages (the container image needs none of them), required all the same.
fuzz_pkgs=()
if [ $fuzz = 1 ] && ! have_libfuzzer clang; then
  have clang || fuzz_pkgs+=(clang)
  if apt-cache show libclang-rt-dev >/dev/null 2>&1; then
    fuzz_pkgs+=(libclang-rt-dev)
  elif have clang; then
    major=$(clang -dumpversion | cut -d. -f1)
    if apt-cache show "libclang-rt-$major-dev" >/dev/null 2>&1; then
      fuzz_pkgs+=("libclang-rt-$major-dev")
    else
      echo "install-deps.sh: no libFuzzer runtime package found for clang $major; scripts/fuzz.sh cannot fuzz" >&2
    fi
  fi
  required=(${required[@]+"${required[@]}"} ${fuzz_pkgs[@]+"${fuzz_pkgs[@]}"})
fi

if [ $check_only = 1 ]; then report; exit; fi
[ ${#required[@]} -gt 0 ] || [ ${#optional[@]} -gt 0 ] || exit 0

sudo=""
if [ "$(id -u)" != 0 ]; then
  have sudo || { echo "install-deps.sh: need root or sudo to install: ${required[*]} ${optional[*]}" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
if [ ${#required[@]} -gt 0 ]; then
  echo "install-deps.sh: apt-get install ${required[*]}"
  $sudo apt-get install -y -qq --no-install-recommends "${required[@]}"
fi
if [ ${#optional[@]} -gt 0 ]; then
  echo "install-deps.sh: apt-get install ${optional[*]} (optional)"
  $sudo apt-get install -y -qq --no-install-recommends "${optional[@]}" ||
    echo "install-deps.sh: could not install ${optional[*]}; benchmarks run without them" >&2
fi
if [ $fuzz = 1 ] && ! have_libfuzzer clang; then
  echo "install-deps.sh: clang still cannot link a libFuzzer target (-fsanitize=fuzzer); install its compiler-rt by hand" >&2
  exit 1
fi
