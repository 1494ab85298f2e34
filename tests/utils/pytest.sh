#!/usr/bin/env bash
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Run pytest from a venv with the project's configuration, keeping a JUnit report.
#
# usage: tests/utils/pytest.sh VENV LABEL [pytest arguments]
#   LABEL names the report: tests/output/junit/LABEL.xml
set -euo pipefail

if [ "$#" -lt 2 ]; then
    echo "usage: $0 VENV LABEL [pytest arguments]" >&2
    exit 2
fi
venv=$1
label=$2
shift 2
checkout=$(cd "$(dirname "$0")/../.." && pwd -P)
cd "$checkout"
mkdir -p tests/output/junit

echo "$label: ${venv#"$checkout"/}/bin/pytest $*"
set +e
"$venv/bin/pytest" -c tests/pytest.ini --junitxml="tests/output/junit/$label.xml" "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    # pytest's "no tests collected": a stage that tests nothing has not passed.
    echo "$label: FAILED: pytest collected no tests from: $*" >&2
fi
exit "$rc"
