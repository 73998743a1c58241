# nqpf-book: one entry point.
#   make book   create .venv, install nqpf_helpers with the book and test extras, build _build/html
#   make test   (same install) run the test suite, which also executes every chapter
# Data: set NQPF_DATA_DIR to a local copy of the data folder; when ../shared/data exists
# (as in CI) it is used by default, otherwise files are downloaded on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SHARED_DATA := $(wildcard ../shared/data)
NQPF_DATA_DIR ?= $(if $(SHARED_DATA),$(abspath $(SHARED_DATA)),)
export NQPF_DATA_DIR
# Keep TensorFlow quiet and on one thread pool sized for small machines.
export TF_CPP_MIN_LOG_LEVEL ?= 2
export KERAS_BACKEND ?= tensorflow

.PHONY: install book book-strict test clean benchmark

install: $(STAMP)

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[book,test]'
	touch $(STAMP)

# Cached build: chapters whose source did not change are not re-executed.
book: $(STAMP)
	$(BIN)/jupyter-book build . --keep-going
	@echo "Open _build/html/index.html"

# Clean, strict build: warnings are errors and every chapter is executed afresh.
book-strict: $(STAMP)
	rm -rf _build
	$(BIN)/jupyter-book build . -W -n --keep-going

test: $(STAMP)
	$(BIN)/python -m pytest

benchmark: $(STAMP)
	$(BIN)/python benchmarks/bench_sbm.py
	$(BIN)/python benchmarks/bench_lstm.py

clean:
	rm -rf _build .pytest_cache .hypothesis
