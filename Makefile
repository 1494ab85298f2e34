# ipamkit.phpipam: build and test entry points.
#
#   make demo    system packages, .venv, the real phpIPAM of tests/harness, the demo playbook
#   make test    everything CI runs (.ci/run calls exactly this), stopping at the first failure
#   make help    all targets
#
# Every target creates what it needs and can be re-run; the helpers live in tests/utils/.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CHECKOUT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
UTILS := $(CHECKOUT)/tests/utils

# Virtual environments. Interpreters are candidates: the first that can make a venv wins.
VENV ?= $(CHECKOUT)/.venv
VENV_PYTHON ?= python3.11 python3
ANSIBLE_CORE ?= ansible-core>=2.19.0,<2.20
VENV_216 ?= $(CHECKOUT)/.venv-2.16
# (pyenv's python3.10 shim fails unless 3.10 is activated: its interpreter is tried directly too.)
VENV_216_PYTHON ?= python3.10 $(wildcard $(or $(PYENV_ROOT),$(HOME)/.pyenv)/versions/3.10*/bin/python3.10) \
	python3.11 python3
ANSIBLE_CORE_216 ?= ansible-core>=2.16.0,<2.17
# .venv also gets the scan relay's engine (requirements-relay.txt: ansible-rulebook); .venv-2.16 does not.
VENV_REQUIREMENTS := $(CHECKOUT)/requirements.txt $(CHECKOUT)/tests/requirements-test.txt $(CHECKOUT)/tests/requirements-dev.txt \
	$(CHECKOUT)/requirements-relay.txt
VENV_216_REQUIREMENTS := $(CHECKOUT)/requirements.txt $(CHECKOUT)/tests/requirements-test.txt

# ansible-test runs from a copy of the checkout at $(SANITY_ROOT)/ansible_collections/ipamkit/phpipam,
# outside the checkout: inside a git repository, ansible-test would take the repository's files.
SANITY_ROOT ?= $(or $(TMPDIR),/tmp)/ipamkit-phpipam-sanity-$(shell printf %s '$(CHECKOUT)' | sha256sum | cut -c1-12)
SANITY_ARGS ?=
PYTEST_ARGS ?=

DEMO_ARGS ?=
BENCH_ARGS ?=

# The harness (phpIPAM on MariaDB + Apache/PHP, netns LANs, nmap), shellcheck for the
# shellcheck sanity test (without it ansible-test reports "No tests applicable" and passes), the
# Java 17 runtime ansible-rulebook (the scan relay) runs its rules engine on, and Kea 2.2 (DHCPv4 server
# and Control Agent; Debian's default configs listen on no interface) with busybox udhcpc for the Kea
# sync tests, which start their own kea-dhcp4 inside a test LAN namespace. OpenSSH (server and client) for
# the SSH path tests, whose sshd instances run inside test LAN namespaces; Graphviz and Chromium for the
# network map tests (rendering, and a headless screenshot of its HTML page).
SYSTEM_PACKAGES := nmap iproute2 mariadb-server apache2 libapache2-mod-php php-mysql php-gmp \
	php-mbstring php-xml php-curl php-ldap php-pear openssl shellcheck dnsmasq-base openjdk-17-jre-headless \
	kea-dhcp4-server kea-ctrl-agent busybox \
	openssh-server openssh-client graphviz chromium

# The phpIPAM release the harness installs: ../shared beside the checkout, unless set.
ifeq ($(origin PHPIPAM_SOURCE),undefined)
  ifneq ($(wildcard $(CHECKOUT)/../shared/phpipam/phpipam-1.8.2.tar.gz),)
    export PHPIPAM_SOURCE := $(abspath $(CHECKOUT)/../shared/phpipam/phpipam-1.8.2.tar.gz)
  endif
endif

TEST_STAGES := system-deps venv venv-2.16 sanity units integration lint smoke-2.16

.PHONY: help test demo bench system-deps venv venv-2.16 sanity units integration lint changelog-lint \
	smoke-2.16 clean

help:
	@echo "make demo         system-deps + venv, then tests/demo/demo.py: real phpIPAM, a demo LAN, the agent twice"
	@echo "make test         $(TEST_STAGES)"
	@echo "make bench        system-deps + venv, then bench/run.py: the agent against raw nmap and phpIPAM's API"
	@echo "                  ceiling on namespace LANs (BENCH_ARGS=...); results in bench/results, docs/performance.md"
	@echo "make system-deps  apt-get install missing Debian packages (as root; otherwise says which)"
	@echo "make venv         .venv: $(ANSIBLE_CORE), runtime + dev + relay deps, collection linked in"
	@echo "make venv-2.16    .venv-2.16: $(ANSIBLE_CORE_216), runtime + test deps, collection linked in"
	@echo "make sanity       ansible-test sanity --local, every test, no ignore file (SANITY_ARGS=...)"
	@echo "make units        pytest tests/unit (PYTEST_ARGS=...)"
	@echo "make integration  pytest tests/integration -m integration, against the real phpIPAM"
	@echo "make lint         changelog-lint + ansible-lint on roles/ and playbooks/"
	@echo "make changelog-lint  antsibull-changelog lint (changelogs/fragments)"
	@echo "make smoke-2.16   on ansible-core 2.16: pytest tests/unit, then -m smoke integration tests"
	@echo "make clean        remove the venvs and test output (not the harness state)"

test:
	@MAKE='$(MAKE)' $(UTILS)/stages.sh $(TEST_STAGES)

demo: system-deps venv
	$(VENV)/bin/python $(CHECKOUT)/tests/demo/demo.py $(DEMO_ARGS)

# Not part of `make test` (an hour of measuring); a smoke run of its smallest workload is
# (tests/integration/test_bench_smoke.py).
bench: system-deps venv
	$(VENV)/bin/python $(CHECKOUT)/bench/run.py $(BENCH_ARGS)

system-deps:
	@$(UTILS)/system-deps.sh $(SYSTEM_PACKAGES)

venv:
	@$(UTILS)/mkvenv.sh $(VENV) "$(VENV_PYTHON)" '$(ANSIBLE_CORE)' $(VENV_REQUIREMENTS)

venv-2.16:
	@$(UTILS)/mkvenv.sh $(VENV_216) "$(VENV_216_PYTHON)" '$(ANSIBLE_CORE_216)' $(VENV_216_REQUIREMENTS)

sanity: venv
	@$(UTILS)/sanity.sh $(VENV) $(SANITY_ROOT) $(SANITY_ARGS)

units: venv
	@$(UTILS)/pytest.sh $(VENV) units tests/unit $(PYTEST_ARGS)

# IPAMKIT_REQUIRE_INTEGRATION (and PHPIPAM_SOURCE) reach the tests through the environment.
integration: system-deps venv
	@$(UTILS)/pytest.sh $(VENV) integration tests/integration -m integration $(PYTEST_ARGS)

lint: venv changelog-lint
	@$(UTILS)/lint.sh $(VENV)

changelog-lint: venv
	cd $(CHECKOUT) && $(VENV)/bin/antsibull-changelog lint

smoke-2.16: system-deps venv-2.16
	@$(UTILS)/pytest.sh $(VENV_216) smoke-2.16-units tests/unit $(PYTEST_ARGS)
	@$(UTILS)/pytest.sh $(VENV_216) smoke-2.16 tests/integration -m smoke $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(VENV_216) $(SANITY_ROOT) $(CHECKOUT)/tests/output
	find $(CHECKOUT) -path $(CHECKOUT)/.harness -prune -o -path $(CHECKOUT)/.git -prune -o \
		\( -name __pycache__ -o -name .pytest_cache \) -type d -prune -exec rm -rf {} +
