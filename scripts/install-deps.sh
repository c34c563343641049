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
  libgpiod-dev portaudio19-dev libinih-dev libcmocka-dev
)
# What only the test suites and benchmarks use (`--tests`, from make test,
# make bench and make fuzz): the Python client, valgrind, tmux and ssh for the
# terminal tests, a PulseAudio null sink for the PortAudio test, Redis for
# the store tests, nginx for the cluster tests, clang and its libFuzzer
# runtime (libclang-rt-14-dev, not pulled in by clang without recommends)
# for the fuzz harnesses; opus-tools (opusenc) for the 60 ms sounds of
# tests/loopback/test_large_packets.py.
test_packages=(
  python3-grpcio python3-protobuf python3-cryptography redis-server nginx-light
  valgrind tmux openssh-client openssh-server
  pulseaudio pulseaudio-utils libasound2-plugins alsa-utils
  clang libclang-rt-14-dev
  opus-tools
)
case "${1:-}" in
"") ;;
--tests) packages+=("${test_packages[@]}") ;;
*)
  echo "install-deps: unknown option $1 (usage: install-deps.sh [--tests])" >&2
  exit 2
  ;;
esac

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)
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
