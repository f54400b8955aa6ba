# The two commands a newcomer runs (README): `make demo` and `make test`. Each does its own set-up.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/readerstudy
TEST_BROKER_URL ?= redis://127.0.0.1:6379/15

NPM ?= npm
VIEWER_BUNDLE := static/viewer/dist/workstation.js

.PHONY: demo test services viewer chromium nginx wrk clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Stamps: reinstall only when a requirements file changes.
$(VENV)/.web-installed: requirements.txt | $(PY)
	$(PIP) install -q -r requirements.txt
	touch $@

$(VENV)/.test-installed: requirements.txt requirements-worker.txt requirements-test.txt | $(PY)
	$(PIP) install -q -r requirements-test.txt
	touch $@

# The viewer bundle (Cornerstone3D and the workstation's own modules), rebuilt when a source changes.
node_modules/.installed: package.json package-lock.json
	$(NPM) ci --no-audit --no-fund --loglevel=error
	touch $@

$(VIEWER_BUNDLE): node_modules/.installed vite.config.mjs $(wildcard static/viewer/src/*)
	$(NPM) run build --silent

viewer: $(VIEWER_BUNDLE)

# Debian packages the tests run: Chromium for the browser tests, nginx in front of gunicorn, wrk for
# bench_serving.
chromium:
	bash scripts/ensure-debian-package.sh /usr/bin/chromium chromium

nginx:
	bash scripts/ensure-debian-package.sh /usr/sbin/nginx nginx

wrk:
	bash scripts/ensure-debian-package.sh /usr/bin/wrk wrk

demo: $(VENV)/.web-installed viewer
	bash scripts/demo.sh

services:
	bash scripts/ensure-services.sh

test: $(VENV)/.test-installed viewer chromium nginx wrk services
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(NPM) test --silent
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(PY) manage.py check
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(PY) manage.py makemigrations --check --dry-run
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(PY) -m pytest

clean:
	rm -rf $(VENV) var node_modules static/viewer/dist
