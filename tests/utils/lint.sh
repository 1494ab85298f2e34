#!/usr/bin/env bash
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ansible-lint (production profile, offline, config in .ansible-lint) on roles/ and playbooks/.
#
# usage: tests/utils/lint.sh VENV
set -euo pipefail

venv=$(cd "$1" && pwd -P)
checkout=$(cd "$(dirname "$0")/../.." && pwd -P)
cd "$checkout"

targets=()
for dir in roles playbooks extensions/eda/rulebooks; do
    if [ -d "$dir" ] && [ -n "$(find "$dir" -type f -print -quit)" ]; then
        targets+=("$dir")
    fi
done

if [ "${#targets[@]}" -eq 0 ]; then
    echo "lint: roles/ and playbooks/ are empty: nothing for ansible-lint to check yet"
else
    # The collection's own FQCNs resolve for ansible-lint only through ANSIBLE_COLLECTIONS_PATH:
    # point it at the venv's site-packages, where ansible_collections/ipamkit/phpipam links here.
    collections=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    echo "lint: ansible-lint ${targets[*]} (ANSIBLE_COLLECTIONS_PATH=${collections#"$checkout"/})"
    PATH="$venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$collections" \
        "$venv/bin/ansible-lint" --offline "${targets[@]}"
fi

