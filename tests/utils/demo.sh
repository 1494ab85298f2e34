#!/usr/bin/env bash
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Bring up the real phpIPAM of the test harness and run the demo playbook against it.
#
# usage: tests/utils/demo.sh VENV PLAYBOOK [ansible-playbook arguments]
# phpIPAM stays up afterwards, to be looked at; the harness stops it (phpipam.py down).
set -euo pipefail

if [ "$#" -lt 2 ]; then
    echo "usage: $0 VENV PLAYBOOK [ansible-playbook arguments]" >&2
    exit 2
fi
venv=$(cd "$1" && pwd -P)
playbook=$2
shift 2
checkout=$(cd "$(dirname "$0")/../.." && pwd -P)
cd "$checkout"
harness=tests/harness/phpipam.py

# A path, or a collection playbook name such as ipamkit.phpipam.show_agent.
if [[ "$playbook" == */* || "$playbook" == *.yml ]] && [ ! -f "$playbook" ]; then
    echo "demo: the demo playbook $playbook does not exist (yet): nothing to run" >&2
    exit 1
fi
if [ ! -f "$harness" ]; then
    echo "demo: the test harness $harness does not exist (yet): cannot start phpIPAM" >&2
    exit 1
fi

"$venv/bin/python" "$harness" up
env_lines=$("$venv/bin/python" "$harness" env)
eval "$env_lines"
# The demo agent of the harness is the one the playbook shows; localhost is all it needs.
export PHPIPAM_AGENT_CODE="$IPAMKIT_DEMO_AGENT_CODE"
export ANSIBLE_LOCALHOST_WARNING=False
echo "demo: ansible-playbook $playbook $*"
"$venv/bin/ansible-playbook" "$playbook" "$@"
echo "demo: done. phpIPAM is still running; stop it with: ${venv#"$checkout"/}/bin/python $harness down"
