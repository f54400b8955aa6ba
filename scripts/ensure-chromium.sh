#!/usr/bin/env bash
# The browser tests drive Debian's Chromium (never a browser downloaded by `playwright install`).
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
as_root=""
if [ "$(id -u)" != 0 ]; then
    as_root=sudo
fi
$as_root apt-get update -q
DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -q chromium
/usr/bin/chromium --version
