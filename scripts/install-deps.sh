#!/usr/bin/env bash
# Installs whatever fanout needs to build, test and benchmark, and nothing that is already there.
# Debian/Ubuntu: apt-get (as root, or through sudo). macOS: Homebrew.
# Usage: scripts/install-deps.sh [--check]   (--check only lists what is missing; exit 1 if anything is)
set -euo pipefail

check_only=0
case "${1:-}" in
  --check) check_only=1 ;;
  -h|--help) sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "install-deps.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
esac

have_pc() { command -v pkg-config >/dev/null 2>&1 && pkg-config --exists "$1"; }
have_llhttp() {
  have_pc libllhttp && return 0
  [ -f /usr/share/llhttp/llhttp.c ] && [ -f /usr/share/include/llhttp/llhttp.h ]
}

if [ "$(uname -s)" = Darwin ]; then
  command -v brew >/dev/null || { echo "install-deps.sh: Homebrew is needed on macOS (https://brew.sh)" >&2; exit 1; }
  missing=()
  for f in pkg-config cmake libuv curl jansson cmocka llhttp gnuplot wrk python3; do
    if [ "$f" = python3 ]; then command -v python3 >/dev/null && continue; fi
    brew list --versions "$f" >/dev/null 2>&1 || missing+=("$f")
  done
  if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
  if [ $check_only = 1 ]; then echo "missing: ${missing[*]}"; exit 1; fi
  echo "install-deps.sh: brew install ${missing[*]}"
  brew install "${missing[@]}"
  exit 0
fi

command -v apt-get >/dev/null || {
  echo "install-deps.sh: no apt-get or brew here; install by hand: cmake, pkg-config, libuv, libcurl, jansson, cmocka, llhttp, gnuplot" >&2
  exit 1
}

# package -> test that says it is already there
missing=()
command -v cmake >/dev/null      || missing+=(cmake)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v cc >/dev/null         || missing+=(build-essential)
have_pc libuv                    || missing+=(libuv1-dev)
have_pc libcurl                  || missing+=(libcurl4-openssl-dev)
have_pc jansson                  || missing+=(libjansson-dev)
have_pc cmocka                   || missing+=(libcmocka-dev)
have_llhttp                      || missing+=(node-llhttp)
command -v curl >/dev/null       || missing+=(curl)
command -v python3 >/dev/null    || missing+=(python3)   # integration tests read JSON with it
command -v gnuplot >/dev/null    || missing+=(gnuplot-nox)
command -v wrk >/dev/null        || missing+=(wrk)

if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ $check_only = 1 ]; then echo "missing: ${missing[*]}"; exit 1; fi

sudo=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
echo "install-deps.sh: apt-get install ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# gnuplot and wrk are for benchmarks only: a failure to get them must not stop a build.
core=(); extra=()
for p in "${missing[@]}"; do
  case "$p" in gnuplot-nox|wrk) extra+=("$p") ;; *) core+=("$p") ;; esac
done
[ ${#core[@]} -eq 0 ] || $sudo apt-get install -y -qq --no-install-recommends "${core[@]}"
[ ${#extra[@]} -eq 0 ] || $sudo apt-get install -y -qq --no-install-recommends "${extra[@]}" ||
  echo "install-deps.sh: could not install ${extra[*]}; benchmarks will run without them" >&2
