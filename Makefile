# The README's commands. Everything installs from the package registries.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: venv test test-fast lint demo bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	# torch first and alone: 2.13.0 is the CPU wheel these machines serve locally.
	$(PY) -m pip install torch==2.13.0
	# Every extra in one resolver run (export.md: coremltools + litert-torch pins).
	$(PY) -m pip install -e '.[export,test,synth,lint]'
	# BlazePose model files (person detector, real-image teacher) and the real test footage,
	# pinned by checksum, into the asset cache (movnect/assets.py).
	$(PY) -m movnect fetch-assets all
	touch $(STAMP)

# The full suite: the README's and CI's command (.ci/run).
test: venv
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) tests

# The fast lane while editing: everything but the tests marked `slow` (end-to-end training runs,
# two-process DDP, exports and conversions, subprocess signal tests; pyproject.toml markers).
test-fast: venv
	$(PY) -m pytest -q -p no:cacheprovider -m "not slow" $(PYTEST_ARGS) tests

# Ruff (rules in pyproject.toml) and mypy on the declared subset (pyproject.toml [tool.mypy]).
lint: venv
	$(PY) -m ruff check movnect postprocess teacher_student mobile_export bench scripts tests
	$(PY) -m mypy

demo: venv
	$(PY) -m movnect demo --source sports2d --out demo_out

bench: venv
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) demo_out
