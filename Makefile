# vlaanderen.dov — the two commands a fresh machine needs: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
COLLECTIONS := .collections
OLD_CRYPTO := .cache/old-crypto
DEBIAN_PY := .cache/debian-python
IMPORTER := .cache/galaxy-importer
# ansible-test lists a collection's files with git; inside this (git) checkout the copy would be
# ignored, so it lives outside, in a folder of its own per checkout.
SANITY_ROOT := $(or $(TMPDIR),/tmp)/vlaanderen-dov-sanity-$(shell printf '%s' "$(CURDIR)" | md5sum | cut -c1-8)
TREE := $(SANITY_ROOT)/ansible_collections/vlaanderen/dov
# ansible-test keeps its virtualenvs and its pip bootstrap in ~/.ansible/test; two ansible-test runs
# on one machine (another checkout, another project) break each other's virtualenvs there. Ours
# runs with a home of its own (the user's pip configuration copied into it), kept between runs and
# checkouts so that its virtualenvs are made once (a fresh clone's sanity: minutes less), and taken
# under a lock: two checkouts of this project wait for each other instead of sharing it at once.
SANITY_HOME := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/vlaanderen-dov/ansible-test-home
PIP_VERSION = $(shell sed -n "s/^ *pip='\([0-9.]*\)',/\1/p" $(VENV)/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py | head -1)
VERSION := $(shell sed -n 's/^version: *//p' galaxy.yml)
TARBALL := .build/vlaanderen-dov-$(VERSION).tar.gz
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: demo test unit unit-host-libs sanity lint docs-lint docs galaxy-importer integration install deps bench ee clean help

help:
	@echo "make demo   - virtualenv + collection, then onboard.yml on the embedded lab inventory"
	@echo "make test   - everything CI runs: unit, ansible-test sanity, ansible-lint, docs, integration"
	@echo "make docs   - the documentation site (antsibull-docs + Sphinx): .build/docsite/sphinx/build/html/index.html"
	@echo "make bench  - onboard.yml against the same work by hand (PAIRS=N for one size); writes bench/results.md"
	@echo "make ee     - the AWX/AAP execution environment's build context (ansible-builder create)"

$(BIN)/.installed: requirements.txt requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-test.txt
	touch $@

# The system packages the tests talk to: nginx, sshd, tinyproxy, a JRE (keytool), rsync, chromium
# (renders report.html headless), sudo (the deploy user of the host-side test), Debian's own
# python3-cryptography/python3-openssl (a host interpreter with the OS's libraries); the demo needs
# keytool (the lab writes a JKS keystore).
deps:
	@missing=""; \
	for pair in nginx:nginx-light sshd:openssh-server tinyproxy:tinyproxy keytool:default-jre-headless \
	            rsync:rsync curl:curl openssl:openssl chromium:chromium sudo:sudo; do \
	  cmd=$${pair%%:*}; pkg=$${pair##*:}; \
	  command -v $$cmd >/dev/null 2>&1 || [ -x /usr/sbin/$$cmd ] || missing="$$missing $$pkg"; \
	done; \
	/usr/bin/python3 -c 'import cryptography' 2>/dev/null || missing="$$missing python3-cryptography"; \
	/usr/bin/python3 -c 'import OpenSSL' 2>/dev/null || missing="$$missing python3-openssl"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "Please install:$$missing (apt-get install$$missing)"; exit 1; fi; \
	fi

# Build the collection as a user would get it, and install it where ansible.cfg looks.
install: $(BIN)/.installed
	@mkdir -p .build
	@rm -f .build/*.tar.gz
	$(BIN)/ansible-galaxy collection build --force --output-path .build . >/dev/null
	$(BIN)/ansible-galaxy collection install --force -p $(COLLECTIONS) $(TARBALL) >/dev/null
	@echo "vlaanderen.dov $(VERSION) installed in $(COLLECTIONS)"

demo: install deps
	$(BIN)/ansible-playbook onboard.yml

unit: $(BIN)/.installed
	$(BIN)/pytest tests/unit

# ansible-test needs the collection inside an ansible_collections/<namespace>/<name> tree.
# ansible-test bootstraps pip in its virtualenvs with a script it downloads from a host that CI
# cannot reach; tests/sanity/get_pip.py does the same offline (see its docstring).
sanity: $(BIN)/.installed deps
	@mkdir -p $(TREE) $(SANITY_HOME)/.ansible/test/cache
	@cp tests/sanity/get_pip.py $(SANITY_HOME)/.ansible/test/cache/get_pip_$(subst .,_,$(PIP_VERSION)).py
	@for conf in .pip/pip.conf .config/pip/pip.conf; do \
	  if [ -f "$(HOME)/$$conf" ]; then install -D -m 0644 "$(HOME)/$$conf" "$(SANITY_HOME)/$$conf"; fi; \
	done
	rsync -a --delete --exclude-from=.sanity-exclude ./ $(TREE)/
	cd $(TREE) && HOME=$(SANITY_HOME) flock $(SANITY_HOME).lock $(CURDIR)/$(BIN)/ansible-test sanity --local --python 3.11 --color no

# ansible-lint (production profile), and the changelog fragments (changelogs/fragments/*.yml).
lint: install
	$(BIN)/ansible-lint --profile production --offline
	$(BIN)/antsibull-changelog lint

integration: install deps $(OLD_CRYPTO)/bin/.installed $(IMPORTER)/bin/.installed
	$(BIN)/pytest -c tests/integration/pytest.ini tests/integration

# A host interpreter with the oldest libraries the host side supports (Ubuntu 22.04's): made once,
# kept in .cache between runs (tests/integration/test_host_side.py makes it too when it is missing).
$(OLD_CRYPTO)/bin/.installed:
	rm -rf $(OLD_CRYPTO)
	/usr/bin/python3 -m venv $(OLD_CRYPTO)
	$(OLD_CRYPTO)/bin/pip install --quiet 'cryptography==3.4.8' 'pyOpenSSL==21.0.0'
	touch $@

# The host-side crypto unit tests with the hosts' libraries: Debian's own python3-cryptography /
# python3-openssl (a venv that sees the system packages, for pytest) and cryptography 3.4.8 /
# pyOpenSSL 21.0.0. The other unit tests need the controller's libraries (requirements.txt).
HOST_UNIT := $(addprefix tests/unit/plugins/module_utils/,_common/test_compat.py _common/test_cn.py _common/test_fsutil.py \
             _common/test_validity.py _crypto/test_certs.py _crypto/test_certload.py _crypto/test_keyfiles.py \
             _crypto/test_keystores_folder.py _tls/test_tlsprobe.py _tls/test_tlsdiagnosis.py _tls/test_tlswire.py \
             _host/test_host_integrity.py _host/test_host_hostile.py _host/test_hostlock.py _host/test_installed.py \
             _host/test_hostmanifest.py _host/test_rollover.py _host/test_retirefs.py)
$(DEBIAN_PY)/bin/.installed:
	rm -rf $(DEBIAN_PY)
	/usr/bin/python3 -m venv --system-site-packages $(DEBIAN_PY)
	$(DEBIAN_PY)/bin/pip install --quiet pytest 'ansible-core>=2.16,<2.20'
	touch $@

$(OLD_CRYPTO)/bin/.pytest: $(OLD_CRYPTO)/bin/.installed
	$(OLD_CRYPTO)/bin/pip install --quiet pytest 'ansible-core>=2.16,<2.20'
	touch $@

unit-host-libs: deps $(DEBIAN_PY)/bin/.installed $(OLD_CRYPTO)/bin/.pytest
	$(DEBIAN_PY)/bin/python -m pytest -q -p no:cacheprovider $(HOST_UNIT)
	$(OLD_CRYPTO)/bin/python -m pytest -q -p no:cacheprovider $(HOST_UNIT)

# The plugin and role docs as the Ansible docsite renders them (antsibull-docs, the tracked files).
docs-lint: $(BIN)/.installed
	$(BIN)/antsibull-docs lint-collection-docs --plugin-docs .

# The documentation site of the collection as installed from the tarball: a copy of it gets the
# pages of docs/ as extra docs (docs/docsite/extra_docs.py converts the Markdown; docs/ stays the
# source), antsibull-docs writes a page per module, filter and role and Sphinx builds the site
# with warnings as errors. Offline: links to the Ansible docs resolve through a local inventory.
DOCSITE := .build/docsite
DOCS_TREE := $(DOCSITE)/collections/ansible_collections/vlaanderen/dov
docs: install docs-lint
	rm -rf $(DOCSITE)
	mkdir -p $(dir $(DOCS_TREE))
	cp -a $(COLLECTIONS)/ansible_collections/vlaanderen/dov $(DOCS_TREE)
	$(BIN)/python docs/docsite/extra_docs.py docs $(DOCS_TREE)
	@# antsibull-docs copies a collection with git when it lies in a checkout; this copy is no part of it.
	export ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/$(DOCSITE)/collections GIT_CEILING_DIRECTORIES=$(CURDIR)/$(DOCSITE) && \
	$(BIN)/antsibull-docs lint-collection-docs --check-extra-docs-refs $(DOCS_TREE) && \
	mkdir -m 700 $(DOCSITE)/sphinx && \
	$(BIN)/antsibull-docs sphinx-init --use-current --fail-on-error --dest-dir $(DOCSITE)/sphinx \
	  --project vlaanderen.dov --copyright 'vlaanderen.dov developers' --title vlaanderen.dov \
	  --html-short-title vlaanderen.dov vlaanderen.dov >/dev/null && \
	$(BIN)/python docs/docsite/extra_docs.py --ansible-inventory $(DOCSITE)/sphinx/ansible_devel.inv && \
	echo "intersphinx_mapping = {'ansible_devel': ('https://docs.ansible.com/projects/ansible/devel/', '../ansible_devel.inv')}  # rst/../ansible_devel.inv" \
	  >> $(DOCSITE)/sphinx/conf.py && \
	$(DOCSITE)/sphinx/build.sh
	$(BIN)/python docs/docsite/extra_docs.py --check-site $(DOCSITE)/sphinx/build/html $(DOCS_TREE) docs
	@echo "Documentation site: $(DOCSITE)/sphinx/build/html/index.html"

# Galaxy's importer in a virtualenv of its own (tests/integration/test_galaxy_importer.py runs it).
$(IMPORTER)/bin/.installed: tests/galaxy-importer/requirements.txt
	rm -rf $(IMPORTER)
	$(PYTHON) -m venv $(IMPORTER)
	$(IMPORTER)/bin/pip install --quiet -r tests/galaxy-importer/requirements.txt
	touch $@

galaxy-importer: install $(IMPORTER)/bin/.installed
	$(BIN)/pytest -c tests/integration/pytest.ini tests/integration/test_galaxy_importer.py

test: unit unit-host-libs sanity lint docs integration

# The execution environment's build context (execution-environment.yml); then
# `ansible-builder build` (or podman/docker build .build/ee-context) where a container engine is.
ee: install
	$(BIN)/ansible-builder create -f execution-environment.yml -c .build/ee-context --output-filename Containerfile

# A/B rounds for 5, 20 and 80 pairs (PAIRS=N: one size); writes bench/results.md.
bench: install deps
	$(BIN)/python tests/bench/bench.py $(if $(PAIRS),--pairs $(PAIRS))

clean:
	rm -rf .build $(SANITY_ROOT) $(COLLECTIONS) .pytest_cache
