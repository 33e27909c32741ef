#!/usr/bin/env bash
# Installs vkube's build and test dependencies from Debian packages, idempotently.
# llhttp is not in bookworm: it comes from trixie through an apt pin that only
# admits the llhttp packages (they need nothing newer than bookworm's libc6).
set -euo pipefail
need=(build-essential pkg-config libuv1-dev libssl-dev libjansson-dev libsqlite3-dev
      python3-kubernetes python3-yaml openssl curl iproute2 psmisc libyaml-dev)
missing=()
for p in "${need[@]}" libllhttp-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then echo "deps: all installed"; exit 0; fi
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
if ! [ -f /etc/apt/sources.list.d/vkube-trixie.sources ]; then
  $SUDO tee /etc/apt/sources.list.d/vkube-trixie.sources >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  $SUDO tee /etc/apt/preferences.d/vkube-trixie >/dev/null <<'PIN'
# vkube: never take anything from trixie except llhttp.
Package: *
Pin: release n=trixie
Pin-Priority: -10

Package: libllhttp-dev libllhttp9.2
Pin: release n=trixie
Pin-Priority: 500
PIN
fi
echo "deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "deps: done"
