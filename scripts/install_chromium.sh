#!/usr/bin/env bash
# Installs Chromium from Debian's packages, for the browser test of the
# `crnn viz` page (tests/test_viz_browser.py).  Quiet and idempotent: does
# nothing when a chromium binary is already on PATH.  Needs root (CI runs
# as root); .ci/run calls it before the test suite.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_chromium.sh: no apt-get here; install Chromium by hand" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
command -v chromium >/dev/null
