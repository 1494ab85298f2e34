#!/bin/sh
# Install the ipamkit.phpipam scan agent on a Debian/Ubuntu host from a collection tarball.
#
#   sudo sh install-agent.sh ipamkit-phpipam-0.1.0.tar.gz
#
# What it does (each step can be run by hand; docs/deployment.md explains them):
#   - apt-get install nmap python3-venv (skipped when SKIP_APT=1)
#   - a virtual environment in $AGENT_VENV with ansible-core
#   - the collection into $COLLECTIONS_DIR (on Ansible's default collection path), then its
#     Python requirements (requests, jmespath, netaddr) into the venv
#   - the system user $AGENT_USER (home $AGENT_HOME), unless AGENT_USER is empty
#   - $CONFIG_DIR (0750, root:$AGENT_USER) with an empty config file scan_agent.yaml,
#     0600 and owned by the user who runs the agent
# It changes nothing that exists already, except the collection and the venv's packages.
set -eu

TARBALL=${1:?usage: $0 ipamkit-phpipam-X.Y.Z.tar.gz}
AGENT_VENV=${AGENT_VENV:-/opt/ipamkit-phpipam}
COLLECTIONS_DIR=${COLLECTIONS_DIR:-/usr/share/ansible/collections}
AGENT_USER=${AGENT_USER-phpipam-agent}
AGENT_HOME=${AGENT_HOME:-/var/lib/ipamkit-phpipam}
CONFIG_DIR=${CONFIG_DIR:-/etc/phpipam}
ANSIBLE_CORE=${ANSIBLE_CORE:-ansible-core>=2.16,<2.20}

if [ "${SKIP_APT:-0}" != 1 ]; then
    apt-get update
    apt-get install -y --no-install-recommends nmap python3 python3-venv ca-certificates
fi

[ -x "$AGENT_VENV/bin/python" ] || python3 -m venv "$AGENT_VENV"
"$AGENT_VENV/bin/pip" install --quiet "$ANSIBLE_CORE"
"$AGENT_VENV/bin/ansible-galaxy" collection install --force --collections-path "$COLLECTIONS_DIR" "$TARBALL"
"$AGENT_VENV/bin/pip" install --quiet -r "$COLLECTIONS_DIR/ansible_collections/ipamkit/phpipam/requirements.txt"

owner=root
if [ -n "$AGENT_USER" ]; then
    if ! id "$AGENT_USER" >/dev/null 2>&1; then
        useradd --system --user-group --home-dir "$AGENT_HOME" --create-home \
            --shell /usr/sbin/nologin --comment "phpIPAM scan agent" "$AGENT_USER"
        chmod 0700 "$AGENT_HOME"
    fi
    owner=$AGENT_USER
fi

[ -d "$CONFIG_DIR" ] || install -d -m 0750 -o root -g "$(id -gn "$owner")" "$CONFIG_DIR"
[ -e "$CONFIG_DIR/scan_agent.yaml" ] || install -m 0600 -o "$owner" -g "$(id -gn "$owner")" /dev/null "$CONFIG_DIR/scan_agent.yaml"

# A playbook that loads proves the collection and ansible-core fit together.
ANSIBLE_COLLECTIONS_PATH=$COLLECTIONS_DIR ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false \
    "$AGENT_VENV/bin/ansible-playbook" --syntax-check ipamkit.phpipam.agent >/dev/null
echo "installed: $AGENT_VENV/bin/ansible-playbook ipamkit.phpipam.agent; now edit $CONFIG_DIR/scan_agent.yaml"
