#!/usr/bin/env bash
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Create (or confirm) a virtual environment with ansible-core and the collection linked in.
#
# usage: tests/utils/mkvenv.sh VENV "PYTHON CANDIDATES" CORE_SPEC REQUIREMENTS_FILE...
#
#   VENV               directory of the virtual environment (e.g. .venv)
#   PYTHON CANDIDATES  space-separated interpreters, first one that runs and has venv/ensurepip wins
#   CORE_SPEC          pip requirement for ansible-core, e.g. 'ansible-core>=2.19.0,<2.20'
#   REQUIREMENTS_FILE  pip requirement files (nested -r files must be listed too: they key the stamp)
#
# The collection is "installed" by a symlink
#   <site-packages>/ansible_collections/ipamkit/phpipam -> <checkout>
# ansible-core scans sys.path for ansible_collections/ (COLLECTIONS_SCAN_SYS_PATH, on by default),
# so FQCNs, `ansible-playbook ipamkit.phpipam.<playbook>` and
# `import ansible_collections.ipamkit.phpipam...` resolve with no extra environment.
#
# A stamp inside VENV records a hash of everything the environment was built from; when it
# matches, the script only checks the link and returns. Any change rebuilds from scratch.
set -euo pipefail

if [ "$#" -lt 3 ]; then
    echo "usage: $0 VENV 'PYTHON CANDIDATES' CORE_SPEC [REQUIREMENTS_FILE...]" >&2
    exit 2
fi

venv=$(mkdir -p "$(dirname "$1")" && cd "$(dirname "$1")" && pwd -P)/$(basename "$1")
candidates=$2
core_spec=$3
shift 3
req_files=("$@")

checkout=$(cd "$(dirname "$0")/../.." && pwd -P)
namespace=ipamkit
name=phpipam

log() { printf '[%s] %s\n' "$(basename "$venv")" "$*"; }
die() { printf '[%s] ERROR: %s\n' "$(basename "$venv")" "$*" >&2; exit 1; }

# --- pick the interpreter --------------------------------------------------------------------
python=""
for cand in $candidates; do
    # pyenv shims exist for versions that are not activated and then fail: run, don't just look.
    if real=$("$cand" -c 'import sys, venv, ensurepip; print(sys.executable)' 2>/dev/null) && [ -n "$real" ]; then
        python=$real
        break
    fi
done
if [ -z "$python" ]; then
    die "none of these Python interpreters can create a virtual environment: $candidates
       (on Debian: apt-get install python3-venv)"
fi
py_version=$("$python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')

# --- stamp: what this environment is built from -------------------------------------------------
for f in "${req_files[@]}"; do
    [ -f "$f" ] || die "requirements file not found: $f"
done
key=$(
    {
        printf 'python=%s %s\ncore=%s\ncheckout=%s\n' "$python" "$py_version" "$core_spec" "$checkout"
        cat "$0"
        for f in "${req_files[@]}"; do printf '== %s\n' "$f"; cat "$f"; done
    } | sha256sum | cut -d' ' -f1
)
stamp=$venv/.ipamkit-stamp

core_version() { "$venv/bin/python" -c 'from ansible.release import __version__; print(__version__)'; }

purelib() { "$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }

up_to_date() {
    local lib
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ] || return 1
    lib=$(purelib 2>/dev/null) || return 1
    [ "$(readlink "$lib/ansible_collections/$namespace/$name" 2>/dev/null)" = "$checkout" ]
}

if up_to_date; then
    log "up to date (ansible-core $(core_version), Python $py_version)"
    exit 0
fi

# --- build ------------------------------------------------------------------------------------
# One build at a time per directory (make units and make sanity started side by side).
exec 9<"$(dirname "$venv")"
flock 9
if up_to_date; then
    log "up to date (built meanwhile by another run)"
    exit 0
fi
start=$SECONDS
log "creating with $python (Python $py_version), $core_spec"
rm -rf "$venv"
"$python" -m venv "$venv"

pip_args=(--disable-pip-version-check --no-input --quiet "$core_spec")
for f in "${req_files[@]}"; do pip_args+=(-r "$f"); done
log "pip install ${pip_args[*]:3}"
# (pip's "WARNING: Location 'file:///...' is ignored" lines come from a local index in pip.conf.)
"$venv/bin/python" -m pip install "${pip_args[@]}" 2>&1 | { grep -vE "^WARNING: Location 'file:" || true; }

lib=$(purelib)
mkdir -p "$lib/ansible_collections/$namespace"
ln -sfn "$checkout" "$lib/ansible_collections/$namespace/$name"
log "linked $lib/ansible_collections/$namespace/$name -> $checkout"

# --- verify: ansible-core must find the collection where we put it -----------------------------
# Check without any ANSIBLE_COLLECTIONS_PATH from the caller: this is how users run it.
listing=$(cd / && env -u ANSIBLE_COLLECTIONS_PATH -u ANSIBLE_COLLECTIONS_PATHS -u ANSIBLE_CONFIG \
    "$venv/bin/ansible-galaxy" collection list "$namespace.$name" --format json 2>/dev/null) \
    || die "ansible-galaxy collection list $namespace.$name failed"
"$venv/bin/python" - "$listing" "$lib/ansible_collections" "$namespace.$name" <<'EOF'
import json
import sys

listing, expected, fqcn = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
paths = [path for path, colls in listing.items() if fqcn in colls]
if expected not in paths:
    sys.exit("ansible-galaxy does not list %s under %s (found: %s)" % (fqcn, expected, paths or "nothing"))
if paths[0] != expected:
    print("WARNING: %s in %s shadows the checkout linked into this venv" % (fqcn, paths[0]))
EOF
(cd / && "$venv/bin/python" -c "import ansible_collections.$namespace.$name.plugins") \
    || die "python cannot import ansible_collections.$namespace.$name.plugins"

echo "$key" > "$stamp"
log "ready in $((SECONDS - start))s (ansible-core $(core_version), Python $py_version)"
