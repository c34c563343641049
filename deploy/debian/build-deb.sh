#!/bin/sh
# Builds opal-server_VERSION_ARCH.deb and opal-device_VERSION_ARCH.deb
# (`make deb`) from STAGE/opal-server and STAGE/opal-device, each the tree
# `make install-server` / `install-device` made there with PREFIX=/usr:
# binaries stripped, man pages and changelog gzipped, copyright added,
# Depends from dpkg-shlibdeps, the maintainer scripts of this folder and
# conffiles for what is under etc/; dpkg-deb packs it into OUTDIR.
#
#   deploy/debian/build-deb.sh STAGE VERSION ARCH OUTDIR
set -eu
[ $# -eq 4 ] || { echo "usage: $0 STAGE VERSION ARCH OUTDIR" >&2; exit 2; }
version=$2 arch=$3
staging=$(cd "$1" && pwd)
mkdir -p "$4"
outdir=$(cd "$4" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
maintainer="Opal maintainers <maintainers@users.noreply.r-seed-abb6b479.example>"
# The strip of the packages' architecture (aarch64-linux-gnu-strip for arm64).
strip=$(dpkg-architecture -a"$arch" -qDEB_HOST_GNU_TYPE 2>/dev/null)-strip
[ -n "$version" ] || { echo "build-deb.sh: no version" >&2; exit 2; }

# Depends of one staged binary: Debian's runtime libraries, as dpkg-shlibdeps
# finds them (it wants a debian/control beside it), and what the maintainer
# scripts run.
depends() { # stage binary
  work=$(mktemp -d)
  mkdir "$work/debian"
  printf 'Source: opal\n\nPackage: opal\nArchitecture: any\n' >"$work/debian/control"
  (cd "$work" && DEB_HOST_ARCH=$arch dpkg-shlibdeps -O -e"$1/$2" 2>"$work/err") |
    sed -n 's/^shlibs:Depends=//p' >"$work/out" || true
  if [ ! -s "$work/out" ]; then
    cat "$work/err" >&2
    rm -rf "$work"
    echo "build-deb.sh: dpkg-shlibdeps found no dependencies for $2" >&2
    exit 1
  fi
  echo "adduser, $(cat "$work/out")"
  rm -rf "$work"
}

package() { # name summary description
  name=$1 summary=$2 description=$3
  stage=$staging/$name
  [ -x "$stage/usr/bin/$name" ] || { echo "build-deb.sh: no $stage/usr/bin/$name" >&2; exit 2; }
  "$strip" --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/usr/bin/$name"
  gzip -9n "$stage/usr/share/man/man1/$name.1"
  doc=$stage/usr/share/doc/$name
  install -d "$doc"
  install -m 0644 "$here/copyright" "$doc/copyright"
  gzip -9n <"$here/changelog" >"$doc/changelog.gz"
  chmod 0644 "$doc/changelog.gz"

  install -d "$stage/DEBIAN"
  for script in postinst prerm postrm; do
    install -m 0755 "$here/$name.$script" "$stage/DEBIAN/$script"
  done
  (cd "$stage" && find etc -type f | sed 's|^|/|' | sort) >"$stage/DEBIAN/conffiles"
  (cd "$stage" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | sort |
    xargs md5sum) >"$stage/DEBIAN/md5sums"
  size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
  deps=$(depends "$stage" "usr/bin/$name")
  cat >"$stage/DEBIAN/control" <<CONTROL
Package: $name
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $deps
Section: sound
Priority: optional
Description: $summary
$description
CONTROL
  chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles" "$stage/DEBIAN/md5sums"
  dpkg-deb --root-owner-group -Zxz --build "$stage" "$outdir/${name}_${version}_${arch}.deb" >/dev/null
  echo "  DEB     $outdir/${name}_${version}_${arch}.deb"
}

package opal-server "Opal audio gadget server" \
" opal-server keeps the mode and state of every Opal device that connects,
 drives the devices' LEDs and streams each mode's sound to them as Opus
 packets over gRPC, paced ahead of real time.
 .
 This package holds the server, its bundled mode sounds and a hardened
 systemd unit running it as the opal user, with its state in /var/lib/opal."
package opal-device "Opal audio gadget device" \
" opal-device is the Opal gadget: four buttons and six LEDs on a Raspberry
 Pi's GPIO header (libgpiod), and the sound an Opal server streams, played
 through PortAudio. It also simulates a device in a terminal and runs
 fleets of simulated devices as a load generator.
 .
 This package holds the program and a systemd unit running it as the opal
 user in the gpio and audio groups."
