# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin behind ipamkit.phpipam.scan_agent_lock: runs on the controller, in the ansible-playbook run.

The lock belongs to the running ansible-playbook process (module_utils/runlock.py finds it by
walking up the process tree, here from the worker ansible-playbook forked for the task). Running
in the controller instead of as a module saves the start-up of a module process twice per scan
cycle (docs/performance.md); what the lock does is unchanged.
"""

from ansible.plugins.action import ActionBase

from ansible_collections.ipamkit.phpipam.plugins.module_utils.runlock import LockFileError, acquire, release

ARGUMENT_SPEC = dict(
    path=dict(type='path', required=True),
    state=dict(type='str', choices=['acquired', 'released'], default='acquired'),
)


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        path = args['path']
        try:
            if args['state'] == 'acquired':
                acquired, holder = acquire(path)
                result.update(changed=False, acquired=acquired, holder=holder)
            else:
                result.update(changed=False, released=release(path))
        except LockFileError as exc:
            result.update(failed=True, changed=False, msg=str(exc))
        except OSError as exc:
            result.update(failed=True, changed=False, msg='cannot use the lock file %s: %s' % (path, exc))
        return result
