# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""docs/examples/deploy: every file parses, and says what docs/deployment.md claims it says.

Fast and offline. The real runs (the unit's user and capability, the cron environment, the
container entry point) are in tests/integration/test_deploy_runs.py.
"""

import configparser
import importlib.util
import ipaddress
import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml

from ansible_collections.ipamkit.phpipam.plugins.module_utils import agent_config

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
DEPLOY = os.path.join(ROOT, 'docs', 'examples', 'deploy')
DOC = os.path.join(ROOT, 'docs', 'deployment.md')
VENV = '/opt/ipamkit-phpipam'
SERVICE = 'ipamkit-phpipam-agent.service'
OLDER_AGENTS_ENV_FILES = ['/etc/default/phpipam', '/etc/sysconfig/phpipam', '/etc/phpipam',
                          '/opt/phpipam-scanagent/.env']
OUR_ENV_FILE = '/etc/phpipam/scan_agent.env'


def path(*parts):
    return os.path.join(DEPLOY, *parts)


def text(*parts):
    with open(path(*parts), encoding='utf-8') as handle:
        return handle.read()


def load_yaml(*parts):
    return yaml.safe_load(text(*parts))


def example_files():
    found = []
    for root, dummy, names in os.walk(DEPLOY):
        for name in names:
            if not name.endswith('.pyc'):
                found.append(os.path.relpath(os.path.join(root, name), DEPLOY))
    return sorted(found)


def read_unit(*parts):
    """{section: {key: [values]}} with configparser; keys given more than once keep every value."""
    class Multi(dict):
        def __setitem__(self, key, value):
            if isinstance(value, list) and key in self:
                self[key].extend(value)
            else:
                super(Multi, self).__setitem__(key, value)

    parser = configparser.RawConfigParser(strict=False, dict_type=Multi, interpolation=None,
                                          empty_lines_in_values=False)
    parser.optionxform = str
    parser.read_string(text(*parts))
    return dict((section, dict((key, value.split('\n')) for key, value in parser.items(section)))
                for section in parser.sections())


def one(section, key):
    values = section[key]
    assert len(values) == 1, (key, values)
    return values[0]


def load_settings(file_data=None, env=None, file_mode=0o600):
    return agent_config.load_agent_settings(file_data=file_data, file_path='example' if file_data else None,
                                            file_mode=file_mode if file_data else None, env=env or {})


# ----------------------------------------------------------------------------- all files


def test_every_example_is_linked_from_the_deployment_page():
    with open(DOC, encoding='utf-8') as handle:
        doc = handle.read()
    missing = [name for name in example_files() if 'examples/deploy/%s' % name not in doc]
    assert not missing, 'not linked from docs/deployment.md: %s' % missing


@pytest.mark.parametrize('name', [n for n in example_files() if n.endswith(('.yml', '.yaml'))])
def test_yaml_examples_parse(name):
    documents = list(yaml.safe_load_all(text(name)))
    assert documents and all(doc is not None for doc in documents), name


def _addresses(content):
    for match in re.finditer(r'(?<![\w.])(\d{1,3}(?:\.\d{1,3}){3})(?:/\d+)?(?![\w.])', content):
        try:
            yield ipaddress.ip_address(match.group(1))
        except ValueError:
            pass
    for match in re.finditer(r'(?<![\w:.])([0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{0,4}){2,7})(?![\w:])', content):
        try:
            yield ipaddress.ip_address(match.group(1))
        except ValueError:
            pass


def test_examples_use_only_documentation_safe_addresses():
    allowed = [ipaddress.ip_network(n) for n in ('127.0.0.0/8', '198.18.0.0/15', 'fd00::/8')]
    with open(DOC, encoding='utf-8') as handle:
        sources = {'docs/deployment.md': handle.read()}
    sources.update((name, text(name)) for name in example_files())
    bad = ['%s: %s' % (name, address) for name, content in sources.items() for address in _addresses(content)
           if not any(address in net for net in allowed if net.version == address.version)]
    assert not bad


# ----------------------------------------------------------------------------- install


def test_install_script_is_valid_sh_and_installs_the_collection_and_its_requirements():
    script = text('install-agent.sh')
    assert script.startswith('#!/bin/sh\n')
    subprocess.run(['sh', '-n', path('install-agent.sh')], check=True)
    assert 'ansible-galaxy" collection install' in script
    assert 'ansible_collections/ipamkit/phpipam/requirements.txt' in script
    assert 'AGENT_VENV:-%s}' % VENV in script
    assert 'install -m 0600' in script


def test_example_config_loads_cleanly():
    loaded = load_settings(load_yaml('scan_agent.yaml'))
    assert loaded['warnings'] == []
    assert loaded['settings']['mode'] == 'direct'
    assert loaded['settings']['min_scan_interval'] == 900


def test_built_collection_ships_the_examples(tmp_path):
    galaxy = os.path.join(os.path.dirname(sys.executable), 'ansible-galaxy')
    if not os.path.exists(galaxy):
        pytest.skip('no ansible-galaxy beside %s' % sys.executable)
    subprocess.run([galaxy, 'collection', 'build', '--output-path', str(tmp_path), ROOT], check=True,
                   capture_output=True, cwd=str(tmp_path))
    with open(os.path.join(ROOT, 'galaxy.yml'), encoding='utf-8') as handle:
        version = yaml.safe_load(handle)['version']
    with tarfile.open(str(tmp_path / ('ipamkit-phpipam-%s.tar.gz' % version))) as tarball:
        names = set(tarball.getnames())
    for name in example_files():
        assert 'docs/examples/deploy/' + name in names
    assert {'requirements.txt', 'bindep.txt', 'meta/execution-environment.yml', 'docs/deployment.md'} <= names


# ----------------------------------------------------------------------------- cron


def cron_file():
    variables, jobs = {}, []
    for line in text('cron', 'ipamkit-phpipam-agent').splitlines():
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        if re.match(r'^[A-Za-z_][A-Za-z0-9_]*=', line):
            name, value = line.split('=', 1)
            variables[name] = value
        else:
            jobs.append(line.split(None, 6))
    return variables, jobs


def test_cron_file_runs_the_agent_every_5_minutes():
    variables, jobs = cron_file()
    assert len(jobs) == 1
    minute, hour, day, month, weekday, user, command = jobs[0]
    assert (minute, hour, day, month, weekday, user) == ('*/5', '*', '*', '*', '*', 'root')
    job, logger = command.split('|')
    # The bare command: no inventory, no check mode, no verbosity: the config decides.
    assert job.split() == ['ansible-playbook', 'ipamkit.phpipam.agent', '2>&1']
    assert logger.split()[:3] == ['logger', '-t', 'ipamkit-phpipam-agent']
    assert variables['PATH'].split(':')[0] == VENV + '/bin'
    assert variables['SHELL'] == '/bin/sh'
    assert variables['LANG'].endswith('UTF-8')
    assert variables['ANSIBLE_LOCALHOST_WARNING'] == 'false'
    assert variables['ANSIBLE_INVENTORY_UNPARSED_WARNING'] == 'false'
    assert variables['MAILTO'] == '""'


def test_cron_file_name_passes_run_parts_rules():
    # Debian's cron ignores /etc/cron.d files whose names have dots or other characters.
    assert os.listdir(path('cron')) == ['ipamkit-phpipam-agent']
    assert re.match(r'^[A-Za-z0-9_-]+$', 'ipamkit-phpipam-agent')
    assert text('cron', 'ipamkit-phpipam-agent').endswith('\n')


# ----------------------------------------------------------------------------- systemd


def test_service_is_a_oneshot_agent_cycle_with_the_environment_files_of_older_agents():
    unit = read_unit('systemd', SERVICE)
    assert set(unit) == {'Unit', 'Service'}
    service = unit['Service']
    assert one(service, 'Type') == 'oneshot'
    assert one(service, 'User') == 'phpipam-agent'
    # Older agents' files first, ours last (the last file wins), all optional.
    assert service['EnvironmentFile'] == ['-' + p for p in OLDER_AGENTS_ENV_FILES + [OUR_ENV_FILE]]
    argv = one(service, 'ExecStart').split()
    assert argv[:2] == [VENV + '/bin/ansible-playbook', 'ipamkit.phpipam.agent']
    # The unit gives nmap a raw-socket capability without root, so it asks for privileged scans.
    assert argv[2:] == ['-e', 'scan_agent_nmap_privileged=true']
    assert 'network-online.target' in one(unit['Unit'], 'After')


def test_service_environment_matches_the_install_layout():
    service = read_unit('systemd', SERVICE)['Service']
    env = dict(v.split('=', 1) for v in service['Environment'])
    assert env['PATH'].split(':')[0] == VENV + '/bin'
    # HOME (Ansible's ~/.ansible/tmp, the per-user cache) is the writable state directory.
    assert env['HOME'] == '/var/lib/' + one(service, 'StateDirectory')
    # Without it Ansible's module files go to the passwd home of the user, whatever HOME says.
    assert env['ANSIBLE_REMOTE_TEMP'] == env['HOME'] + '/.ansible/tmp'
    assert env['LANG'].endswith('UTF-8')
    assert env['ANSIBLE_LOCALHOST_WARNING'] == env['ANSIBLE_INVENTORY_UNPARSED_WARNING'] == 'false'


def test_service_hardening_keeps_raw_sockets():
    service = read_unit('systemd', SERVICE)['Service']
    ambient = one(service, 'AmbientCapabilities').split()
    bounding = one(service, 'CapabilityBoundingSet').split()
    assert ambient == ['CAP_NET_RAW'] and set(ambient) <= set(bounding)
    assert bounding == ['CAP_NET_RAW']
    assert one(service, 'NoNewPrivileges') == 'yes'
    assert one(service, 'ProtectSystem') == 'strict'
    assert one(service, 'ProtectHome') == 'yes'
    assert one(service, 'PrivateTmp') == 'yes'
    # ARP needs AF_PACKET, the scans AF_INET/AF_INET6, interface lists AF_NETLINK.
    assert {'AF_PACKET', 'AF_INET', 'AF_INET6', 'AF_NETLINK'} <= set(one(service, 'RestrictAddressFamilies').split())
    # The run lock's default directory stays writable under ProtectSystem=strict.
    assert one(service, 'ReadWritePaths') == '-/run/lock'
    assert 'ProtectClock' in service and 'SystemCallArchitectures' in service


def test_timer_starts_the_service_every_5_minutes():
    unit = read_unit('systemd', 'ipamkit-phpipam-agent.timer')
    timer = unit['Timer']
    assert one(timer, 'OnCalendar') == '*:0/5'
    assert one(timer, 'Unit') == SERVICE
    assert one(unit['Install'], 'WantedBy') == 'timers.target'


def test_root_drop_in_changes_only_the_user_and_the_cache():
    unit = read_unit('systemd', SERVICE + '.d', 'run-as-root.conf')
    assert set(unit) == {'Service'}
    assert one(unit['Service'], 'User') == 'root'
    assert set(unit['Service']) == {'User', 'Group', 'CacheDirectory', 'CacheDirectoryMode'}


def test_environment_file_names_variables_the_agent_reads():
    known = set(name for name, dummy in agent_config.ENV_VARS + agent_config.LEGACY_ENV_VARS)
    known |= {agent_config.CONFIG_PATH_ENV, 'IPAM_SERVER', 'IPAM_SERVER_INSECURE'}
    names = re.findall(r'^#?([A-Z][A-Z0-9_]*)=', text('systemd', 'scan_agent.env'), re.M)
    assert names
    for name in names:
        assert name in known or name.startswith('ANSIBLE_'), name
    # No active line: the file is a template, settings belong in scan_agent.yaml.
    assert not re.findall(r'^[A-Z]', text('systemd', 'scan_agent.env'), re.M)


def test_systemd_analyze_verify_is_silent(tmp_path):
    analyze = shutil.which('systemd-analyze')
    if not analyze or not os.path.isdir('/usr/lib/systemd/system'):
        pytest.skip('systemd-analyze or /usr/lib/systemd/system not here')
    root = tmp_path / 'root'
    shutil.copytree('/usr/lib/systemd/system', str(root / 'usr/lib/systemd/system'), symlinks=True)
    units = root / 'etc/systemd/system'
    units.mkdir(parents=True)
    for name in ('ipamkit-phpipam-agent.service', 'ipamkit-phpipam-agent.timer'):
        shutil.copy(path('systemd', name), str(units / name))
    shutil.copytree(path('systemd', SERVICE + '.d'), str(units / (SERVICE + '.d')))
    # ExecStart must point at an executable, as on a real agent host.
    venv_bin = root / VENV.lstrip('/') / 'bin'
    venv_bin.mkdir(parents=True)
    (venv_bin / 'ansible-playbook').write_text('#!/bin/sh\n')
    (venv_bin / 'ansible-playbook').chmod(0o755)
    run = subprocess.run([analyze, 'verify', '--root=%s' % root, '/etc/systemd/system/' + SERVICE,
                          '/etc/systemd/system/ipamkit-phpipam-agent.timer'],
                         capture_output=True, text=True, check=False)
    # verify exits 0 on unknown keys but names them: any output is a finding.
    assert run.returncode == 0 and not run.stdout.strip() and not run.stderr.strip(), run.stdout + run.stderr


# ----------------------------------------------------------------------------- container


def containerfile_instructions():
    joined = re.sub(r'\\\n\s*', ' ', text('container', 'Containerfile'))
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith('#')]


def apt_packages():
    packages = []
    for line in containerfile_instructions():
        match = re.search(r'apt-get install ([^&]*)', line)
        if match:
            packages += [word for word in match.group(1).split() if not word.startswith('-')]
    return packages


def test_containerfile_installs_nmap_ansible_core_and_the_collection():
    lines = containerfile_instructions()
    assert lines[0] == 'FROM docker.io/library/debian:12-slim'
    assert {'nmap', 'python3', 'python3-venv', 'tini', 'ca-certificates'} == set(apt_packages())
    body = '\n'.join(lines)
    assert 'pip install --no-cache-dir "$ANSIBLE_CORE"' in body
    assert 'COPY ipamkit-phpipam-*.tar.gz /tmp/' in body
    assert 'ansible-galaxy collection install --collections-path /usr/share/ansible/collections' in body
    assert '-r /usr/share/ansible/collections/ansible_collections/ipamkit/phpipam/requirements.txt' in body
    assert 'COPY agent_loop.py /usr/local/bin/ipamkit-phpipam-agent-loop' in body
    entrypoint = [line for line in lines if line.startswith('ENTRYPOINT')]
    assert entrypoint == ['ENTRYPOINT ["/usr/bin/tini", "-g", "--", "/usr/local/bin/ipamkit-phpipam-agent-loop"]']


def test_containerfile_packages_exist_in_debian_12():
    apt_cache = shutil.which('apt-cache')
    release = ''
    if os.path.exists('/etc/os-release'):
        with open('/etc/os-release', encoding='utf-8') as handle:
            release = handle.read()
    if not apt_cache or 'VERSION_CODENAME=bookworm' not in release:
        pytest.skip('needs apt-cache on Debian 12')
    for package in apt_packages():
        policy = subprocess.run([apt_cache, 'policy', package], capture_output=True, text=True, check=True).stdout
        candidate = re.search(r'Candidate: (\S+)', policy)
        if candidate is None and not policy.strip():
            pytest.skip('no apt package lists here (apt-get update)')
        assert candidate and candidate.group(1) != '(none)', package


def _loop_module():
    spec = importlib.util.spec_from_file_location('agent_loop', path('container', 'agent_loop.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _config(tmp_path, **settings):
    data = {'phpipam_url': 'https://ipam.example.com', 'phpipam_app_id': 'scanner',
            'phpipam_token': '0123456789abcdef0123456789abcdef', 'agent_code': 'fedcba9876543210fedcba9876543210'}
    data.update(settings)
    config = tmp_path / 'scan_agent.yaml'
    config.write_text(yaml.safe_dump(data))
    config.chmod(0o600)
    return str(config)


def test_loop_pauses_for_sleep_duration_from_the_file(tmp_path):
    loop = _loop_module()
    config = _config(tmp_path, sleep_duration='10m')
    assert loop.pause_seconds({'PHPIPAM_SCAN_AGENT_CONFIG': config}) == (600, 'sleep_duration from %s' % config)


def test_loop_pauses_for_ipam_sleep_duration_over_the_file(tmp_path):
    loop = _loop_module()
    env = {'PHPIPAM_SCAN_AGENT_CONFIG': _config(tmp_path, sleep_duration='10m'), 'IPAM_SLEEP_DURATION': '1m30s'}
    assert loop.pause_seconds(env) == (90, 'sleep_duration from env IPAM_SLEEP_DURATION')


def test_loop_pauses_5_minutes_when_sleep_duration_is_unset_or_unreadable(tmp_path):
    loop = _loop_module()
    assert loop.pause_seconds({'PHPIPAM_SCAN_AGENT_CONFIG': _config(tmp_path)})[0] == 300
    broken = _config(tmp_path, sleep_duration='soon')
    assert loop.pause_seconds({'PHPIPAM_SCAN_AGENT_CONFIG': broken})[0] == 300
    assert loop.pause_seconds({'PHPIPAM_SCAN_AGENT_CONFIG': str(tmp_path / 'missing.yaml')})[0] == 300


def test_loop_once_execs_the_playbook_with_the_remaining_arguments(monkeypatch):
    loop = _loop_module()
    calls = []
    monkeypatch.setattr(loop.os, 'execvp', lambda file, argv: calls.append((file, argv)))
    loop.main(['-v', '--once', '-e', 'scan_agent_remove_stale=true'])
    assert calls == [('ansible-playbook', ['ansible-playbook', 'ipamkit.phpipam.agent', '-v', '-e',
                                           'scan_agent_remove_stale=true'])]


# ----------------------------------------------------------------------------- kubernetes


def kubernetes_objects():
    objects = {}
    for name in ('secret.yaml', 'cronjob.yaml'):
        for doc in yaml.safe_load_all(text('kubernetes', name)):
            assert doc['kind'] not in objects
            objects[doc['kind']] = doc
    assert list(yaml.safe_load_all(text('kubernetes', 'cronjob.yaml')))[0]['kind'] == 'CronJob'
    return objects


def test_cronjob_runs_one_cycle_at_a_time():
    cronjob = kubernetes_objects()['CronJob']
    assert cronjob['apiVersion'] == 'batch/v1'
    spec = cronjob['spec']
    assert spec['schedule'] == '*/5 * * * *'
    assert spec['concurrencyPolicy'] == 'Forbid'
    pod = spec['jobTemplate']['spec']['template']['spec']
    assert pod['restartPolicy'] == 'Never'
    container = pod['containers'][0]
    assert container['args'] == ['--once']


def test_cronjob_mounts_the_config_secret_where_the_agent_reads_it():
    objects = kubernetes_objects()
    pod = objects['CronJob']['spec']['jobTemplate']['spec']['template']['spec']
    container = pod['containers'][0]
    mount = [m for m in container['volumeMounts'] if m['name'] == 'config'][0]
    volume = [v for v in pod['volumes'] if v['name'] == 'config'][0]['secret']
    assert volume['secretName'] == objects['Secret']['metadata']['name']
    item = [i for i in volume['items'] if i['key'] == 'scan_agent.yaml'][0]
    config_path = os.path.join(mount['mountPath'], item['path'])
    assert config_path == '/etc/phpipam/scan_agent.yaml'
    env = dict((e['name'], e['value']) for e in container['env'])
    assert env['PHPIPAM_SCAN_AGENT_CONFIG'] == config_path
    assert mount['readOnly'] is True
    # 0400: the agent's "readable by others" warning stays quiet.
    assert volume['defaultMode'] == 0o400
    # The CA file the config names is mounted from the same secret.
    config = yaml.safe_load(objects['Secret']['stringData']['scan_agent.yaml'])
    ca_item = [i for i in volume['items'] if os.path.join(mount['mountPath'], i['path']) == config['phpipam_ca_path']]
    assert ca_item and ca_item[0]['key'] in objects['Secret']['stringData']
    loaded = load_settings(config, file_mode=volume['defaultMode'])
    assert loaded['warnings'] == [] and loaded['settings']['mode'] == 'direct'


def test_cronjob_container_has_only_the_raw_socket_capability():
    pod = kubernetes_objects()['CronJob']['spec']['jobTemplate']['spec']['template']['spec']
    security = pod['containers'][0]['securityContext']
    assert security['capabilities'] == {'drop': ['ALL'], 'add': ['NET_RAW']}
    assert security['allowPrivilegeEscalation'] is False
    assert security['readOnlyRootFilesystem'] is True
    # A read-only root needs writable /tmp (nmap's files, the lock) and ~/.ansible.
    mounts = dict((m['mountPath'], m['name']) for m in pod['containers'][0]['volumeMounts'])
    empty = set(v['name'] for v in pod['volumes'] if 'emptyDir' in v)
    assert mounts['/tmp'] in empty and mounts['/root/.ansible'] in empty
    assert 'hostNetwork' not in pod   # documented as an opt-in, commented out


# ----------------------------------------------------------------------------- AWX / AAP


def credential_type():
    return load_yaml('awx', 'credential-type.yml')


def test_credential_type_fields():
    definition = credential_type()
    assert definition['kind'] == 'cloud'
    fields = dict((f['id'], f) for f in definition['inputs']['fields'])
    assert list(fields) == ['url', 'app_id', 'token', 'agent_code', 'ca_cert']
    assert all(f['type'] == 'string' and f['label'] for f in fields.values())
    assert fields['token']['secret'] is True
    assert fields['agent_code']['secret'] is True
    assert fields['ca_cert']['multiline'] is True and fields['ca_cert']['secret'] is False
    assert not fields['url'].get('secret') and not fields['app_id'].get('secret')
    assert definition['inputs']['required'] == ['url', 'app_id', 'token', 'agent_code']


def test_credential_type_injectors_use_only_declared_inputs():
    jinja2 = pytest.importorskip('jinja2')
    from jinja2 import meta  # pylint: disable=import-outside-toplevel
    definition = credential_type()
    inputs = set(f['id'] for f in definition['inputs']['fields'])
    injectors = definition['injectors']
    assert set(injectors) == {'env', 'file'}
    files = set()
    for key in injectors['file']:
        assert re.match(r'^template\.[a-z_]+$', key), key
        files.add(key.split('.', 1)[1])
    environment = jinja2.Environment()
    for template in list(injectors['env'].values()) + list(injectors['file'].values()):
        names = meta.find_undeclared_variables(environment.parse(template))
        assert names <= inputs | {'tower'}, template
        for used in re.findall(r'tower\.filename\.(\w+)', template):
            assert used in files, template
    assert set(injectors['env']) == {'PHPIPAM_URL', 'PHPIPAM_APP_ID', 'PHPIPAM_TOKEN', 'PHPIPAM_AGENT_CODE',
                                     'PHPIPAM_CA_PATH'}
    assert set(injectors['env']) <= set(name for name, dummy in agent_config.ENV_VARS)


def _inject(definition, inputs):
    """The injected environment, rendered the way AWX does: empty inputs are left undefined."""
    sandbox = pytest.importorskip('jinja2.sandbox')
    env = sandbox.ImmutableSandboxedEnvironment()
    namespace = dict((k, v) for k, v in inputs.items() if v)
    filenames = {}
    for key in definition['injectors']['file']:
        filenames[key.split('.', 1)[1]] = '/runner/env/tmp-' + key.split('.', 1)[1]
    namespace['tower'] = {'filename': filenames}
    return dict((name, env.from_string(template).render(**namespace))
                for name, template in definition['injectors']['env'].items())


def test_credential_injects_a_working_agent_environment():
    definition = credential_type()
    inputs = {'url': 'https://ipam.example.com', 'app_id': 'scanner', 'token': '0123456789abcdef0123456789abcdef',
              'agent_code': 'fedcba9876543210fedcba9876543210', 'ca_cert': '-----BEGIN CERTIFICATE-----\n...'}
    with_ca = _inject(definition, inputs)
    assert with_ca['PHPIPAM_CA_PATH'] == '/runner/env/tmp-ca_cert'
    loaded = load_settings(env=with_ca)
    assert loaded['settings']['phpipam_ca_path'] == '/runner/env/tmp-ca_cert'
    assert loaded['settings']['agent_code'] == inputs['agent_code']
    without_ca = _inject(definition, dict(inputs, ca_cert=''))
    assert without_ca['PHPIPAM_CA_PATH'] == ''
    assert load_settings(env=without_ca)['settings']['phpipam_ca_path'] is None


def test_execution_environment_is_builder_v3_with_nmap_and_the_collection():
    ee = load_yaml('awx', 'execution-environment.yml')
    assert ee['version'] == 3
    assert set(ee) <= {'version', 'images', 'dependencies', 'additional_build_files', 'additional_build_steps',
                       'build_arg_defaults', 'options'}
    assert ee['images']['base_image']['name']
    deps = ee['dependencies']
    assert 'nmap [platform:dpkg platform:rpm]' in deps['system']
    with open(os.path.join(ROOT, 'requirements.txt'), encoding='utf-8') as handle:
        runtime = [line.strip() for line in handle if line.strip() and not line.startswith('#')]
    assert deps['python'] == runtime
    assert deps['ansible_core']['package_pip'].startswith('ansible-core>=2.16')
    assert deps['python_interpreter']['python_path'] == '/usr/bin/python3.11'
    # The tarball from ansible-galaxy collection build is copied in and installed under one name.
    [build_file] = ee['additional_build_files']
    assert build_file == {'src': 'ipamkit-phpipam-*.tar.gz', 'dest': 'collections'}
    [collection] = deps['galaxy']['collections']
    assert collection['type'] == 'file'
    steps = ee['additional_build_steps']['prepend_galaxy']
    assert steps[0] == 'COPY _build/collections/ /build/collections/'
    assert steps[1].split()[-1] == collection['name']


def test_awx_project_playbook_imports_the_agent():
    plays = load_yaml('awx', 'project', 'agent.yml')
    assert plays == [{'name': 'PhpIPAM scan agent', 'ansible.builtin.import_playbook': 'ipamkit.phpipam.agent'}]


def test_awx_setup_wires_credential_ee_template_and_schedule():
    tasks = load_yaml('awx', 'setup.yml')[0]['tasks']
    by_module = dict((next(k for k in task if k.startswith('awx.awx.')), task) for task in tasks)
    assert "lookup('ansible.builtin.file', 'credential-type.yml')" in text('awx', 'setup.yml')
    template = by_module['awx.awx.job_template']['awx.awx.job_template']
    assert template['playbook'] == 'agent.yml' and os.path.exists(path('awx', 'project', 'agent.yml'))
    assert template['credentials'] == [by_module['awx.awx.credential']['awx.awx.credential']['name']]
    assert template['execution_environment'] == by_module['awx.awx.execution_environment'][
        'awx.awx.execution_environment']['name']
    assert template['allow_simultaneous'] is False
    assert all(name.startswith('scan_agent_') for name in template['extra_vars'])
    for name in template['extra_vars']:
        assert name[len('scan_agent_'):] in agent_config.SCHEMA, name
    schedule = by_module['awx.awx.schedule']['awx.awx.schedule']
    assert schedule['unified_job_template'] == template['name']
    assert 'FREQ=MINUTELY;INTERVAL=5' in schedule['rrule']
    credential_inputs = by_module['awx.awx.credential']['awx.awx.credential']['inputs']
    assert set(credential_inputs) == set(f['id'] for f in credential_type()['inputs']['fields'])
