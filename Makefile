# moxweb: `make run` starts localserve, `make test` runs every test. Both set up first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup run test test-sqlite test-postgres bench faults fuzz migrate clean

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

# Each benchmark runs moxweb beside its Debian peer (Postfix, Dovecot) in the same run and
# writes bench/results/<name>.md; bench/combine.py joins them into bench/results/latest.md.
bench: setup
	bash scripts/install-debian-packages.sh
	$(PY) bench/smtp_ingest.py
	$(PY) bench/imap_bench.py
	$(PY) bench/queue_delivery.py
	$(PY) bench/combine.py

# Longer crash and fault runs than `make test` holds (kill -9 under load and the like).
faults: setup
	bash scripts/install-debian-packages.sh
	bash scripts/faults.sh

# Longer fuzzing campaigns (atheris) over the corpus kept in tests/fuzz/corpus.
fuzz: setup
	bash scripts/fuzz.sh

clean:
	rm -rf $(VENV) data
