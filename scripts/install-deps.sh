#!/usr/bin/env bash
# Installs the Debian packages the build needs (and with --tests, what the
# tests need too), and only those that are missing, so that `make run` and
# `make test` work on a fresh machine and cost a second on a prepared one.
set -euo pipefail

# What `make` needs to build everything (programs and unit tests) and what
# `make run` needs to run.
packages=(
  build-essential pkg-config
  libgrpc-dev protobuf-c-compiler libprotobuf-c-dev protobuf-compiler
  libopus-dev libogg-dev libsndfile1-dev libsamplerate0-dev libsqlite3-dev libhiredis-dev libssl-dev openssl
  libgpiod-dev portaudio19-dev libcmocka-dev
  libmicrohttpd-dev
  help2man
)
# What only the test suites and benchmarks use (`--tests`, from make test,
# make bench and make fuzz): the Python client, valgrind, tmux and ssh for the
# terminal tests, a PulseAudio null sink for the PortAudio test, Redis for
# the store tests, nginx for the cluster tests, clang and its libFuzzer
# runtime (libclang-rt-14-dev, not pulled in by clang without recommends)
# for the fuzz harnesses, Prometheus (promtool and the server) for the
# metrics tests; lintian, man, systemd-analyze and libseccomp's
# Python module for the packaging test (help2man is with the build: make
# install's man pages); opus-tools (opusenc) for the 60 ms sounds of
# tests/loopback/test_large_packets.py.
test_packages=(
  python3-grpcio python3-protobuf python3-cryptography redis-server nginx-light
  valgrind tmux openssh-client openssh-server
  pulseaudio pulseaudio-utils libasound2-plugins alsa-utils
  clang libclang-rt-14-dev
  prometheus
  lintian man-db systemd python3-seccomp
  opus-tools
)
# What `make ARCH=arm64` and the arm64 suite need (`--cross arm64`): Debian's
# cross toolchain, qemu-aarch64 to run the result, and for the target the
# -dev packages of the libraries the programs link (the Makefile's PKGS and
# DEV_PKGS) with pkgconf:arm64, which brings aarch64-linux-gnu-pkg-config;
# file, with which the arm64 suite checks what was built.
cross_arm64_packages=(
  crossbuild-essential-arm64 qemu-user pkgconf:arm64 file
  libgrpc-dev:arm64 libprotobuf-c-dev:arm64 libopus-dev:arm64 libogg-dev:arm64 libsndfile1-dev:arm64
  libsamplerate0-dev:arm64 libsqlite3-dev:arm64 libhiredis-dev:arm64 libssl-dev:arm64 libmicrohttpd-dev:arm64
  libgpiod-dev:arm64 portaudio19-dev:arm64
)
usage="usage: install-deps.sh [--tests] [--cross arm64]"
cross=""
while [[ $# -gt 0 ]]; do
  case "$1" in
  --tests) packages+=("${test_packages[@]}") ;;
  --cross)
    cross=${2:-}
    [[ $cross == arm64 ]] || { echo "install-deps: --cross '$cross': the only cross target is arm64 ($usage)" >&2; exit 2; }
    packages+=("${cross_arm64_packages[@]}")
    shift
    ;;
  *)
    echo "install-deps: unknown option $1 ($usage)" >&2
    exit 2
    ;;
  esac
  shift
done

sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)
# The :arm64 packages need dpkg to accept that architecture (apt-get update
# below then fetches its package lists).
if [[ -n $cross ]] && ! dpkg --print-foreign-architectures | grep -qx "$cross"; then
  echo "install-deps: dpkg --add-architecture $cross" >&2
  "${sudo[@]}" dpkg --add-architecture "$cross"
fi

# installed PACKAGE[:ARCH]: without :ARCH, for this machine (or arch all).
# With a foreign architecture added, dpkg-query lists one line per
# architecture a package is installed for.
native=$(dpkg --print-architecture)
installed() {
  local name=${1%%:*} arch=$native
  [[ $1 == *:* ]] && arch=${1#*:}
  dpkg-query -W -f='${Architecture} ${Status}\n' "$name" 2>/dev/null | grep -Eqx "($arch|all) install ok installed"
}
missing=()
for p in "${packages[@]}"; do
  installed "$p" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"

# The SSH and store tests start their own sshd and redis-server on loopback
# ports; the packages' system services are not wanted. Where this script
# installed a package on a machine run by systemd (which starts the service
# at once), turn it off again, leaving the machine's services as they were.
stop_service() { # package service
  [[ " ${missing[*]} " == *" $1 "* ]] || return 0
  if [[ -d /run/systemd/system ]]; then
    "${sudo[@]}" systemctl disable --now "$2" >/dev/null 2>&1 || true
  elif command -v service >/dev/null; then # a container: the init script may have started it
    "${sudo[@]}" service "${2%.service}" stop >/dev/null 2>&1 || true
  fi
}
stop_service openssh-server ssh.service
stop_service redis-server redis-server.service
stop_service nginx-light nginx.service
stop_service prometheus prometheus.service
