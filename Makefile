# hfcheck — every target builds its own virtual environment from a fresh clone, with the test tools
# and the emulator extra (`make demo` and the tests run the Hub emulator).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= data/demo
SCHEME ?= hfcheck-v1
export HF_HUB_DISABLE_TELEMETRY := 1
export TWS_TELEMETRY := 0

.PHONY: setup test demo bench full-audit lint clean conformance conformance-buckets

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,emulator]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

demo: $(STAMP)
	$(BIN)/python -m hfcheck demo run $(DEMO_DIR) --scheme $(SCHEME)

bench: $(STAMP)
	$(BIN)/python -m bench

full-audit: $(STAMP)
	$(BIN)/python -m hfcheck audit

lint: $(STAMP)
	$(BIN)/ruff check hfcheck tests bench conformance
	$(BIN)/mypy

# huggingface_hub's own tests against the emulator, Xet on then LFS-only (conformance/run.py)
conformance: $(STAMP)
	$(BIN)/python conformance/run.py -- -n 2

# the Storage Buckets part only (buckets need Xet: one run)
conformance-buckets: $(STAMP)
	$(BIN)/python conformance/run.py --mode xet --only test_buckets -- -n 2

clean:
	rm -rf $(VENV) data/demo .pytest_cache
