# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AnsibleModule bases of the collection: phpIPAM connection, client, errors, output; and local modules."""

from contextlib import contextmanager

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.ipamkit.phpipam.plugins.module_utils.api import (
    HAS_REQUESTS,
    REQUESTS_IMPORT_ERROR,
    client_from_options,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.errors import PhpipamError
from ansible_collections.ipamkit.phpipam.plugins.module_utils.normalize import to_ansible

# The connection options every module takes; documented once in doc_fragments/connection.py
# (a unit test keeps the two in step).
CONNECTION_SPEC = dict(
    # Required for every request; not required by the spec, because a module may have nothing to
    # ask phpIPAM (scan_upload posting to a relay): the client says what is missing when it is built.
    url=dict(type='str', fallback=(env_fallback, ['PHPIPAM_URL'])),
    app_id=dict(type='str', fallback=(env_fallback, ['PHPIPAM_APP_ID'])),
    token=dict(type='str', no_log=True, fallback=(env_fallback, ['PHPIPAM_TOKEN'])),
    username=dict(type='str', fallback=(env_fallback, ['PHPIPAM_USERNAME'])),
    password=dict(type='str', no_log=True, fallback=(env_fallback, ['PHPIPAM_PASSWORD'])),
    validate_certs=dict(type='bool', default=True, fallback=(env_fallback, ['PHPIPAM_VALIDATE_CERTS'])),
    ca_path=dict(type='path', fallback=(env_fallback, ['PHPIPAM_CA_PATH'])),
    timeout=dict(type='int', default=30, fallback=(env_fallback, ['PHPIPAM_TIMEOUT'])),
    allow_insecure_http=dict(type='bool', default=False),
    timezone=dict(type='str', default='UTC', fallback=(env_fallback, ['PHPIPAM_TIMEZONE'])),
)


class PhpipamModule(AnsibleModule):
    """AnsibleModule with the phpIPAM connection options, a client, and errors turned into fail_json."""

    def __init__(self, argument_spec=None, supports_check_mode=True, **kwargs):
        spec = dict(CONNECTION_SPEC)
        spec.update(argument_spec or {})
        super(PhpipamModule, self).__init__(argument_spec=spec, supports_check_mode=supports_check_mode, **kwargs)
        if not HAS_REQUESTS:
            self.fail_json(msg=missing_required_lib('requests'), exception=REQUESTS_IMPORT_ERROR)
        self._client = None

    @property
    def client(self):
        if self._client is None:
            try:
                self._client = client_from_options(self.params)
            except PhpipamError as exc:
                self.fail_from_error(exc)
        return self._client

    @contextmanager
    def api(self):
        """Run a block against phpIPAM; any client error ends the module with a one-line message."""
        try:
            yield self.client
        except PhpipamError as exc:
            self.fail_from_error(exc)

    def fail_from_error(self, exc, **extra):
        self.fail_json(msg=str(exc), error=exc.to_dict(), **extra)

    def _emit_client_warnings(self):
        if self._client is not None:
            for warning in self._client.warnings:
                self.warn(warning)
            self._client.warnings = []

    def exit_json(self, **kwargs):
        self._emit_client_warnings()
        if self._client is not None:
            self._client.close()
        kwargs.setdefault('changed', False)
        super(PhpipamModule, self).exit_json(**to_ansible(kwargs))

    def fail_json(self, msg, **kwargs):
        self._emit_client_warnings()
        super(PhpipamModule, self).fail_json(msg=msg, **to_ansible(kwargs))


class LocalModule(AnsibleModule):
    """A module that needs no phpIPAM connection (nmap, the run lock): check mode on, output JSON-safe."""

    def __init__(self, argument_spec=None, supports_check_mode=True, **kwargs):
        super(LocalModule, self).__init__(argument_spec=argument_spec or {}, supports_check_mode=supports_check_mode,
                                          **kwargs)

    def exit_json(self, **kwargs):
        kwargs.setdefault('changed', False)
        super(LocalModule, self).exit_json(**to_ansible(kwargs))
