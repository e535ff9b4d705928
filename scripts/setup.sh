#!/usr/bin/env bash
# Make .venv with the CPU build of torch and pe-search (with its dev tools) installed.
# Safe to re-run. On a CUDA machine, install the torch build you want into .venv first.
set -euo pipefail
cd "$(dirname "$0")/.."
python3.11 -m venv .venv 2>/dev/null || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  .venv/bin/pip install --quiet torch==2.13.0
fi
# The constraints keep pip on the installed torch (timm -> torchvision would pull a CUDA torch).
# The ray extra (`index --ray`) is installed too, so its tests run here and in CI.
.venv/bin/pip install --quiet -e '.[dev,ray]' -c constraints-cpu.txt
# Debian packages the tests use (.ci/run installs them as root): ffmpeg, chromium, espeak-ng.
command -v espeak-ng >/dev/null || echo "note: tests/test_toy_speech.py needs Debian's espeak-ng (apt-get install espeak-ng)" >&2
