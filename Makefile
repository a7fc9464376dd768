# Two commands do everything (see README.md):
#   make run    set up .venv, then run the main job (nbs/03_run.ipynb through papermill, executed copy in runs/)
#   make test   set up .venv, then run every test (plain tests, every notebook, the papermill smoke run)
#   make figures  every paper notebook (nbs/paper) through papermill: figures/ and tables from stored results
PYTHON ?= python3
VENV   ?= .venv
# torch is installed first and pinned. Without an NVIDIA GPU (no working `nvidia-smi`) it comes from PyTorch's CPU
# index (no CUDA libraries); on a GPU node it is PyPI's CUDA build. Where the CPU index cannot be reached, the pinned
# wheel from the usual index is installed instead. Choose another build with TORCH (then there is no fallback), e.g.
# `make test TORCH='torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128'`.
TORCH_PIN = torch==2.13.0
TORCH_CPU_INDEX = https://download.pytorch.org/whl/cpu
HAVE_GPU := $(shell nvidia-smi -L >/dev/null 2>&1 && echo yes)
TORCH  ?= $(TORCH_PIN)$(if $(HAVE_GPU),, --index-url $(TORCH_CPU_INDEX))
TORCH_AUTO := $(if $(filter file,$(origin TORCH)),$(if $(HAVE_GPU),,cpu))
PIP_PROGRESS = --progress-bar on --disable-pip-version-check  # pip's own lines: what it fetches, a bar for each download
TORCH_CPU_REACHABLE = $(BIN)/python -c "import urllib.request as u; u.urlopen('$(TORCH_CPU_INDEX)/torch/', timeout=10)" 2>/dev/null
BIN     = $(VENV)/bin
# every recipe finds the venv's tools first (pip, python, nbdev, quarto's helpers): nothing is ever installed into, or run
# from, the Python the user has outside .venv
export PATH := $(abspath $(BIN)):$(PATH)
unexport VIRTUAL_ENV PYTHONHOME

# `make docs` needs Quarto, which pip does not install: without it, stop at once with one line (before any setup)
QUARTO_HELP = make docs needs Quarto (quarto.org), which is not on PATH: install it from https://quarto.org/docs/get-started/ (or run .venv/bin/nbdev_install_quarto), then run make docs again
ifneq ($(filter docs,$(MAKECMDGOALS)),)
ifeq ($(shell command -v quarto 2>/dev/null),)
$(error $(QUARTO_HELP))
endif
endif

.PHONY: setup run test export clean-nbs sync-check outputs docs figures lab
setup: $(VENV)/.installed
$(VENV)/.installed: settings.ini setup.py
	@echo "make: setting up $(VENV) (the first time: torch, then ELENA and what it needs; a few minutes, progress below)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@echo "make: [1/2] torch ($(if $(HAVE_GPU),CUDA build,CPU build))"
	$(if $(TORCH_AUTO),$(TORCH_CPU_REACHABLE) && $(BIN)/python -m pip install $(PIP_PROGRESS) $(TORCH) \
	  || { echo "make: $(TORCH_CPU_INDEX) cannot be reached: installing $(TORCH_PIN) from the usual index instead"; $(BIN)/python -m pip install $(PIP_PROGRESS) $(TORCH_PIN); },$(BIN)/python -m pip install $(PIP_PROGRESS) $(TORCH))
	@echo "make: [2/2] ELENA and its dependencies (pip install -e \".[dev]\")"
	$(BIN)/python -m pip install $(PIP_PROGRESS) -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	mkdir -p $(VENV)/etc/ipython  # the kernel papermill starts logs errors only (no 'running over TCP' warning per run)
	echo '{"IPKernelApp": {"log_level": "ERROR"}}' > $(VENV)/etc/ipython/ipython_kernel_config.json
	touch $@

# The main job: Gemini 2.5 Flash when GOOGLE_API_KEY or GEMINI_API_KEY is set, else the offline tiny test model
# (random weights: its answers show that the pipeline runs, not what a model sees). Any parameter of the run
# notebook can be set, e.g. `make run MODEL=llama11b DATASET=heco DATA_DIR=/data/HECO`.
MODEL   ?= $(if $(GOOGLE_API_KEY)$(GEMINI_API_KEY),gemini-2.5-flash,tiny-gemma3)
DATASET ?= samples
CONDITION ?= original
PROMPT  ?= elena
RUN_NB   = runs/$(subst :,_,$(subst /,_,$(MODEL)))-$(DATASET)-$(CONDITION)-$(PROMPT).ipynb
# papermill runs the notebook (progress bar on the console); tools/run_notebook.py then prints the run's summary (what
# was answered, where it went, the random-weights notice) or, when a cell failed, one line saying which and why
run: setup
	@mkdir -p runs
	@$(BIN)/python tools/run_notebook.py nbs/03_run.ipynb '$(RUN_NB)' -p model '$(MODEL)' -p dataset '$(DATASET)' \
	  -p condition '$(CONDITION)' -p prompt '$(PROMPT)' $(if $(DATA_DIR),-p data_dir '$(DATA_DIR)') $(if $(LIMIT),-p limit '$(LIMIT)')

test: setup
	$(BIN)/python -m pytest

# JupyterLab from the venv (the notebooks, the explorer in nbs/22_explorer.ipynb), without activating it first
lab: setup
	$(BIN)/jupyter lab

export: setup
	$(BIN)/nbdev_export && $(BIN)/nbdev_clean && $(BIN)/python tools/sync_readme.py

# fails if exporting or cleaning would change a tracked file (library out of step with notebooks, or unclean notebooks)
sync-check: setup
	$(BIN)/nbdev_export && $(BIN)/nbdev_clean && $(BIN)/python tools/sync_readme.py --check
	@git status --porcelain --untracked-files=all -- elena nbs README.md | grep . && { echo "nbdev_export/nbdev_clean changed the files above: run 'make export' and commit"; exit 1; } || true

# execute the notebooks and keep their outputs (the docs site shows saved outputs), then clean them; progress bars
# are left out, so a second `make outputs` changes no file (tests/test_notebooks.py checks that on one notebook)
outputs: setup
	$(BIN)/python tools/save_outputs.py && $(BIN)/nbdev_clean && $(BIN)/python tools/sync_readme.py

docs: setup  # Quarto is checked for above, before setup
	$(BIN)/nbdev_docs

# Every paper notebook (nbs/paper/) through papermill into runs/paper/, figures and tables into figures/; prints which
# notebooks made figures and which skipped for lack of data. E.g. `make figures RESPONSES=/data/responses ATTENTION=attention`.
RESPONSES ?= responses
figures: setup
	$(BIN)/elena figures --responses '$(RESPONSES)' --figures figures --out runs/paper $(if $(ATTENTION),--attention '$(ATTENTION)') \
	  $(if $(DATA_DIRS),--data-dirs '$(DATA_DIRS)') $(if $(REFERENCE),--reference '$(REFERENCE)')
