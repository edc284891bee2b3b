# Two commands for a newcomer: `make run` (default pipeline -> results/report.html)
# and `make test`. Both create .venv and install everything (idempotent).
PYTHON ?= python3
VENV ?= .venv
CORES ?= 8
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.sciml-installed
export PATH := $(BIN):$(PATH)

.PHONY: setup run test lint dry-run report clean
setup: $(STAMP)

$(STAMP): pyproject.toml scripts/install-torch.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	sh scripts/install-torch.sh $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,slurm,pretrained]'
	touch $@

run: setup
	snakemake --cores $(CORES)

test: setup
	python -m pytest

lint: setup
	snakemake --lint

dry-run: setup
	snakemake -n

clean:
	rm -rf results .snakemake
