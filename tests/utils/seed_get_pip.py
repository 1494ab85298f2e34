# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pre-seed ansible-test's pip bootstrap cache so sanity tests can build their venvs offline.

ansible-test creates a virtual environment per sanity test (pylint, validate-modules, yamllint,
import, ansible-doc, ...) without pip, then bootstraps pip in it by running
``~/.ansible/test/cache/get_pip_<version>.py``, downloading it from ci-files.testing.ansible.com
when missing. That host is not reachable here, but PyPI is. The stand-in written by this script
does what get-pip.py does: put pip into the interpreter running it (from the ensurepip wheel that
ships with Python) and then ``pip install`` the arguments it was given, e.g. ``pip==24.2``.

Run it with the Python of the venv holding ansible-test: the pip version comes from that
ansible-test. An existing cache file not written by us (a real get-pip.py) is left alone.

usage: python tests/utils/seed_get_pip.py [CACHE_DIR]
"""

from __future__ import annotations

import os
import re
import sys

MARKER = "# ipamkit.phpipam offline get-pip stand-in"

STAND_IN = MARKER + '''
# Called by ansible-test as: python get_pip_X.py [pip options] pip==X [--no-setuptools] [--no-wheel]
import re
import subprocess
import sys

OWN_OPTIONS = ("--no-setuptools", "--no-wheel")
args = [arg for arg in sys.argv[1:] if arg not in OWN_OPTIONS]
requested = {re.split(r"[<>=!~;\\[ ]", arg, maxsplit=1)[0].lower() for arg in args if not arg.startswith("-")}
# ensurepip brings pip (and setuptools on Python < 3.12); get-pip.py would add only what it was asked for.
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
rc = subprocess.call([sys.executable, "-m", "pip", "install", "--upgrade"] + args)
if rc == 0 and "--no-setuptools" in sys.argv and "setuptools" not in requested:
    rc = subprocess.call([sys.executable, "-m", "pip", "uninstall", "--yes", "--quiet", "setuptools"],
                         stderr=subprocess.DEVNULL)
sys.exit(rc)
'''


def pip_versions() -> list[str]:
    """Return the pip versions the installed ansible-test bootstraps (defaults and overrides)."""
    from ansible_test._internal import python_requirements  # pylint: disable=import-outside-toplevel

    with open(python_requirements.__file__, encoding="utf-8") as source:
        text = source.read()
    body = text[text.index("def get_venv_packages"):]
    body = body[:body.index("\ndef ", 1)]
    versions = sorted(set(re.findall(r"""\bpip\s*=\s*['"]([0-9][0-9.]*)['"]""", body)))
    if not versions:
        raise SystemExit("cannot find the pip version ansible-test bootstraps in %s" % python_requirements.__file__)
    return versions


def main() -> int:
    cache_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.ansible/test/cache")
    os.makedirs(cache_dir, exist_ok=True)
    for version in pip_versions():
        path = os.path.join(cache_dir, "get_pip_%s.py" % version.replace(".", "_"))
        if os.path.exists(path):
            with open(path, encoding="utf-8", errors="replace") as existing:
                current = existing.read()
            if not current.startswith(MARKER):
                print("keeping %s (not ours: a real get-pip.py)" % path)
                continue
            if current == STAND_IN:
                continue
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as out:
            out.write(STAND_IN)
        os.replace(tmp, path)
        print("seeded %s (pip %s bootstrap via ensurepip + PyPI)" % (path, version))
    return 0


if __name__ == "__main__":
    sys.exit(main())
