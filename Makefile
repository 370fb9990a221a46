# Seller Notifier — developer entry points. `make demo` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP_FLAGS ?= --disable-pip-version-check -q

.PHONY: help demo run test lint typecheck unit e2e bench package package-test constraints schema clean

help:
	@echo "make demo      run the tray app against an embedded demo gateway (nothing to set up)"
	@echo "make test      lint, type-check and run the whole test suite headless"
	@echo "make bench     run the benchmarks (QUICK=1 for a short run); writes docs/BENCHMARKS.md"
	@echo "make package   build the PyInstaller bundle and the .deb"

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(BIN)/python -m pip install $(PIP_FLAGS) -c constraints.txt -e '.[test,package]'
	@touch $@

demo: $(STAMP)
	$(BIN)/seller-notifier --demo

run: $(STAMP)
	$(BIN)/seller-notifier

lint: $(STAMP)
	$(BIN)/ruff check app tests bench packaging packaging_tools
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/python -m pytest -m "not e2e" $(PYTEST_ARGS)

e2e: $(STAMP)
	$(BIN)/python -m pytest -m e2e $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench $(if $(QUICK),--quick,)

package: $(STAMP)
	$(BIN)/python -m packaging_tools.build

# Builds the .deb, installs it with apt, runs the installed app headless, removes it (root).
package-test: $(STAMP)
	SELLER_NOTIFIER_PACKAGE_TEST=1 $(BIN)/python -m pytest tests/packaging/test_deb.py $(PYTEST_ARGS)

schema: $(STAMP)
	$(BIN)/python -m app.protocol.schema > docs/protocol.schema.json

constraints: $(STAMP)
	(echo "# Exact versions tested together (CI and 'make' install with -c constraints.txt)."; \
	 echo "# Regenerate: make constraints   (after changing pyproject.toml's ranges)"; \
	 $(BIN)/python -m pip freeze --exclude-editable | grep -vi '^seller-notifier') > constraints.txt

clean:
	rm -rf build dist *.egg-info .mypy_cache .ruff_cache
