#!/usr/bin/env bash
# Install the Debian packages the tool needs, if any are missing.
#   scripts/system-deps.sh build   fonts and libraries to build packs
#   scripts/system-deps.sh test    also the real clients the tests fill and check forms with
set -euo pipefail

build=(fonts-liberation2 libharfbuzz-subset0 libpango-1.0-0 libpangoft2-1.0-0)  # WeasyPrint's fonts and text shaping
test=(poppler-utils qpdf pdftk-java libreoffice-writer-nogui chromium postgresql sqlite3)  # poppler-utils: pdftotext and pdftoppm check what a viewer shows; sqlite3: tamper tests edit a store as anyone could

case "${1:-build}" in
  build) wanted=("${build[@]}") ;;
  test) wanted=("${build[@]}" "${test[@]}") ;;
  *) echo "usage: $0 build|test" >&2; exit 2 ;;
esac

missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "Missing system packages: ${missing[*]}" >&2
  echo "Install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
