# Each target bootstraps its own virtual environment on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO   := runs/demo

.PHONY: install test demo clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# the CPU build of torch; pinned so nothing pulls the multi-GB CUDA build
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

# The main job on the built-in defaults, on a short budget: fine-tune the all-mpnet-base-v2 teacher on
# VitaminC, distil all-MiniLM-L6-v2 from it, prune and re-distil, then the side-by-side report.
demo: $(STAMP)
	$(BIN)/leanformer recipe --preset demo --output $(DEMO)

clean:
	rm -rf $(VENV) runs .pytest_cache
