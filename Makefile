# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test install migrate superuser worker web lint format clean training-data

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(PY) manage.py migrate --noinput

## Web server on 127.0.0.1:8000 and a Celery worker, SQLite and a filesystem broker under var/.
run: migrate
	bash scripts/run.sh

superuser: migrate
	$(PY) manage.py createsuperuser

## The whole suite. DATABASE_URL / CELERY_BROKER_URL choose PostgreSQL and Redis (as .ci/run does).
test: install
	bash scripts/ensure-chromium.sh
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## The descriptor's training images from Debian packages (training/DATA.md).
training-data: install
	$(PY) training/dataset.py

clean:
	rm -rf $(VENV)
