# Every target sets up what it needs on a fresh machine: a virtual environment with the package
# installed in editable mode, with its test extras.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/quickstart.py

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/pip install --quiet autograd jax || echo "autograd/jax not installed: comparing with numpy only"
	$(BIN)/pip install --quiet torch==2.13.0 || echo "torch not installed: no torch.func comparison"
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/jacobians.py

clean:
	rm -rf $(VENV) build *.egg-info
