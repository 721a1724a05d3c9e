# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test install migrate superuser worker web lint format clean train-install train training-data

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
# The suite in TEST_PROCESSES processes (pytest-xdist; a test database and a
# broker database each; idle processes steal queued tests), then, alone, the
# tests that restart a service the others share. Exit 5 is "no test
# selected" (PYTEST_ARGS naming tests of one kind only). Three on two cores:
# the suite waits on workers, servers and the database about half the time.
TEST_PROCESSES ?= 3
test: install
	bash scripts/ensure-chromium.sh
	$(PY) -m pytest -n $(TEST_PROCESSES) --dist worksteal -m "not serial" $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(PY) -m pytest -m serial $(PYTEST_ARGS) || [ $$? -eq 5 ]

## Training the copy-detection descriptor (PyTorch; not needed to run or test the registry).
TRAIN_STAMP := $(VENV)/.train-installed
$(TRAIN_STAMP): requirements-train.txt $(STAMP)
	$(PY) -m pip install --quiet -r requirements-train.txt
	touch $(TRAIN_STAMP)

train-install: $(TRAIN_STAMP)

## Train on a GPU when there is one, else the CPU configuration; then export with
## `$(PY) -m training.export var/training/run-<config>/checkpoint.pt --version N`.
train: train-install
	$(PY) -m training.train $(TRAIN_ARGS)

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
