#!/usr/bin/env bash
# Installs a Debian package for the tests if the program it provides is missing, e.g.
#   ensure-debian-package.sh /usr/bin/chromium chromium   (the browser tests: never a Playwright download)
#   ensure-debian-package.sh /usr/sbin/nginx nginx        (tests/test_nginx_serving.py)
# apt-get waits up to ten minutes for the dpkg lock (another install, unattended upgrades) instead of failing.
set -euo pipefail

program=$1
package=$2
if [ -x "$program" ]; then
    exit 0
fi
as_root=""
if [ "$(id -u)" != 0 ]; then
    as_root=sudo
fi
apt_get=(apt-get -o DPkg::Lock::Timeout=600)
$as_root "${apt_get[@]}" update -q
DEBIAN_FRONTEND=noninteractive $as_root "${apt_get[@]}" install -y -q "$package"
test -x "$program"
