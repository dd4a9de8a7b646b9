# Every target installs what it needs into a virtual environment first.
#   make quickstart   data, a short training run and its evaluation (minutes on 2 CPU cores);
#                     it starts over each time: runs/quickstart is deleted first
#   make test         the fast test suite
#   make submission   Proj_SCIPER.zip, checked by test.py after unzipping
#   make report       Report_2.pdf from the result files (see README, Report)

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch comes first and pinned: installed alone, an unpinned torch would pull
# a multi-GB CUDA build. Elsewhere, add PIP_TORCH_ARGS="--index-url
# https://download.pytorch.org/whl/cpu" for the CPU build.
TORCH ?= torch==2.13.0
PIP_TORCH_ARGS ?=

QUICK_DATA := data
QUICK_RUN := runs/quickstart

.PHONY: setup quickstart test submission report

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install $(PIP_TORCH_ARGS) $(TORCH)
	$(BIN)/python -m pip install -e '.[test,baselines]'
	touch $@

quickstart: setup
	rm -rf $(QUICK_RUN)
	$(BIN)/n2n data --out $(QUICK_DATA)
	$(BIN)/n2n train --data $(QUICK_DATA) --subset 10000 --epochs 3 --out $(QUICK_RUN)
	$(BIN)/n2n evaluate --data $(QUICK_DATA) --checkpoint $(QUICK_RUN)/best.pkl --baselines

test: setup
	$(BIN)/python -m pytest -q

submission: setup
	$(BIN)/python tools/make_submission.py $(if $(wildcard $(QUICK_DATA)/val_data.pkl),--data $(QUICK_DATA))

# The report's example pictures come from the default data set: built first if missing.
report: setup
	test -f $(QUICK_DATA)/val_data.pkl || $(BIN)/n2n data --out $(QUICK_DATA)
	$(BIN)/python report/build_report.py --data $(QUICK_DATA)
