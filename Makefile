# Two commands set everything up on a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# `make run` needs aidc, its dev tools and JupyterLab (aidc[notebook], so that the demo
# opens notebooks); the tests also drive a real Ray cluster, so they install the optional
# extra aidc[ray] too (ray is never imported by a center without a Ray pool).
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test test-all lint typecheck unit browser bench fuzz crash-test fmt clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,notebook,validation]'
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,ray,notebook,validation]'
	touch $(TEST_STAMP)

run: $(STAMP)
	$(BIN)/aidc server --demo

# lint and typecheck run beside the tests (one job each; CI's 30 minutes are tight).
test: $(TEST_STAMP)
	$(MAKE) -j3 lint typecheck unit

# Also every end-to-end module on PostgreSQL (`make test` runs the database-sensitive ones).
test-all: lint typecheck
	AIDC_E2E_POSTGRESQL=all $(MAKE) unit

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(TEST_STAMP)
	$(BIN)/mypy src/aidc

# The whole suite runs as two pytest processes at once (scripts/pytest-two: the servers'
# tests beside the rest; each alone leaves a core idle); PYTEST_ARGS runs one pytest.
unit: $(TEST_STAMP)
ifeq ($(strip $(PYTEST_ARGS)),)
	PYTEST=$(BIN)/pytest scripts/pytest-two
else
	$(BIN)/pytest $(PYTEST_ARGS)
endif

# The portal in Chromium (also part of `make unit`); screenshots in test-artifacts/portal/.
browser: $(TEST_STAMP)
	$(BIN)/pytest tests/browser -s

bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/submit.py
	$(BIN)/python benchmarks/scheduler_scale.py
	$(BIN)/python benchmarks/sim_speed.py
	$(BIN)/python benchmarks/engines.py
	$(BIN)/python benchmarks/ledger.py
	$(BIN)/python benchmarks/datasets.py
	$(BIN)/python benchmarks/notebooks.py
	$(BIN)/python benchmarks/validate.py
	$(BIN)/python benchmarks/load.py
	test -z "$$AIDC_TEST_DATABASE_URL" || $(BIN)/python benchmarks/load.py --database-url "$$AIDC_TEST_DATABASE_URL"

# Many more fuzzed requests per API operation than the suite's few (tests/security).
fuzz: $(TEST_STAMP)
	AIDC_FUZZ_EXAMPLES=$${AIDC_FUZZ_EXAMPLES:-200} AIDC_FUZZ_RANDOM=1 $(BIN)/pytest -q tests/security/test_fuzz.py

# 500 jobs, 6 SIGKILLs of the server (tests/e2e/test_crash_recovery.py in full size).
crash-test: $(TEST_STAMP)
	AIDC_CRASH_JOBS=500 AIDC_CRASH_KILLS=6 $(BIN)/pytest -q -s --timeout 1800 tests/e2e/test_crash_recovery.py

fmt: $(TEST_STAMP)
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
