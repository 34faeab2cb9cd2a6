# The two commands of the README: `make run` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test lint lock texts balancer fanout alerts ops backup drill cluster clean

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

## Start everything on embedded PostgreSQL + Redis (or DATABASE_URL/REDIS_URL if set). Ctrl-C stops it.
run: $(STAMP)
	$(VENV)/bin/gateway run

## PostgreSQL's backups (docs/backups.md): a base backup now (into BACKUP_DIR, by
## default GATEWAY_DATA_DIR/backups, where the embedded default archives its WAL), and the timed restore drill.
backup: $(STAMP)
	$(VENV)/bin/gateway backup base
drill: $(STAMP)
	$(VENV)/bin/gateway drill restore

# The browser test drives Debian's Chromium; nothing downloads a browser of its own.
CHROMIUM ?= /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
		echo "The browser test needs Debian's chromium: run 'sudo apt-get install chromium'"; exit 1; fi
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

## Debian's HAProxy, for hosts behind a balancer (`python -m bench.faults hosts`, admin/README.md's "Several
## machines") and the test of deploy/haproxy.cfg; `make run` runs one host without it.
HAPROXY ?= /usr/sbin/haproxy
$(HAPROXY):
	@if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
		echo "The balancer is Debian's haproxy: run 'sudo apt-get install haproxy'"; exit 1; fi
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null
balancer: $(STAMP) $(HAPROXY)

## Debian's nginx with Nchan, the board's fan-out server for big audiences (BOARD_FANOUT_URL, `gateway fanout`,
## `python -m bench.stream --fanout`); its test runs it too. `make run` streams without it.
NCHAN ?= /usr/lib/nginx/modules/ngx_nchan_module.so
$(NCHAN):
	@if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
		echo "The fan-out server is Debian's nginx with Nchan: run 'sudo apt-get install libnginx-mod-nchan'"; exit 1; fi
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libnginx-mod-nchan >/dev/null
fanout: $(STAMP) $(NCHAN)

## Debian's Prometheus and Alertmanager: `promtool` and `amtool` check the alert rules in deploy/prometheus and
## run their tests (tests/test_alert_rules.py, in `make test`; `make alerts` alone).
PROMTOOL ?= /usr/bin/promtool
AMTOOL ?= /usr/bin/amtool
$(PROMTOOL) $(AMTOOL):
	@if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
		echo "The alert rules' checks are Debian's: run 'sudo apt-get install prometheus prometheus-alertmanager'"; exit 1; fi
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus prometheus-alertmanager >/dev/null
alerts: $(STAMP) $(PROMTOOL) $(AMTOOL)
	$(PY) -m pytest -n 0 -q tests/test_alert_rules.py

## Prometheus, Alertmanager and the exporters against the local stack (`make run` beside it), from Debian's
## packages; config in deploy/prometheus, data under var/ops. Ctrl-C stops them.
EXPORTERS := /usr/bin/prometheus-postgres-exporter /usr/bin/prometheus-redis-exporter /usr/bin/prometheus-node-exporter
$(EXPORTERS):
	@if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
		echo "The exporters are Debian's: run 'sudo apt-get install prometheus-postgres-exporter prometheus-redis-exporter prometheus-node-exporter'"; exit 1; fi
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus-postgres-exporter \
		prometheus-redis-exporter prometheus-node-exporter >/dev/null
ops: $(PROMTOOL) $(AMTOOL) $(EXPORTERS)
	deploy/prometheus/ops.sh

## A show's deployment without a single machine (deploy/cluster/README.md): Patroni, etcd and PostgreSQL 15 (the
## database on three nodes, each commit on two), Redis Sentinel (the master found again after a failover). The suite's
## failover tests run them on loopback addresses; `make run` needs none of them. etcd, PostgreSQL 15 and Redis Sentinel
## are Debian's (postgresql-common told not to make a cluster of its own on the default port: Patroni makes and runs
## its nodes'). Patroni is PyPI's, pinned, in a virtualenv of its own (PATRONI_VENV): Debian 12's 3.0.2 lets a
## primary frozen past its leader key's ttl take the key back when it thaws, demoting the node promoted meanwhile and
## rewinding away what that one acknowledged (found by `python -m bench.faults cluster`; fixed in Patroni 3.0.3 by patroni/patroni#2689).
PATRONI_VERSION := 4.1.5
# Outside the checkout: the postgres user must reach it, and a checkout may sit in a folder only root may enter.
PATRONI_VENV := /opt/ballot-patroni-$(PATRONI_VERSION)
PATRONI ?= $(PATRONI_VENV)/bin/patroni
ETCD ?= /usr/bin/etcd
POSTGRES15 ?= /usr/lib/postgresql/15/bin/postgres
SENTINEL ?= /usr/bin/redis-sentinel
$(ETCD) $(POSTGRES15) $(SENTINEL):
	@if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
		echo "The cluster's engines are Debian's: run 'sudo apt-get install etcd-server etcd-client postgresql-15 redis-sentinel'"; exit 1; fi
	@test -e /usr/lib/postgresql/15/bin/postgres || { mkdir -p /etc/postgresql-common && \
		echo "create_main_cluster = false" >> /etc/postgresql-common/createcluster.conf; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server etcd-client \
		postgresql-15 redis-sentinel >/dev/null
# Patroni runs as the postgres user: its Python must be one that user may run (the system's, not one under /root).
PATRONI_PYTHON ?= $(firstword $(wildcard /usr/bin/python3) $(PYTHON))
$(PATRONI_VENV)/bin/patroni:
	@if [ "$$(id -u)" != 0 ]; then echo "Patroni goes into $(PATRONI_VENV): run 'sudo make cluster'"; exit 1; fi
	@test -x $(PATRONI_VENV)/bin/python || $(PATRONI_PYTHON) -m venv $(PATRONI_VENV)
	$(PATRONI_VENV)/bin/python -m pip install --quiet --disable-pip-version-check "patroni[etcd3,psycopg3]==$(PATRONI_VERSION)"
	@chmod -R go+rX $(PATRONI_VENV)  # Patroni runs as the postgres user
cluster: $(STAMP) $(PATRONI) $(ETCD) $(POSTGRES15) $(SENTINEL)

## Lint, type-check ([tool.mypy]), check the layers ([tool.importlinter] in pyproject.toml), then the
## whole test suite against real PostgreSQL and Redis (embedded unless URLs are set). The suite starts the service's
## processes some 100 times: they keep the project's compiled modules beside it, as Python does by default (a machine
## that sets PYTHONDONTWRITEBYTECODE would have each start compile the project again, a tenth of its start-up), and
## read the libraries' where pip wrote them at install (a PYTHONPYCACHEPREFIX would compile them all again in a clean
## clone's first run: ~15 s of the suite).
test: $(STAMP) $(CHROMIUM) $(NCHAN) $(HAPROXY) $(PROMTOOL) $(AMTOOL) $(EXPORTERS) $(PATRONI) $(ETCD) $(POSTGRES15) \
		$(SENTINEL)
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(VENV)/bin/lint-imports
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest

## Re-pin the dependencies after editing pyproject.toml (development and production locks).
PIN := $(VENV)/bin/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links
lock: $(STAMP)
	$(PIN) --extra embedded --extra test -o requirements.lock pyproject.toml
	$(PIN) -o requirements-prod.lock pyproject.toml

## After adding or changing a text in the code: refresh the catalogs from it, translate what is new or
## marked fuzzy in <package>/locales/*/LC_MESSAGES/<domain>.po, then run it again to compile them.
# One gettext domain per package that shows texts, as <folder>:<domain>; a domain's catalogs are in
# <folder>/locales and hold the texts of <folder>'s code (the core's `ballot` domain: refusal reasons, dates).
DOMAINS := gateway/core:ballot admin:admin channels/phone:phone channels/sms:sms channels/telegram:telegram \
	channels/ussd:ussd channels/web:web payments/mpesa:mpesa
# The voters' languages (the core's `Lang`); the admin area speaks to organisers in French and English only.
LANGUAGES := fr en sw
ORGANISER_DOMAINS := admin
ORGANISER_LANGUAGES := fr en
texts: $(STAMP)
	@for entry in $(DOMAINS); do \
		folder=$${entry%%:*}; domain=$${entry##*:}; locales=$$folder/locales; \
		$(VENV)/bin/pybabel -q extract -F babel.cfg --no-location -w 120 --project=Ballot --version=0.1 \
			--header-comment="# The texts of Ballot's $$domain domain ($$folder); msgids are English. See docs/texts.md." \
			-o $$locales/$$domain.pot $$folder || exit 1; \
		languages="$(LANGUAGES)"; case " $(ORGANISER_DOMAINS) " in *" $$domain "*) languages="$(ORGANISER_LANGUAGES)";; esac; \
		for lang in $$languages; do test -f $$locales/$$lang/LC_MESSAGES/$$domain.po || \
			$(VENV)/bin/pybabel -q init -D $$domain -i $$locales/$$domain.pot -d $$locales -l $$lang -w 120 || exit 1; done; \
		$(VENV)/bin/pybabel -q update -D $$domain -i $$locales/$$domain.pot -d $$locales -w 120 \
			--ignore-pot-creation-date --ignore-obsolete || exit 1; \
		$(VENV)/bin/pybabel compile -D $$domain -d $$locales --statistics || exit 1; \
	done

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache
