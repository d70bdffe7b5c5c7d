# The two commands of the README: `make run` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv system-deps kafka-jars run test lint bench chaos catalogs clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

system-deps:
	bash deploy/system-deps.sh

# Apache Kafka's jars (deploy/kafka/pom.xml) into var/kafka, once, where java and mvn exist: the
# tests run on Apache Kafka there, on the Tansu stand-in elsewhere.
kafka-jars: venv
	@if command -v java >/dev/null && command -v mvn >/dev/null; then \
	  $(BIN)/python -m deploy.kafkastack resolve >/dev/null \
	  || echo "kafka-jars: mvn could not fetch Apache Kafka: the tests run on the Tansu stand-in"; \
	else echo "kafka-jars: no java or mvn on PATH: the tests run on the Tansu stand-in"; fi

run: venv
	$(BIN)/python -m deploy.run

test: venv system-deps kafka-jars
	$(BIN)/python -m pytest

# `make chaos ARGS="--kafka apache"`: three Apache Kafka brokers, one killed, in place of the wiped Tansu.
chaos: venv
	$(BIN)/python -m deploy.chaos $(ARGS)

bench: venv
	$(BIN)/python -m bench.run

lint: venv
	$(BIN)/ruff check .

# The texts marked N_ in the code into the catalogs (shared/i18n.py): new ones come in empty.
catalogs: venv
	mkdir -p var
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-default-keywords --sort-by-file --add-location=file -o var/messages.pot .
	$(BIN)/pybabel update -i var/messages.pot -d shared/translations --no-fuzzy-matching --ignore-obsolete --width 100

clean:
	rm -rf var/stack var/run
