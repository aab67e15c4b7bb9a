#!/bin/sh
# Set up everything phonotheque needs on a fresh Debian machine: system packages (when root and
# missing) and a virtual environment with the project and its test/bench extras.
# Usage: scripts/bootstrap.sh [EXTRAS]   (EXTRAS: test | test,bench)
set -eu
cd "$(dirname "$0")/.."
EXTRAS=${1:-test}
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

# System packages: Chromaprint (fingerprints), Chromium (report screenshots), zstd's library (patches).
# The tests cross-check against reference tools: ffmpeg/ffprobe (decoding, loudness), fpcalc
# (fingerprints), the zstd CLI (patches) and the sqlite3 shell (catalog). mktorrent is a benchmark peer.
DEBS="libchromaprint1 libzstd1 chromium sqlite3 ffmpeg libchromaprint-tools zstd"
case "$EXTRAS" in *bench*) DEBS="$DEBS mktorrent";; esac
missing=""
for p in $DEBS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "bootstrap: installing Debian packages:$missing"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "bootstrap: missing Debian packages:$missing (run as root or install them)" >&2
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
STAMP="$VENV/.installed-$EXTRAS"
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
  "$VENV/bin/python" -m pip install -q -e ".[$EXTRAS]"
  touch "$STAMP"
fi
