#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need, and only those that
# are missing, so that `make run` and `make test` work on a fresh machine and
# cost a second on a prepared one.
set -euo pipefail

packages=(
  build-essential pkg-config
  libgrpc-dev protobuf-c-compiler libprotobuf-c-dev protobuf-compiler
  libopus-dev libogg-dev libsndfile1-dev libsamplerate0-dev
  libgpiod-dev portaudio19-dev libinih-dev
  libcmocka-dev python3-grpcio python3-protobuf
  valgrind tmux openssh-client openssh-server pulseaudio pulseaudio-utils libasound2-plugins alsa-utils
)

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
