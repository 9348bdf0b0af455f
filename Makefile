# Two commands set everything up on a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Optional extras to install too (CI: EXTRAS=dev,ray for the Ray engine's tests).
EXTRAS ?= dev
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit bench fmt clean

# A new EXTRAS list (its marker file is missing) reinstalls.
$(STAMP): pyproject.toml $(VENV)/.extras-$(EXTRAS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $(STAMP)

$(VENV)/.extras-%:
	mkdir -p $(VENV)
	touch '$@'

run: $(STAMP)
	$(BIN)/aidc server --demo

test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy src/aidc

unit: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/submit.py
	$(BIN)/python benchmarks/scheduler_scale.py
	$(BIN)/python benchmarks/sim_speed.py
	$(BIN)/python benchmarks/engines.py

fmt: $(STAMP)
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
