# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scan_report filter: nmap_scan + scan_agent_info results -> a versioned scan report."""

from ansible.errors import AnsibleFilterError

from ansible_collections.ipamkit.phpipam.plugins.module_utils.scan_report import ReportError, build_report


def scan_report(scan, agent_info, generated_at=None):
    try:
        return build_report(scan, agent_info, generated_at=generated_at)
    except ReportError as exc:
        raise AnsibleFilterError('ipamkit.phpipam.scan_report: %s' % exc)


class FilterModule(object):

    def filters(self):
        return {'scan_report': scan_report}
