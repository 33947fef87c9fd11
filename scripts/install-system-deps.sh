#!/usr/bin/env bash
# Installs the Debian/Ubuntu libraries Qt (PySide6) needs, when run as root and any is missing.
# Offscreen tests need the first group; a real window (xcb) needs the second.
set -euo pipefail
packages=(
  libegl1 libgl1 libopengl0 libxkbcommon0 libfontconfig1 libglib2.0-0 libdbus-1-3
  libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
  libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1
)
command -v dpkg-query >/dev/null 2>&1 || { echo "not a Debian system: install Qt's libraries yourself"; exit 0; }
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "Qt needs these system packages (run as root, or: sudo apt-get install ${missing[*]}):"
  echo "  ${missing[*]}"
  exit 0
fi
echo "installing Qt system libraries: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
