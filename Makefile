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
	$(BIN)/pip install -e ".[dev,video]"
	touch $(DEVSTAMP)

install: $(STAMP)

dev: $(DEVSTAMP)

# one math thread by default: on a shared 2-core machine a second OpenMP thread mostly spins
# (measured 5-10x slower under load); `make demo DEMO_THREADS=2` on an idle machine
DEMO_THREADS ?= 1

demo: $(STAMP)
	OMP_NUM_THREADS=$(DEMO_THREADS) MKL_NUM_THREADS=$(DEMO_THREADS) $(BIN)/skelar train -c configs/sgn_synthetic.yaml

test: $(DEVSTAMP)
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) runs
