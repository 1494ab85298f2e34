#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation only: the work is done on the controller by the action plugin of the same name
# (plugins/action/scan_agent_config.py), with plugins/module_utils/agent_config.py.

DOCUMENTATION = r"""
module: scan_agent_config
short_description: Load and validate the scan agent's configuration
version_added: 0.1.0
description:
  - Reads the scan agent's YAML config file, the environment and O(overrides) on the controller, and returns one
    validated, flat set of settings for the rest of the scan cycle. Nothing after this task reads config files or the
    environment.
  - "Sources, later ones winning: built-in defaults, the config file, environment variables, then O(overrides)."
  - The file's top level holds the settings below (see the collection's C(docs/configuration.md)). A
    C(nofusscomputing_phpipam_scan_agent) block (NoFussComputing's scan agent) and the C(IPAM_*) variables of
    phpipam-python-scanagent are understood as well and mapped onto these settings; the collection's own names win.
  - Every problem (unknown key, wrong type, value out of range, missing setting, unusable URL, unknown time zone, bad
    duration or exclude entry) is reported at once, each naming its source and key, before anything is scanned or
    written. No message holds a token, password or agent code.
  - The result holds the phpIPAM token and password, so it is hidden from the screen and from logs as if the task had
    C(no_log) set; the registered variable keeps the values. A failed result is shown in full.
  - Runs on the controller only, reads only, and runs unchanged in check mode.
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
  connection:
    support: none
  delegation:
    support: none
    details: The file and environment are always the controller's.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  path:
    description:
      - The config file.
      - If not set, the environment variable E(PHPIPAM_SCAN_AGENT_CONFIG) is used, else
        C(/etc/phpipam/scan_agent.yaml).
      - A file named here or by E(PHPIPAM_SCAN_AGENT_CONFIG) must exist. The default file may be missing when the
        environment and O(overrides) give every required setting.
    type: path
  overrides:
    description:
      - Settings that win over the file and the environment, for example from extra vars or role variables.
      - Keys whose value is null do not count, so a role can pass all of its variables.
      - The keys are the settings' names, such as C(phpipam_url), C(agent_code) or C(remove_stale_after).
      - When given, O(vars_prefix) is not used.
    type: dict
  vars_prefix:
    description:
      - Take the overrides from the variables whose names start with this prefix (extra vars, play, role or
        inventory variables), for example V(scan_agent_) makes C(-e scan_agent_remove_stale=true) set
        C(remove_stale). Messages name the variable.
      - A variable with this prefix that is not a setting (and not in O(vars_ignore)) is an error.
    type: str
  vars_ignore:
    description: Names after O(vars_prefix) that are not settings, such as the role's own C(config_path).
    type: list
    elements: str
    default: []
  local_timezone:
    description:
      - The time zone that C(phpipam_timezone) defaults to.
      - If not set, the controller's zone is used, as an IANA name from E(TZ), C(/etc/timezone) or the
        C(/etc/localtime) link, else the current UTC offset such as C(+02:00).
    type: str
notes:
  - "Durations accept seconds or a string such as C(90), C(90s), C(15m), C(1h30m), C(2d) or C(48h), and are returned
    as whole seconds."
  - A warning is given when the file holds a token or password and is readable by its group or by others.
seealso:
  - module: ipamkit.phpipam.scan_agent_info
    description: Fetches the subnets of the agent these settings name.
"""

EXAMPLES = r"""
- name: Load /etc/phpipam/scan_agent.yaml (or $PHPIPAM_SCAN_AGENT_CONFIG) with the environment
  ipamkit.phpipam.scan_agent_config:
  register: agent_config

- name: A file of its own, with some settings from the playbook
  ipamkit.phpipam.scan_agent_config:
    path: /etc/phpipam/lab_agent.yaml
    overrides:
      remove_stale: true
      remove_stale_after: 3d
      nmap_timing: "{{ lab_nmap_timing | default(none) }}"  # null: not set here
  register: agent_config

- name: Use the settings
  ipamkit.phpipam.scan_agent_info:
    url: "{{ agent_config.settings.phpipam_url }}"
    app_id: "{{ agent_config.settings.phpipam_app_id }}"
    token: "{{ agent_config.settings.phpipam_token }}"
    ca_path: "{{ agent_config.settings.phpipam_ca_path }}"
    timezone: "{{ agent_config.settings.phpipam_timezone }}"
    agent_code: "{{ agent_config.settings.agent_code }}"
    require_write: "{{ agent_config.settings.mode == 'direct' }}"
"""

RETURN = r"""
settings:
  description:
    - Every setting, normalised (durations in whole seconds, booleans, lists), defaults filled in, plus C(mode).
    - Holds the token and password, so the task's output is hidden; the registered variable has the values.
  returned: success
  type: dict
  contains:
    mode:
      description: V(relay) when C(relay_url) is set (scan reports go to the relay), else V(direct).
      type: str
      sample: direct
    phpipam_url:
      description: phpIPAM's base URL, without C(/api).
      type: str
      sample: https://ipam.example.com
    phpipam_timezone:
      description: phpIPAM's time zone, an IANA name or an offset.
      type: str
      sample: Europe/Berlin
    remove_stale_after:
      description: An example of a duration, in seconds.
      type: int
      sample: 172800
    exclude:
      description: Addresses never scanned or changed, as canonical IPs, CIDRs and C(first-last) ranges.
      type: list
      elements: str
      sample: ["192.0.2.0/28", "192.0.2.100-192.0.2.120"]
    cache_dir:
      description: The cache directory, V(/var/cache/ipamkit-phpipam) for root else C(~/.cache/ipamkit-phpipam) if not set.
      type: str
    lock_path:
      description: The run lock file, in C(/run/lock) when writable else in C(/tmp) if not set.
      type: str
sources:
  description:
    - Where each setting's value came from, V(default), the config file's path, C(env NAME) or V(overrides).
  returned: success
  type: dict
  sample: {"phpipam_url": "env IPAM_SERVER", "phpipam_token": "/etc/phpipam/scan_agent.yaml", "nmap_timing": "default"}
config_path:
  description: The config file read, or null when there was none.
  returned: always
  type: str
  sample: /etc/phpipam/scan_agent.yaml
warnings:
  description:
    - Warnings about the configuration (also shown), such as a file with a token readable by others.
    - ansible-core 2.19 leaves the key out when there are none; use C(warnings | default([])).
  returned: when there are warnings
  type: list
  elements: str
problems:
  description: On failure, every problem found, one per item; RV(msg) lists them too.
  returned: failure
  type: list
  elements: str
  sample: ["/etc/phpipam/scan_agent.yaml: remove_stale_after: '2x' is not a duration (use 90, 90s, 15m, 1h30m, 2d)"]
msg:
  description: What was loaded, or on failure a summary line followed by one line per problem.
  returned: always
  type: str
"""
