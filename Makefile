# io-relay: the commands a newcomer needs. `make demo` and `make test` work on a fresh machine
# with Python 3.11+, Java 17+ and Maven.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
KAFKA_PORT ?= 9092
export KAFKA_PORT

.PHONY: install lock audit advisories demo test lint format sandbox bench bench-sandbox kafka-up kafka-down kafka-status clean

# Everything installed comes from requirements-dev.lock, pinned with hashes; io-relay itself
# goes in on top without resolving anything again.
$(VENV)/.installed: pyproject.toml requirements-dev.lock
	$(PYTHON) -c 'import sys; sys.exit("io-relay needs Python 3.11+") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --require-hashes -r requirements-dev.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

install: $(VENV)/.installed  ## the virtualenv with io-relay and its dev tools

LOCK := $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes -q
# Needs only uv: a new dependency is not installed before it is locked.
lock:  ## re-resolve requirements.lock (the image) and requirements-dev.lock (CI, make install)
	@test -x $(BIN)/uv || $(MAKE) install
	$(LOCK) -o requirements.lock
	$(LOCK) --extra dev -o requirements-dev.lock

# OSV answers pip-audit only where it is reachable (over verified TLS); tools/audit.py checks the same advisories
# from a snapshot everywhere (see its docstring, and `make advisories` to refresh it).
audit: install  ## known vulnerabilities in the locks and in pyproject's floors
	$(BIN)/python tools/audit.py check --floors pyproject.toml requirements.lock requirements-dev.lock
	@if $(BIN)/python -c 'import httpx; httpx.get("https://api.osv.dev/", timeout=5)' 2>/dev/null; \
	then $(BIN)/pip-audit --disable-pip --require-hashes -r requirements-dev.lock; \
	else echo "audit: api.osv.dev unreachable; pip-audit skipped, the snapshot check above stands"; fi

ADVISORY_DB ?= https://github.com/pypa/advisory-database
advisories: install  ## refresh tools/advisories.json from ADVISORY_DB (a git URL)
	rm -rf .cache/advisory-database
	git clone -q --depth 1 $(ADVISORY_DB) .cache/advisory-database
	$(BIN)/python tools/audit.py snapshot requirements-dev.lock --database .cache/advisory-database \
	  --source $(ADVISORY_DB) --commit "$$(git -C .cache/advisory-database rev-parse HEAD)" \
	  --date "$$(git -C .cache/advisory-database log -1 --format=%cs)"

demo: install kafka-up  ## the sample events end to end: local Kafka, io-relay, the IO sandbox
	KAFKA_BOOTSTRAP=127.0.0.1:$(KAFKA_PORT) $(BIN)/python examples/demo.py

test: install  ## every test; starts its own broker on free ports (or IO_RELAY_TEST_BOOTSTRAP)
	$(BIN)/pytest

lint: install audit  ## ruff, mypy --strict, shellcheck and the dependency audit
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
	$(BIN)/python -m bench.content_server
	$(BIN)/python -m bench.dlq_replay
	$(BIN)/python -m bench.idle

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
