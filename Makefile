# Two commands do everything (see README.md):
#   make run    set up .venv, then run the main job
#   make test   set up .venv, then run every test (plain tests, every notebook, the papermill smoke run)
PYTHON ?= python3
VENV   ?= .venv
# torch is installed first and pinned: an unpinned torch pulls a multi-GB CUDA build.
# On a GPU node, choose the build you need, e.g. `make TORCH='torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128'`.
TORCH  ?= torch==2.13.0
BIN     = $(VENV)/bin

.PHONY: setup run test export clean-nbs sync-check docs figures
setup: $(VENV)/.installed
$(VENV)/.installed: settings.ini setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

run: setup
	$(BIN)/elena demo

test: setup
	$(BIN)/python -m pytest

export: setup
	$(BIN)/nbdev_export && $(BIN)/nbdev_clean && $(BIN)/python tools/sync_readme.py

# fails if exporting or cleaning would change a tracked file (library out of step with notebooks, or unclean notebooks)
sync-check: setup
	$(BIN)/nbdev_export && $(BIN)/nbdev_clean && $(BIN)/python tools/sync_readme.py --check
	@git status --porcelain --untracked-files=all -- elena nbs README.md | grep . && { echo "nbdev_export/nbdev_clean changed the files above: run 'make export' and commit"; exit 1; } || true

docs: setup
	$(BIN)/nbdev_docs
