# Mood Evidence Atlas — editor and developer commands.  `make help` lists them.
# Shape follows Pelican's generated Makefile (INPUTDIR/OUTPUTDIR/CONFFILE/PUBLISHCONF).

PYTHON_BOOT ?= python3
VENV        ?= .venv
PY          := $(VENV)/bin/python
PELICAN     := $(VENV)/bin/pelican

BASEDIR     := $(CURDIR)
INPUTDIR    := $(BASEDIR)/content
OUTPUTDIR   := $(BASEDIR)/output
CONFFILE    := $(BASEDIR)/pelican.conf.py
PUBLISHCONF := $(BASEDIR)/pelican.publish.py
PORT        ?= 8000

PELICANOPTS ?=
HARVESTOPTS ?=
# One lock for every platform and Python the project supports (pyproject: requires-python).
LOCKOPTS    := --generate-hashes --universal --python-version 3.11 --no-header --quiet

.DEFAULT_GOAL := help
.PHONY: help venv build publish serve test test-pelican-lowest check harvest cards bench lock clean

help: ## Show this help
	@echo 'Mood Evidence Atlas'
	@echo
	@echo 'Usage: make <target> [VAR=value]'
	@echo
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo
	@echo 'Variables: PORT=$(PORT)  PELICANOPTS=  HARVESTOPTS= (e.g. HARVESTOPTS="--full --topic tms")'
	@echo 'Environment: NCBI_API_KEY, NCBI_EMAIL, EUTILS_BASE_URL, CTGOV_BASE_URL (see README.md)'

# Installs come from the lock files (exact versions with hashes, made by `make lock` from
# pyproject.toml); the venv is refreshed when they change.  Stamps keep runtime and test installs
# apart so `make build` never pulls in browser-test packages.
LOCK_RUNTIME := requirements/runtime.txt
LOCK_TEST    := requirements/test.txt
LOCK_BENCH   := requirements/bench.txt

$(VENV)/.stamp-runtime: pyproject.toml $(LOCK_RUNTIME)
	test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK_RUNTIME)
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.stamp-test: $(VENV)/.stamp-runtime $(LOCK_TEST)
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK_TEST)
	touch $@

venv: $(VENV)/.stamp-runtime ## Create/refresh the virtualenv (.venv)

build: $(VENV)/.stamp-runtime ## Build the site + Pagefind search index from committed content into output/ (offline, no keys)
	$(PELICAN) $(INPUTDIR) -o $(OUTPUTDIR) -s $(CONFFILE) --fatal errors $(PELICANOPTS)

publish: $(VENV)/.stamp-runtime ## Build the deployable site (absolute URLs from SITEURL)
	$(PELICAN) $(INPUTDIR) -o $(OUTPUTDIR) -s $(PUBLISHCONF) --fatal errors $(PELICANOPTS)

serve: ## Serve output/ on http://localhost (PORT=8000; run `make build` first)
	$(PY) -m http.server $(PORT) --bind 127.0.0.1 --directory $(OUTPUTDIR)

test: $(VENV)/.stamp-test ## Run the whole test suite (installs test deps and, if missing, Debian Chromium)
	bash .ci/install-chromium
	$(PY) -m pytest $(PYTESTOPTS)

# The plugins use Pelican's signals, settings and writer hook, whose behaviour differs between
# releases: their tests (real site builds among them) also run on the lowest Pelican pyproject.toml allows.
PELICAN_LOWEST := $(shell sed -n 's/^ *"pelican>=\([0-9.]*\).*/\1/p' pyproject.toml)

test-pelican-lowest: $(VENV)/.stamp-test ## Run the plugin tests on the lowest Pelican pyproject.toml allows
	rm -rf .pelican-lowest
	$(PY) -m pip install --quiet --no-deps --target .pelican-lowest "pelican==$(PELICAN_LOWEST)"
	PYTHONPATH=.pelican-lowest $(PY) -c "import pelican; assert pelican.__version__.startswith('$(PELICAN_LOWEST)'), pelican.__version__"
	PYTHONPATH=.pelican-lowest $(PY) -m pytest tests/test_speedups.py tests/test_incremental.py tests/test_prune.py $(PYTESTOPTS)

check: $(VENV)/.stamp-runtime ## Check editor content (explainer sections, reading ease, links, overrides.toml)
	$(PY) -m editor check

harvest: $(VENV)/.stamp-runtime ## Live harvest from PubMed + ClinicalTrials.gov (incremental; HARVESTOPTS=--full)
	$(PY) -m harvest run $(HARVESTOPTS)

cards: $(VENV)/.stamp-runtime ## Rebuild every card from the raw cache, offline
	$(PY) -m harvest replay data/raw

$(VENV)/.stamp-bench: $(VENV)/.stamp-test $(LOCK_BENCH)
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK_BENCH)
	touch $@

bench: $(VENV)/.stamp-bench ## Run the benchmarks (prints figures; not part of `make test`)
	$(PY) bench/harvest.py
	$(PY) bench/build.py
	$(PY) bench/classify.py

lock: ## Refresh the lock files (requirements/*.txt) from pyproject.toml (asks PyPI)
	test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet "uv>=0.9,<1"
	$(VENV)/bin/uv pip compile pyproject.toml --extra test $(LOCKOPTS) -o $(LOCK_TEST)
	$(VENV)/bin/uv pip compile pyproject.toml $(LOCKOPTS) -c $(LOCK_TEST) -o $(LOCK_RUNTIME)
	$(VENV)/bin/uv pip compile pyproject.toml --extra test --extra bench $(LOCKOPTS) -c $(LOCK_TEST) -o $(LOCK_BENCH)

clean: ## Remove output/ and caches
	rm -rf $(OUTPUTDIR) cache .pytest_cache .pelican-lowest
