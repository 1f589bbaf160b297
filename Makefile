# One entry point for everything: `make demo`, `make test`, `make bench`, `make lint`.
# `make test` does all set-up on a fresh machine: the venv, the test extras, and the
# independent protocol clients (scripts/test-tools.sh: apt-get for mbpoll, npm ci for
# node-opcua-client); .ci/run only adds a throwaway PostgreSQL.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SCENARIO ?= scenarios/two_step_line.yaml
REPORTS := reports

.PHONY: demo test test-tools bench lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	mkdir -p $(REPORTS)
	$(BIN)/mestwin run $(SCENARIO) --no-progress --report $(REPORTS)/demo.md --json > $(REPORTS)/demo.json
	cat $(REPORTS)/demo.md
	@echo "== The whole loop: plant -> virtual PLCs over OPC UA (600x real time) -> MES =="
	$(BIN)/mestwin loop $(SCENARIO) --transport opcua --speed 600 --until 4h --report $(REPORTS)/demo_mes.md

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

# The independent clients the interop tests run (mbpoll from Debian, node-opcua from npm).
test-tools:
	bash scripts/test-tools.sh

test: $(STAMP) test-tools lint
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/pytest benchmarks -q --benchmark-enable --benchmark-columns=min,mean,rounds -p no:cacheprovider -s

clean:
	rm -rf $(VENV) $(REPORTS) .pytest_cache .mypy_cache .ruff_cache
