# The two commands a newcomer needs:
#   make build   set everything up and build the default pack into build/
#   make test    run the test suite (installs the real clients it checks against)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: build test audit bench bench-issue bench-ingest bench-stores mutate clean

build: $(STAMP)
	$(BIN)/portfolio build --out build

test: $(STAMP)
	scripts/system-deps.sh test
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q

audit: $(STAMP)
	scripts/audit.sh $(BIN)

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

bench-issue: $(STAMP)
	$(BIN)/python benchmarks/bench_issue.py

bench-ingest: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python benchmarks/bench_ingest.py

bench-stores: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python benchmarks/bench_stores.py

# Mutation testing (slow, outside `make test`): `make mutate MODULES="identifiers values"` for some.
mutate: $(STAMP)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[mutate]'
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python scripts/mutate.py $(MODULES)

$(STAMP): pyproject.toml scripts/system-deps.sh
	scripts/system-deps.sh build
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

clean:
	rm -rf build $(VENV) .pytest_cache
