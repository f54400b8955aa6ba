# The two commands a newcomer runs (README): `make demo` and `make test`. Each does its own set-up.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/readerstudy
TEST_BROKER_URL ?= redis://127.0.0.1:6379/15

.PHONY: demo test services clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Stamps: reinstall only when a requirements file changes.
$(VENV)/.web-installed: requirements.txt | $(PY)
	$(PIP) install -q -r requirements.txt
	touch $@

$(VENV)/.test-installed: requirements.txt requirements-worker.txt requirements-test.txt | $(PY)
	$(PIP) install -q -r requirements-test.txt
	touch $@

demo: $(VENV)/.web-installed
	bash scripts/demo.sh

services:
	bash scripts/ensure-services.sh

test: $(VENV)/.test-installed services
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(PY) manage.py check
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(PY) manage.py makemigrations --check --dry-run
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(PY) -m pytest

clean:
	rm -rf $(VENV) var
