# make book     - create .venv if missing, install, run every notebook, build the HTML book
# make test     - same set-up, then lint, the unit tests and nbval over every notebook (what CI runs)
# make fast     - lint and the unit tests not marked slow, with the end-to-end flow test (< 2 minutes)
# make lint     - ruff over src, tests and benchmarks (settings in pyproject.toml)
# make publish  - make book, then push _build/html to the gh-pages branch (PUBLISH_DRY=1: commit locally only)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt pyproject.toml | cksum | cut -d' ' -f1)
ARGS   ?=

NBVAL  := --nbval-lax --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg
# Another machine, simulated: every math library asked for another kernel path, and one CPU.
# artsig.determinism pins them back, so the checked cells must print what the references hold.
ELSEWHERE := ONEDNN_MAX_CPU_ISA=SSE41 DNNL_MAX_CPU_ISA=SSE41 ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE \
             MKL_ENABLE_INSTRUCTIONS=SSE4_2 NPY_DISABLE_CPU_FEATURES=X86_V3 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=2
KERNEL_CHECK_CHAPTER ?= notebooks/05_dcec.ipynb

.PHONY: install book test unit fast lint publish publish-dry nbval kernel-check notebooks notebooks-elsewhere lab bench clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@rm -f $(VENV)/.installed-* && touch $@

book: install
	$(PY) -m artsig book $(ARGS)

test: install lint
	$(PY) -m pytest tests notebooks $(NBVAL) -p no:cacheprovider -q $(ARGS)
	$(MAKE) --no-print-directory kernel-check

# one chapter's checked cells again, on the simulated other machine (see ELSEWHERE)
kernel-check: install
	env $(ELSEWHERE) taskset -c 0 $(PY) -m pytest $(KERNEL_CHECK_CHAPTER) $(NBVAL) -p no:cacheprovider -q

unit: install
	$(PY) -m pytest tests -q $(ARGS)

# the quick loop while editing: no network training, no chapters, no child processes to kill
fast: install lint
	$(PY) -m pytest tests -m "not slow" -q $(ARGS)

lint: install
	$(VENV)/bin/ruff check src tests benchmarks

# The book as a GitHub Pages site, as Jupyter Book projects publish it: ghp-import commits
# _build/html to the gh-pages branch (-n: no Jekyll, so _static/ is served) and, unless
# PUBLISH_DRY=1, force-pushes that branch to $(REMOTE).
REMOTE      ?= origin
PUBLISH_DRY ?=
publish: book
	@test -f _build/html/index.html || { echo "no _build/html/index.html: the book did not build"; exit 1; }
	$(VENV)/bin/ghp-import -n -m "book built from $$(git rev-parse --short HEAD)" $(if $(PUBLISH_DRY),,-p -f -r $(REMOTE)) _build/html
	@if [ -n "$(PUBLISH_DRY)" ]; then echo "dry run: the site is committed on the local gh-pages branch and not pushed (git show --stat gh-pages)"; \
	else echo "gh-pages pushed to $(REMOTE)"; fi

publish-dry:
	$(MAKE) --no-print-directory publish PUBLISH_DRY=1

nbval: install
	$(PY) -m pytest notebooks $(NBVAL) -q $(ARGS)

notebooks: install
	$(PY) -m artsig book --reference $(ARGS)

# the references as the simulated other machine (ELSEWHERE, one CPU) writes them
notebooks-elsewhere: install
	env $(ELSEWHERE) taskset -c 0 $(PY) -m artsig book --reference $(ARGS)

lab: install
	env $$($(PY) -c "from artsig.determinism import pinned_environment as e; print(' '.join(f'{k}={v}' for k, v in e().items()))") \
		$(VENV)/bin/jupyter lab notebooks

bench: install
	for script in benchmarks/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf _build book/chapters results
