# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
name: phpipam
short_description: Read any phpIPAM API path
version_added: 0.1.0
description:
  - GETs one or more phpIPAM API controller paths, such as V(subnets/cidr/198.18.10.0/24),
    V(sections/3/subnets) or V(addresses/search/198.18.10.7), and returns what phpIPAM answered, with
    field types normalised (ids as integers, flags as booleans, dates as ISO 8601 with an offset).
  - A path answering a list adds its items to the result; a path answering one object adds that object.
  - phpIPAM's "nothing found" answers (V(No addresses found), V(No results (filter applied)) and the like)
    give no items rather than an error.
  - Read-only. Uses the same connection options, environment variables and client as the modules.
  - A path phpIPAM refuses, or an unreachable phpIPAM, fails the task with the client's one-line message;
    Ansible's own C(errors=warn) or C(errors=ignore) lookup keyword turns that into a warning or nothing.
author:
  - ipamkit developers (@ipamkit)
extends_documentation_fragment:
  - ipamkit.phpipam.connection.PLUGIN_OPTIONS
options:
  _terms:
    description: API paths relative to C(<url>/api/<app_id>/).
    type: list
    elements: str
    required: true
  params:
    description:
      - Query-string parameters sent with every path, for example C(filter_by=scanAgent) and
        C(filter_value=2) as a dictionary.
    type: dict
  query:
    description:
      - A JMESPath expression applied to each path's result before it is returned, for example V([].name).
        Needs the Python library C(jmespath).
    type: str
"""

EXAMPLES = r"""
# With PHPIPAM_URL, PHPIPAM_APP_ID and PHPIPAM_TOKEN in the environment of ansible-playbook:
- name: The subnet object for a CIDR
  ansible.builtin.debug:
    msg: "{{ lookup('ipamkit.phpipam.phpipam', 'subnets/cidr/198.18.10.0/24') }}"

- name: Names of all sections, with the connection given as variables
  ansible.builtin.debug:
    msg: "{{ query('ipamkit.phpipam.phpipam', 'sections', query='[].name') }}"
  vars:
    phpipam_url: https://ipam.example.com
    phpipam_app_id: ansible
    phpipam_token: "{{ phpipam_app_code }}"

- name: Subnets of scan agent 2, tolerating an unreachable phpIPAM
  ansible.builtin.set_fact:
    agent_subnets: >-
      {{ query('ipamkit.phpipam.phpipam', 'subnets',
               params={'filter_by': 'scanAgent', 'filter_value': 2},
               query='[].{cidr: join(`/`, [subnet, to_string(mask)]), id: id}', errors='warn') }}
"""

RETURN = r"""
_list:
  description:
    - The objects phpIPAM returned for all paths, in order (or what O(query) made of them). Empty when
      phpIPAM found nothing.
  type: list
  elements: raw
"""

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

from ansible_collections.ipamkit.phpipam.plugins.module_utils.api import HAS_REQUESTS, client_from_options
from ansible_collections.ipamkit.phpipam.plugins.module_utils.errors import PhpipamConfigError, PhpipamError
from ansible_collections.ipamkit.phpipam.plugins.module_utils.normalize import to_ansible

try:
    import jmespath
    HAS_JMESPATH = True
except ImportError:
    HAS_JMESPATH = False

display = Display()

CONNECTION_OPTIONS = ('url', 'app_id', 'token', 'username', 'password', 'validate_certs', 'ca_path', 'timeout',
                      'allow_insecure_http', 'timezone')


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        if not HAS_REQUESTS:
            raise AnsibleError('the ipamkit.phpipam.phpipam lookup needs the Python library requests')
        expression = self.get_option('query')
        compiled = None
        if expression:
            if not HAS_JMESPATH:
                raise AnsibleError('the query option of the ipamkit.phpipam.phpipam lookup needs the Python library jmespath')
            try:
                compiled = jmespath.compile(expression)
            except jmespath.exceptions.ParseError as exc:
                raise AnsibleError('query %r is not a valid JMESPath expression: %s' % (expression, to_native(exc)))
        params = self.get_option('params') or None
        options = dict((name, self.get_option(name)) for name in CONNECTION_OPTIONS)

        try:
            client = client_from_options(options)
        except PhpipamConfigError as exc:
            raise AnsibleError('ipamkit.phpipam.phpipam lookup: %s' % exc)
        results = []
        try:
            for term in terms:
                try:
                    data = to_ansible(client.read(term, params=params))
                except PhpipamError as exc:
                    raise AnsibleError('ipamkit.phpipam.phpipam lookup of %r: %s' % (term, exc))
                if compiled is not None:
                    data = compiled.search(data)
                if data is None:
                    continue
                if isinstance(data, list):
                    results.extend(data)
                else:
                    results.append(data)
        finally:
            for warning in client.warnings:
                display.warning(warning)
            client.close()
        return results
