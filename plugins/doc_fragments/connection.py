# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How to reach phpIPAM: the connection options shared by every module and plugin."""


class ModuleDocFragment(object):

    # Modules: options with environment fallbacks (see plugins/module_utils/module.py CONNECTION_SPEC).
    DOCUMENTATION = r"""
options:
  url:
    description:
      - phpIPAM's base URL, without C(/api), for example V(https://ipam.example.com) or V(https://host/phpipam).
        Requests go to C(<url>/api/<app_id>/).
      - Plain V(http://) is accepted only for loopback addresses unless O(allow_insecure_http=true).
      - If not set, the environment variable E(PHPIPAM_URL) is used.
      - Required whenever the module talks to phpIPAM, which is always unless its own documentation says
        otherwise (for example M(ipamkit.phpipam.scan_upload) posting to a relay).
    type: str
  app_id:
    description:
      - The API app id, as listed in phpIPAM under Administration > API.
      - If not set, the environment variable E(PHPIPAM_APP_ID) is used.
      - Required whenever O(url) is.
    type: str
  token:
    description:
      - An app code (for apps whose security is C(SSL with App code token)) or a user token (for apps with
        C(SSL with User token)), sent in the C(token) header.
      - Takes precedence over O(username) and O(password).
      - If not set, the environment variable E(PHPIPAM_TOKEN) is used.
    type: str
  username:
    description:
      - phpIPAM user to log in as, with O(password), on apps whose security is C(SSL with User token). The
        user token phpIPAM returns is kept for the run and renewed once if phpIPAM says it expired.
      - If not set, the environment variable E(PHPIPAM_USERNAME) is used.
    type: str
  password:
    description:
      - Password of O(username).
      - If not set, the environment variable E(PHPIPAM_PASSWORD) is used.
    type: str
  validate_certs:
    description:
      - Verify phpIPAM's TLS certificate. Turn this off only for throw-away test servers; use O(ca_path) for a
        private CA instead.
      - If not set, the environment variable E(PHPIPAM_VALIDATE_CERTS) is used.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file with the CA certificate(s) that issued phpIPAM's certificate, for a private CA.
      - If not set, the environment variable E(PHPIPAM_CA_PATH) is used.
    type: path
  timeout:
    description:
      - Seconds to wait for phpIPAM to answer one request.
      - If not set, the environment variable E(PHPIPAM_TIMEOUT) is used.
    type: int
    default: 30
  allow_insecure_http:
    description:
      - Allow an V(http://) O(url) that is not a loopback address. Credentials then travel unencrypted; phpIPAM
        itself refuses plain HTTP for apps with SSL security.
    type: bool
    default: false
  timezone:
    description:
      - phpIPAM's time zone (PHP C(date.timezone) and the database's), as an IANA name such as
        V(Europe/Berlin) or an offset such as V(+02:00). phpIPAM stores dates without a zone; the collection
        reads and writes them in this one and returns them in ISO 8601 with an offset.
      - If not set, the environment variable E(PHPIPAM_TIMEZONE) is used.
    type: str
    default: UTC
notes:
  - The connection options can be set once for a play with C(module_defaults) and the action group
    C(group/ipamkit.phpipam.phpipam).
requirements:
  - requests
"""

    # Lookup, inventory and filter plugins: the same options, read from the environment or variables.
    PLUGIN_OPTIONS = r"""
options:
  url:
    description:
      - phpIPAM's base URL, without C(/api), for example V(https://ipam.example.com).
      - Plain V(http://) is accepted only for loopback addresses unless O(allow_insecure_http=true).
    type: str
    env:
      - name: PHPIPAM_URL
    vars:
      - name: phpipam_url
  app_id:
    description: The API app id, as listed in phpIPAM under Administration > API.
    type: str
    env:
      - name: PHPIPAM_APP_ID
    vars:
      - name: phpipam_app_id
  token:
    description:
      - An app code or a user token, sent in the C(token) header. Takes precedence over O(username).
    type: str
    env:
      - name: PHPIPAM_TOKEN
    vars:
      - name: phpipam_token
  username:
    description: phpIPAM user to log in as, with O(password).
    type: str
    env:
      - name: PHPIPAM_USERNAME
    vars:
      - name: phpipam_username
  password:
    description: Password of O(username).
    type: str
    env:
      - name: PHPIPAM_PASSWORD
    vars:
      - name: phpipam_password
  validate_certs:
    description: Verify phpIPAM's TLS certificate.
    type: bool
    default: true
    env:
      - name: PHPIPAM_VALIDATE_CERTS
    vars:
      - name: phpipam_validate_certs
  ca_path:
    description: PEM file with the CA certificate(s) that issued phpIPAM's certificate.
    type: path
    env:
      - name: PHPIPAM_CA_PATH
    vars:
      - name: phpipam_ca_path
  timeout:
    description: Seconds to wait for phpIPAM to answer one request.
    type: int
    default: 30
    env:
      - name: PHPIPAM_TIMEOUT
    vars:
      - name: phpipam_timeout
  allow_insecure_http:
    description: Allow an V(http://) O(url) that is not a loopback address.
    type: bool
    default: false
    vars:
      - name: phpipam_allow_insecure_http
  timezone:
    description: phpIPAM's time zone, as an IANA name or an offset such as V(+02:00).
    type: str
    default: UTC
    env:
      - name: PHPIPAM_TIMEZONE
    vars:
      - name: phpipam_timezone
requirements:
  - requests
"""

    ATTRIBUTES = r"""
attributes:
  check_mode:
    description: Can run in check mode and return a change prediction without changing phpIPAM.
  diff_mode:
    description: Returns what changed (or would change, in check mode) when run with C(--diff).
  platform:
    description: Runs on the controller or wherever the task is delegated, and talks to phpIPAM over HTTPS.
    support: full
    platforms: all
  action_group:
    description: Part of the C(ipamkit.phpipam.phpipam) action group, so C(module_defaults) can set the connection once.
    support: full
    membership:
      - ipamkit.phpipam.phpipam
"""
