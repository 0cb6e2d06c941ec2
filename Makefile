# kernelscope: `make demo` runs the main job on the embedded model, `make test` runs the test suite.
# Both set up a virtual environment in .venv first (Python 3.11+ and pip are all they need).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kernelscope-installed

.PHONY: demo test test-fast lint typecheck bench fixtures clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[capture,tui,dev,checkpoints]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/kernelscope profile --quant int4

test: $(STAMP)
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

lint typecheck: $(STAMP)
	$(BIN)/python -m pytest tests/test_quality.py

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_analyze.py && $(BIN)/python benchmarks/bench_tui.py

fixtures: $(STAMP)
	$(BIN)/python fixtures/make_fixture_model.py

clean:
	rm -rf $(VENV) build dist *.egg-info runs
