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

# The main job on the built-in defaults: fine-tune all-MiniLM-L6-v2 on VitaminC, then score it on test.
demo: $(STAMP)
	$(BIN)/leanformer train --model all-MiniLM-L6-v2 --task vitaminc --output $(DEMO)/minilm-vitaminc \
		--train-limit 8000 --epochs 2 --lr 1e-4 --resume
	$(BIN)/leanformer evaluate --model $(DEMO)/minilm-vitaminc --split test

clean:
	rm -rf $(VENV) runs .pytest_cache
