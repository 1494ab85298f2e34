# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Copy the checkout into a tree ending in ansible_collections/<namespace>/<name> for ansible-test.

ansible-test only runs from such a path, and it takes os.getcwd(), so a symlink to the checkout
does not do: the tree is a copy. The files copied are those ansible-test itself would take from
git (tracked plus untracked-but-not-ignored, minus deleted), read from the working tree, so
uncommitted work is tested as it is. The copy has no .git and ansible-test then tests every
file in it. Without git, the checkout is walked, skipping what .gitignore keeps out.

The tree must not be inside a git repository (ansible-test would use that repository's file
list instead). It is rebuilt from scratch on every call, keeping file modes (executable bits)
and symlinks.

usage: python tests/utils/sanity_tree.py CHECKOUT DEST
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

# Used only without git: mirrors .gitignore.
SKIP_DIRS = {".git", ".harness", "__pycache__", ".pytest_cache", ".tox", ".ansible", "build"}
SKIP_ROOT_DIRS_PREFIX = (".venv",)
SKIP_SUFFIXES = (".pyc", ".pyo", ".tar.gz")


def git_files(checkout: str) -> list[str] | None:
    """Return the files git would commit from the working tree, or None when git cannot tell."""
    def ls(*args: str) -> list[str]:
        out = subprocess.run(["git", "-C", checkout, "ls-files", "-z", *args],
                             check=True, capture_output=True).stdout
        return [os.fsdecode(path) for path in out.split(b"\0") if path]

    try:
        top = subprocess.run(["git", "-C", checkout, "rev-parse", "--show-toplevel"],
                             check=True, capture_output=True, text=True).stdout.strip()
        if os.path.realpath(top) != os.path.realpath(checkout):
            return None
        files = set(ls("--cached", "--others", "--exclude-standard")) - set(ls("--deleted"))
    except (OSError, subprocess.CalledProcessError):
        return None
    return sorted(path for path in files if os.path.lexists(os.path.join(checkout, path)))


def walked_files(checkout: str) -> list[str]:
    """Return the checkout's files when there is no git, skipping local environments and output."""
    files = []
    for root, dirs, names in os.walk(checkout):
        rel_root = os.path.relpath(root, checkout)
        dirs[:] = sorted(
            d for d in dirs
            if d not in SKIP_DIRS
            and not (rel_root == "." and d.startswith(SKIP_ROOT_DIRS_PREFIX))
            and not (rel_root == "tests" and d == "output")
        )
        for name in names:
            if not name.endswith(SKIP_SUFFIXES):
                files.append(os.path.normpath(os.path.join(rel_root, name)))
        # directory symlinks are not walked into: copy them as links
        files.extend(os.path.normpath(os.path.join(rel_root, d)) for d in dirs
                     if os.path.islink(os.path.join(root, d)))
    return sorted(files)


def enclosing_git(path: str) -> str | None:
    """Return the nearest directory at or above path holding .git, if any."""
    path = os.path.realpath(path)
    while True:
        if os.path.exists(os.path.join(path, ".git")):
            return path
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    checkout, dest = (os.path.abspath(arg) for arg in sys.argv[1:])
    parts = dest.split(os.sep)
    if len(parts) < 3 or parts[-3] != "ansible_collections":
        print("DEST must end in ansible_collections/<namespace>/<name>: %s" % dest, file=sys.stderr)
        return 2
    if os.path.commonpath([os.path.realpath(checkout), os.path.realpath(dest)]) == os.path.realpath(dest):
        print("DEST would hold the checkout itself, and it is rebuilt from scratch: %s" % dest, file=sys.stderr)
        return 2
    repo = enclosing_git(dest)
    if repo:
        # ansible-test walks up from the collection looking for .git: inside a repository it
        # would take that repository's files (where this copy is ignored) and test nothing.
        print("DEST must not be inside a git repository (%s): %s" % (repo, dest), file=sys.stderr)
        return 2

    files = git_files(checkout)
    source = "git ls-files (tracked + untracked, not ignored)"
    if files is None:
        files = walked_files(checkout)
        source = "walking the checkout (no git)"

    if os.path.lexists(dest):
        shutil.rmtree(dest)
    os.makedirs(dest)
    for rel in files:
        src, dst = os.path.join(checkout, rel), os.path.join(dest, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.islink(src):
            os.symlink(os.readlink(src), dst)
        else:
            shutil.copy2(src, dst)
    print("sanity tree: %d files from %s -> %s" % (len(files), source, dest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
