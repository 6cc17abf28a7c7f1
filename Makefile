# Two commands: `make run` serves the app, `make test` runs the whole suite.
# Both create .venv and install the pinned requirements when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := app

.PHONY: run test migrate system-deps clean bench screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

migrate: $(VENV)/.installed
	$(BIN)/flask db upgrade

run: migrate
	$(BIN)/gunicorn --config gunicorn.conf.py

system-deps:
	bash scripts/install-system-deps.sh

# axe-core for the accessibility tests, from the committed lock file; test-only, never shipped.
AXE := tests/e2e/axe/node_modules/axe-core/axe.min.js
$(AXE): tests/e2e/axe/package-lock.json | system-deps
	npm ci --prefix tests/e2e/axe --no-audit --no-fund
	touch $@

test: $(VENV)/.installed system-deps $(AXE)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The five scenarios of docs/performance.md; writes bench/results/latest.{md,json}.
# BENCH_ARGS=--quick for a smoke run, or e.g. BENCH_ARGS="--only 3".
# The README's dashboard picture, taken by the browser test that checks it.
screenshots: $(VENV)/.installed system-deps
	TT_UPDATE_DOCS_IMAGES=1 $(BIN)/python -m pytest -q tests/e2e/test_readme_screenshot.py

bench: $(VENV)/.installed
	bash scripts/install-system-deps.sh bench
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
