# The two commands of the README: `make run` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv system-deps run test lint bench chaos clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

system-deps:
	bash deploy/system-deps.sh

run: venv
	$(BIN)/python -m deploy.run

test: venv system-deps
	$(BIN)/python -m pytest

chaos: venv
	$(BIN)/python -m deploy.chaos

bench: venv
	$(BIN)/python -m bench.run

lint: venv
	$(BIN)/ruff check .

clean:
	rm -rf var/stack var/run
