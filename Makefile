# moxweb: `make run` starts localserve, `make test` runs every test. Both set up first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup run test test-sqlite test-postgres bench migrate clean

setup: $(STAMP) migrate

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

migrate: $(STAMP)
	$(PY) manage.py migrate --noinput

run: setup
	$(PY) manage.py localserve

# The whole suite on SQLite, then again on PostgreSQL when one answers at 127.0.0.1:5432.
test: $(STAMP)
	bash scripts/install-debian-packages.sh
	bash scripts/fetch-test-data.sh
	$(PY) manage.py migrate --noinput >/dev/null
	bash scripts/test.sh

bench: setup
	$(PY) bench/smtp_ingest.py

clean:
	rm -rf $(VENV) data
