# Two entry points for a fresh machine; both are idempotent and create .venv/ when missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.skelar-installed
DEVSTAMP := $(VENV)/.skelar-dev-installed

.PHONY: demo test install dev clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip >/dev/null
	# torch first, pinned, so the local CPU wheel is used instead of a CUDA build
	$(BIN)/pip install torch==2.13.0

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -e .
	touch $(STAMP)

$(DEVSTAMP): $(STAMP)
	$(BIN)/pip install -e ".[dev]"
	touch $(DEVSTAMP)

install: $(STAMP)

dev: $(DEVSTAMP)

demo: $(STAMP)
	$(BIN)/skelar train -c configs/sgn_synthetic.yaml

test: $(DEVSTAMP)
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) runs
