# make book  - create .venv if missing, install, run every notebook, build the HTML book
# make test  - same set-up, then the unit tests and nbval over every notebook
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt pyproject.toml | cksum | cut -d' ' -f1)
ARGS   ?=

.PHONY: install book test unit nbval notebooks lab bench clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@rm -f $(VENV)/.installed-* && touch $@

book: install
	$(PY) -m artsig book $(ARGS)

test: install
	$(PY) -m pytest tests notebooks --nbval-lax --nbval-current-env -p no:cacheprovider -q $(ARGS)

unit: install
	$(PY) -m pytest tests -q $(ARGS)

nbval: install
	$(PY) -m pytest notebooks --nbval-lax --nbval-current-env -q $(ARGS)

notebooks: install
	$(PY) -m artsig book --reference $(ARGS)

lab: install
	$(VENV)/bin/jupyter lab notebooks

bench: install
	for script in benchmarks/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf _build book/chapters results
