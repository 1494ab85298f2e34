#!/usr/bin/env bash
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Install the Debian packages the test harness and the demo need, when they are missing.
#
# usage: tests/utils/system-deps.sh PACKAGE...
#
# As root: apt-get install only what is missing (apt-get update only then too).
# Not root, or not Debian: say exactly what to install and carry on; integration tests then
# skip with a reason (or fail, under IPAMKIT_REQUIRE_INTEGRATION=1).
set -euo pipefail

packages=("$@")
if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "system-deps: no dpkg here (not Debian?): install the equivalents of: ${packages[*]}"
    exit 0
fi

# python3 -m venv needs ensurepip, which Debian ships in python3-venv.
if [ "$(command -v python3)" = /usr/bin/python3 ] && ! python3 -c 'import ensurepip' 2>/dev/null; then
    packages+=(python3-venv)
fi

missing=()
for pkg in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$pkg")
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "system-deps: all ${#packages[@]} packages installed"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "system-deps: NOT ROOT, cannot install the missing Debian packages. As root, run:"
    echo "    apt-get update && apt-get install -y ${missing[*]}"
    echo "system-deps: continuing; integration tests will skip, saying why."
    exit 0
fi

echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Installing a package must not start its service (openssh-server would listen on port 22 of the
# host): the tests start their own instances. policy-rc.d answering 101 tells invoke-rc.d so.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# ipamkit system-deps: no service starts during package installation\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -q
apt-get install -y -q "${missing[@]}"
