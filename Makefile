# nqpf-book: one entry point.
#   make book   create .venv, install the locked versions (requirements/book-lock.txt) and
#               nqpf_helpers, build _build/html (printing each chapter's execution time)
#   make test   (same install) run the test suite in two processes; chapters already executed
#               by the book build are checked from its cache, the others are executed
#   make lock   re-resolve '.[book,test]' in a temporary venv and rewrite the lock file
# Data: set NQPF_DATA_DIR to a local copy of the data folder; when ../shared/data exists
# (as in CI) it is used by default, otherwise files are downloaded on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements/book-lock.txt
SHARED_DATA := $(wildcard ../shared/data)
NQPF_DATA_DIR ?= $(if $(SHARED_DATA),$(abspath $(SHARED_DATA)),)
export NQPF_DATA_DIR
# Keep TensorFlow quiet and on one thread pool sized for small machines.
export TF_CPP_MIN_LOG_LEVEL ?= 2
export KERAS_BACKEND ?= tensorflow

.PHONY: install book book-strict test clean benchmark lock lint

install: $(STAMP)

# Exact versions from the lock, then the package itself without touching them. The installer
# is uv (installed into the venv with pip, pinned by UV below): from its cache it installs the
# lock in seconds where pip takes minutes. pip is the fallback: when uv cannot be installed or
# its install fails (e.g. no PyPI but a local index that pip is configured for), and always
# with `make install INSTALLER=pip`. Either way the lock is the one list of exact versions.
INSTALLER ?= uv
UV ?= uv==0.13.8
$(STAMP): pyproject.toml $(LOCK)
	@start=$$(date +%s); set -e; \
	test -d $(VENV) || $(PYTHON) -m venv $(VENV); \
	if [ "$(INSTALLER)" = uv ] && { $(BIN)/python -m uv --version >/dev/null 2>&1 || \
	     $(BIN)/python -m pip install -q --disable-pip-version-check "$(UV)"; } && \
	   $(BIN)/python -m uv pip install --python $(BIN)/python -r $(LOCK) && \
	   $(BIN)/python -m uv pip install --python $(BIN)/python --no-deps -e .; then \
	  echo "installed with uv in $$(( $$(date +%s) - start )) s"; \
	else \
	  [ "$(INSTALLER)" = pip ] || echo "uv unavailable or failed: installing with pip"; \
	  $(BIN)/python -m pip install --upgrade pip; \
	  $(BIN)/python -m pip install -r $(LOCK); \
	  $(BIN)/python -m pip install --no-deps -e .; \
	  echo "installed with pip in $$(( $$(date +%s) - start )) s"; \
	fi
	touch $(STAMP)

# Refresh the lock: newest versions allowed by pyproject.toml, resolved in a throw-away venv.
lock:
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(PYTHON) -m venv "$$tmp/venv" && \
	"$$tmp/venv/bin/python" -m pip install -q --upgrade pip && \
	"$$tmp/venv/bin/python" -m pip install -q "$$(pwd)[book,test]" && \
	{ sed -n '/^#/p' $(LOCK); "$$tmp/venv/bin/python" -m pip freeze --exclude nqpf-helpers; } > "$$tmp/lock" && \
	mv "$$tmp/lock" $(LOCK)
	@echo "rewrote $(LOCK); run 'make install' (or delete $(STAMP)) to use it"

lint: $(STAMP)
	$(BIN)/ruff check nqpf_helpers tests

# Cached build: chapters whose source did not change are not re-executed. .ci/build-book is
# `jupyter-book build` with the chapters executed in BOOK_JOBS parallel processes (default: the
# number of CPUs, at most 4; BOOK_JOBS=1 is the plain serial build). The log names each page as
# it starts and ends ("build-book: reading <chapter>", "... read in N s"); after the build
# .ci/chapter-times tables every chapter's execution time, then the last line says how long
# the build took.
BOOK_JOBS ?=
export BOOK_JOBS
book: $(STAMP)
	@start=$$(date +%s); \
	PYTHONUNBUFFERED=1 $(BIN)/python .ci/build-book . --keep-going; status=$$?; \
	$(BIN)/python .ci/chapter-times _build; \
	echo "book built in $$(( $$(date +%s) - start )) s$$( [ $$status -eq 0 ] || echo " (with errors: exit code $$status)")"; \
	exit $$status
	@echo "Open _build/html/index.html"

# Clean, strict build: warnings are errors and every chapter is executed afresh.
book-strict: $(STAMP)
	rm -rf _build
	@start=$$(date +%s); \
	PYTHONUNBUFFERED=1 $(BIN)/python .ci/build-book . -W -n --keep-going; status=$$?; \
	$(BIN)/python .ci/chapter-times _build; \
	echo "book built in $$(( $$(date +%s) - start )) s$$( [ $$status -eq 0 ] || echo " (with errors: exit code $$status)")"; \
	exit $$status

# Two worker processes (pytest-xdist) keep both cores busy; work stealing balances the long
# end-to-end tests. `make test PYTEST_WORKERS=0` runs the suite in one process.
PYTEST_WORKERS ?= 2
test: $(STAMP)
	@start=$$(date +%s); \
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(if $(filter-out 0,$(PYTEST_WORKERS)),--dist worksteal) $(PYTEST_ARGS); status=$$?; \
	echo "tests took $$(( $$(date +%s) - start )) s"; exit $$status

benchmark: $(STAMP)
	$(BIN)/python benchmarks/bench_sbm.py
	$(BIN)/python benchmarks/bench_lstm.py

clean:
	rm -rf _build .pytest_cache .hypothesis
