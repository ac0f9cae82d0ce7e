# Set-up and everyday commands. `make demo` and `make test` work on a fresh machine:
# they create .venv, install the project and start every server they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
DATA ?=
PYTEST_ARGS ?=
# Test files run on this many workers (pytest-xdist; each file stays on one worker, so its
# servers and fixtures are started once). 0 runs them in this process, one after another.
TEST_WORKERS ?= 2

INSTALL_CHECK_VENV ?= /tmp/newsdedup-install-check

.PHONY: bytecode demo test lint typecheck system-deps install-check bench bench-crawl bench-extract bench-dedup bench-state bench-read bench-archive clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PY) -m pip install --quiet -e .
	touch $@

# The project's own modules compiled to bytecode, as pip compiles the packages it installs:
# where PYTHONDONTWRITEBYTECODE is set (many container images) an editable checkout is
# otherwise compiled from source by every process it starts (the flow, each crawl process,
# the extraction workers' fork server), about 0.4 s of CPU per run. Only changed files are
# compiled again.
bytecode: | $(BIN)/python
	@$(PY) -m compileall -q crawlers flows dedup >/dev/null

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

# redis-server comes from Debian's package; the tests start their own instance.
system-deps:
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "installing redis-server (apt-get)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server >/dev/null; }
	@command -v redis-server >/dev/null 2>&1 || { echo "redis-server is still missing" >&2; exit 1; }

demo: $(VENV)/.installed bytecode
	$(BIN)/newsdedup demo

test: $(VENV)/.installed-dev system-deps
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The project installs and cleans a page with the pip that a fresh `python3 -m venv` brings
# (not upgraded): every package it imports is declared directly, whatever that pip resolves.
install-check:
	$(PYTHON) -m venv --clear $(INSTALL_CHECK_VENV)
	$(INSTALL_CHECK_VENV)/bin/python -m pip --version
	$(INSTALL_CHECK_VENV)/bin/python -m pip install --quiet -e .
	$(INSTALL_CHECK_VENV)/bin/python tests/install_check.py

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check crawlers flows dedup tests bench
	$(BIN)/mypy dedup flows crawlers

bench-extract: $(VENV)/.installed-dev
	@test -n "$(DATA)" || { echo "usage: make bench-extract DATA=../shared/bench/extraction" >&2; exit 2; }
	$(PY) bench/extract_bench.py $(DATA)

bench-dedup: $(VENV)/.installed-dev
	@test -n "$(DATA)" || { echo "usage: make bench-dedup DATA=../shared/bench/dedup/dev.jsonl.gz" >&2; exit 2; }
	$(PY) bench/dedup_bench.py $(DATA)

bench-crawl: $(VENV)/.installed-dev
	$(PY) bench/crawl_bench.py $(if $(ARTICLES),--articles $(ARTICLES))

# Dedup state at scale: a run of 40,000 against windows of 0.5, 2 and 5 million stories
# (several minutes; writes bench-results/state.json).
bench-state: $(VENV)/.installed-dev
	$(PY) bench/state_bench.py $(if $(WINDOWS),--windows $(WINDOWS))

bench-read: $(VENV)/.installed-dev
	$(PY) bench/read_bench.py --s3

bench: $(VENV)/.installed-dev bytecode
	$(PY) bench/e2e_bench.py --repeats 3

# newsdedup run --warc over a WARC of the same generated network, beside its crawl and
# warcio + trafilatura alone (writes bench-results/archive.json).
bench-archive: $(VENV)/.installed-dev
	$(PY) bench/archive_bench.py $(if $(ARTICLES),--articles $(ARTICLES))

clean:
	rm -rf data bench-results .pytest_cache
