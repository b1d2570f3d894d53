# Two commands set everything up: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
# The CPU build by default; override for CUDA, e.g. make demo TORCH="torch==2.13.0 --index-url ..."
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: install demo test lint format bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

# A class-conditional GAN on digits with augmentation (configs/digits.yaml): 2-3 minutes on a CPU.
demo: install
	$(BIN)/gankit train --config configs/digits.yaml --out runs/demo --overwrite
	@echo "samples of each class (one row per digit): runs/demo/samples.png"

test: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/pytest -q -n auto --dist loadfile  # a worker per core; a file's tests stay on one, with its fixtures

format: install
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

bench: install
	$(BIN)/python benchmarks/step_speed.py

clean:
	rm -rf $(VENV) runs benchmarks/results
