# Copyright: ipamkit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Installing the Debian packages the test harnesses need (as root), shared by phpipam.py and netlan.py."""

import os
import subprocess


class AptError(RuntimeError):
    """apt-get failed; the message ends with the tail of its output."""


def apt_install(packages):
    """``apt-get update`` then ``apt-get install`` of ``packages``, keeping apt from starting system services.

    Installing mariadb-server, apache2 or dnsmasq would start the *system* instances of those
    services; a temporary /usr/sbin/policy-rc.d that answers 101 tells apt not to.
    """
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    policy = '/usr/sbin/policy-rc.d'
    created_policy = False
    if not os.path.exists(policy):
        with open(policy, 'w', encoding='ascii') as handle:
            handle.write('#!/bin/sh\nexit 101\n')
        os.chmod(policy, 0o755)
        created_policy = True
    try:
        for argv, timeout in ((['apt-get', 'update'], 900),
                              (['apt-get', 'install', '-y', '--no-install-recommends'] + list(packages), 1800)):
            proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, check=False)
            if proc.returncode != 0:
                raise AptError('%s failed (rc=%d): %s' % (' '.join(argv[:2]), proc.returncode,
                                                          (proc.stdout + proc.stderr)[-2000:]))
    finally:
        if created_policy:
            os.unlink(policy)
