# Each target bootstraps its own virtual environment on a fresh machine, with the exact versions in
# constraints.txt (pip included), so a new release of a tool cannot break a fresh install.
PYTHON ?= python3
PIP_VERSION := 26.3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO   := runs/demo

.PHONY: install test demo lock clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check pip==$(PIP_VERSION)
	# the CPU build of torch; pinned so nothing pulls the multi-GB CUDA build
	$(BIN)/pip install --quiet -c constraints.txt torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

# The main job on the built-in defaults (the demo preset, about 20 minutes on 2 cores): fine-tune
# all-MiniLM-L6-v2 on VitaminC as the teacher, cut a 3-layer student from it and distil, prune and
# re-distil, then the side-by-side report.
demo: $(STAMP)
	$(BIN)/leanformer recipe --preset demo --output $(DEMO)

# Refresh constraints.txt from the current environment after changing dependencies.
lock: $(STAMP)
	{ sed -n '1,2p' constraints.txt; $(BIN)/pip freeze --exclude-editable | grep -v '^#' \
	  | sed 's/^torch==\(.*\)+cpu$$/torch==\1/'; } > constraints.txt.new && mv constraints.txt.new constraints.txt

clean:
	rm -rf $(VENV) runs .pytest_cache
