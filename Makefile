# Set-up-and-run entry points. Every target creates .venv and installs when needed.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
UV_VERSION := 0.13.9
HOST   ?= 127.0.0.1
PORT   ?= 8866
LAB_PORT ?= 8888

.PHONY: install demo test lint format lab dashboard bench lock clean

install: $(STAMP)

# Bytecode is compiled once at install: a kernel, the CLI and each test subprocess then
# import the stack in about a third of the time (nothing is compiled again when
# PYTHONDONTWRITEBYTECODE is set, as on this project's CI machines).
$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || { command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (or pass PYTHON=...)"; exit 1; }; $(PYTHON) -m venv $(VENV); }
	@test -x $(BIN)/uv || $(BIN)/python -m pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -r requirements.lock -e ".[test]"
	$(BIN)/python -m compileall -q circman_kernel
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/circman demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# JupyterLab on notebooks/ (as root too); prints the URL with its token; Ctrl+C stops it.
lab: $(STAMP)
	$(BIN)/circman lab --host $(HOST) --port $(LAB_PORT)

dashboard: $(STAMP)
	$(BIN)/circman dashboard --host $(HOST) --port $(PORT)

bench: $(STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

# Re-resolve the pinned versions (run after changing dependencies in pyproject.toml).
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra test --python-version 3.11 -q -o requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache benchmarks/results
