# Two commands do all set-up on a fresh machine:
#   make serve   install into .venv and start dayledger on SQLite (./dayledger-data)
#   make test    install into .venv and run the whole suite on SQLite and PostgreSQL
VENV ?= .venv
PYTHON ?= python3

.PHONY: serve test install bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e ".[test]"
	touch $@

install: $(VENV)/.installed

serve: install
	$(VENV)/bin/dayledger serve

test: install
	VENV=$(VENV) scripts/test

bench: install
	VENV=$(VENV) $(VENV)/bin/python benchmarks/run.py

clean:
	rm -rf $(VENV) dayledger-data .pytest_cache
