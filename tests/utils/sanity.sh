#!/usr/bin/env bash
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Run `ansible-test sanity` (every test, no ignore file) on the checkout, offline.
#
# usage: tests/utils/sanity.sh VENV TREE_ROOT [extra ansible-test arguments]
#
#   VENV       virtual environment holding ansible-core (ansible-test comes with it)
#   TREE_ROOT  directory that gets ansible_collections/ipamkit/phpipam: a copy of the checkout
#              (ansible-test needs that path; see sanity_tree.py for which files are copied).
#              Not inside a git repository: ansible-test would use that repository's files.
#
# The Python version defaults to the venv's (SANITY_PYTHON overrides it). ansible-test's pip
# bootstrap cache is seeded first (seed_get_pip.py), so its per-test venvs build from PyPI
# without reaching ci-files.testing.ansible.com. The log and ansible-test's results are kept
# in tests/output/sanity/ of the checkout.
set -euo pipefail

if [ "$#" -lt 2 ]; then
    echo "usage: $0 VENV TREE_ROOT [ansible-test arguments]" >&2
    exit 2
fi
venv=$(cd "$1" && pwd -P)
tree_root=$2
shift 2

checkout=$(cd "$(dirname "$0")/../.." && pwd -P)
tree=$tree_root/ansible_collections/ipamkit/phpipam
out=$checkout/tests/output/sanity
python_version=${SANITY_PYTHON:-$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')}

# No ignore file: foreman and netbox keep none, and neither do we (STYLE.md section 12).
for ignore in "$checkout"/tests/sanity/ignore-*.txt; do
    [ -e "$ignore" ] || continue
    if grep -qvE '^[[:space:]]*(#.*)?$' "$ignore"; then
        echo "ERROR: ${ignore#"$checkout"/} is not empty: fix the code instead of ignoring sanity errors" >&2
        exit 1
    fi
done

"$venv/bin/python" "$checkout/tests/utils/seed_get_pip.py"
"$venv/bin/python" "$checkout/tests/utils/sanity_tree.py" "$checkout" "$tree"

mkdir -p "$out"
log=$out/sanity.log
echo "ansible-test sanity --local --python $python_version $* (in $tree)"
set +e
(
    cd "$tree"
    # ansible-test runs `ansible-doc` etc. from PATH: use the venv's.
    PATH="$venv/bin:$PATH" ansible-test sanity --local --python "$python_version" --color no -v "$@"
) 2>&1 | tee "$log" | grep -vE "^(WARNING: Location 'file:|Looking in (indexes|links):)"
rc=${PIPESTATUS[0]}
set -e

rm -rf "$out/results"
[ -d "$tree/tests/output" ] && cp -a "$tree/tests/output" "$out/results"

# A test that ansible-test skips (missing interpreter, venv, libyaml, program...) has not passed.
if skipped=$(grep -E 'Skipping (sanity test|tests disabled)|All targets skipped|Required program "[^"]*" not found' "$log"); then
    echo "ERROR: ansible-test skipped sanity tests that must run:" >&2
    echo "$skipped" >&2
    [ "$rc" -ne 0 ] || rc=1
fi
ran=$(grep -c '^Running sanity test' "$log" || true)
if [ "$rc" -eq 0 ]; then
    echo "sanity: $ran tests run, all passed (log: ${log#"$checkout"/})"
else
    echo "sanity: FAILED (rc=$rc, $ran tests run; log: ${log#"$checkout"/})" >&2
fi
exit "$rc"
