# io-relay: the commands a newcomer needs. `make demo` and `make test` work on a fresh machine
# with Python 3.11+, Java 17+ and Maven.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
KAFKA_PORT ?= 9092
export KAFKA_PORT

.PHONY: install demo test lint format sandbox bench bench-sandbox kafka-up kafka-down kafka-status clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("io-relay needs Python 3.11+") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed  ## the virtualenv with io-relay and its dev tools

demo: install kafka-up  ## the sample events end to end: local Kafka, io-relay, the IO sandbox
	KAFKA_BOOTSTRAP=127.0.0.1:$(KAFKA_PORT) $(BIN)/python examples/demo.py

test: install  ## every test; starts its own broker on free ports (or IO_RELAY_TEST_BOOTSTRAP)
	$(BIN)/pytest

lint: install  ## ruff, mypy --strict and shellcheck
	@command -v shellcheck >/dev/null || { echo "lint needs shellcheck (apt-get install shellcheck)"; exit 1; }
	shellcheck deploy/local/kafka.sh .ci/run
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

sandbox: install  ## the IO sandbox on :8080 with the demo's citizens
	$(BIN)/io-relay sandbox --profiles examples/profiles.yaml

bench: install kafka-up  ## every relay benchmark: one table, also written to docs/benchmarks.md
	$(BIN)/python -m bench.run_all

bench-sandbox: install  ## requests/s of the sandbox on one core
	$(BIN)/python -m bench.sandbox_throughput

kafka-up:  ## start the local single-node KRaft broker (KAFKA_PORT, default 9092)
	deploy/local/kafka.sh up

kafka-down:  ## stop it
	deploy/local/kafka.sh down

kafka-status:
	deploy/local/kafka.sh status

clean: kafka-down
	rm -rf $(VENV) .cache .mypy_cache .ruff_cache .pytest_cache
