# make install: the virtualenv and what the system lacks; make run: migrate, load the demo, serve;
# make test: lint and the whole suite. Settings come from QC_* environment variables.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
QC_DEMO ?= 1
PYTEST_WORKERS ?= 2

.PHONY: install run test lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@bash .ci/system-deps
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (found $$($(PYTHON) --version))"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

run: install
	$(VENV)/bin/qc db upgrade
	@if [ "$(QC_DEMO)" != "0" ]; then $(VENV)/bin/qc demo load --if-empty; fi
	@echo "Serving on http://$${QC_HOST:-127.0.0.1}:$${QC_PORT:-8000} — API docs at /docs, the packer's page at /station."
	@echo "Log in with a key above: 'Authorization: Bearer <key>' (the Authorize button on /docs)."
	$(VENV)/bin/qc serve

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy qc api stations
	$(VENV)/bin/lint-imports

# pytest exits 5 when it collected no test: that is a failure here, not a pass.
test: lint
	@$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup; rc=$$?; \
		if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

clean:
	rm -rf $(VENV) test-output .pytest_cache .mypy_cache .ruff_cache
