#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: scan_agent_lock
short_description: Make sure only one scan agent run works at a time
version_added: 0.1.0
description:
  - Takes or gives up a lock file that belongs to the running C(ansible-playbook) process, so a scan cycle
    started by cron or a timer while the previous one is still running can back off instead of scanning twice.
  - The lock file records the owner's pid, its start time and host. A lock whose owner has ended (even killed)
    is stale and taken over on the next run; no manual clean-up is needed.
  - Taking a lock held by another live run does not fail; it returns RV(acquired=false) and who holds it.
  - Runs on the controller (an action plugin), whatever host the task targets, because the lock belongs to the
    C(ansible-playbook) run, not to a managed host.
author:
  - ipamkit developers (@ipamkit)
extends_documentation_fragment:
  - action_common_attributes
  - action_common_attributes.conn
  - action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  become:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: The lock is taken and given up in check mode too, so a check run never overlaps a real one.
  connection:
    support: none
  delegation:
    support: none
    details: The lock file is always the controller's.
  diff_mode:
    support: none
  platform:
    platforms: posix
    details: Needs C(/proc) (Linux) to tell a live owner from a stale one.
options:
  path:
    description: The lock file. Its directory is created if missing.
    type: path
    required: true
  state:
    description: V(acquired) takes the lock, V(released) gives it up (only if this run holds it).
    type: str
    choices: [acquired, released]
    default: acquired
"""

EXAMPLES = r"""
- name: Take the run lock
  ipamkit.phpipam.scan_agent_lock:
    path: /run/lock/ipamkit-phpipam-scan-agent.lock
  register: run_lock

- name: Scan only when no other run is busy
  when: run_lock.acquired
  block:
    - name: The scan cycle
      ansible.builtin.debug:
        msg: scanning
  always:
    - name: Give the lock up
      ipamkit.phpipam.scan_agent_lock:
        path: /run/lock/ipamkit-phpipam-scan-agent.lock
        state: released
"""

RETURN = r"""
acquired:
  description: Whether this run holds the lock (after O(state=acquired)).
  returned: state is acquired
  type: bool
holder:
  description: Who holds the lock - C(pid), C(start), C(host) and C(since) (ISO 8601 UTC).
  returned: state is acquired
  type: dict
released:
  description: Whether the lock was given up (false when this run did not hold it).
  returned: state is released
  type: bool
"""

from ansible_collections.ipamkit.phpipam.plugins.module_utils.module import LocalModule
from ansible_collections.ipamkit.phpipam.plugins.module_utils.runlock import LockFileError, acquire, release


def main():
    module = LocalModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            state=dict(type='str', choices=['acquired', 'released'], default='acquired'),
        ),
    )
    path = module.params['path']
    try:
        if module.params['state'] == 'acquired':
            acquired, holder = acquire(path)
            module.exit_json(changed=False, acquired=acquired, holder=holder)
        module.exit_json(changed=False, released=release(path))
    except LockFileError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg='cannot use the lock file %s: %s' % (path, exc))


if __name__ == '__main__':
    main()
