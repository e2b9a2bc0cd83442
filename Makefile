# Every target sets up what it needs on a fresh machine: a virtual environment with the package
# installed in editable mode, with its test extras.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test fuzz bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/quickstart.py

test: $(STAMP)
	$(BIN)/python -m pytest

# 20,000 programs of the wide generator (tests/fuzz_programs.py), past the seeds CI judges; not part of
# `make test`. Prints the counts: pass, refused by class, crash, wrong, with the failing programs.
FUZZ_START ?= 100000
FUZZ_COUNT ?= 20000
fuzz: $(STAMP)
	$(BIN)/python tests/fuzz_programs.py --start $(FUZZ_START) --count $(FUZZ_COUNT)

# The workloads of issue 14 side by side with the other libraries (benchmarks/run.py); writes docs/bench.png
# and the generated section of docs/performance.md. BENCH_ARGS=--quick for a fast check (writes no docs).
BENCH_ARGS ?=
bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,bench]' || echo "bench extra not installed: comparing with what is there"
	$(BIN)/pip install --quiet torch==2.13.0 || echo "torch not installed: no torch.func comparison"
	$(BIN)/pip install --quiet tangent-ad || echo "tangent-ad not installed: no tangent comparison"
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python benchmarks/run.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/dask_logistic.py

clean:
	rm -rf $(VENV) build *.egg-info
