# The cocotb Makefile flow shared by sim/zvc, sim/rle and sim/engine.
#
# The including Makefile sets, before `include ../cocotb.mk`:
#   GEN_MODULE           the module to generate (`cdma generate GEN_MODULE`), e.g. zvc-compress
#   GEN_ARGS             its `cdma generate` options for this configuration
#   CONFIG               a name for the configuration (its build folder)
#   COCOTB_TEST_MODULES  the cocotb test module (cdma.sim.<bench>.test_...)
# and exports the parameters the tests read as CDMA_PARAM_<NAME> (sim/runner.py's
# params_from_env).  The Verilog is generated into build/make/<simulator>/<CONFIG>/.
# The tests import the installed package cdma (make's editable install), so no
# PYTHONPATH is set here.

SIM ?= icarus
TOPLEVEL_LANG = verilog

REPO := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
VENV_BIN := $(REPO)/.venv/bin
# Use the project's venv (cocotb, cocotbext-axi, amaranth, cdma) when there is one:
# cocotb's makefiles call `python3` and `cocotb-config` from PATH.
ifneq ($(wildcard $(VENV_BIN)/cocotb-config),)
export PATH := $(VENV_BIN):$(PATH)
SHELL := env PATH=$(PATH) /bin/sh
endif
GENERATE ?= cdma generate

BUILD := $(REPO)/build/make/$(SIM)/$(CONFIG)
SIM_BUILD := $(BUILD)/sim_build
VERILOG_SOURCES := $(BUILD)/dut.v
COCOTB_TOPLEVEL := dut
COCOTB_HDL_TIMEUNIT := 1ns
COCOTB_HDL_TIMEPRECISION := 1ps
COCOTB_RESULTS_FILE := $(BUILD)/results.xml
export CDMA_MODULE := $(GEN_MODULE)

include $(REPO)/sim/verilator.mk
include $(shell cocotb-config --makefiles)/Makefile.sim

$(VERILOG_SOURCES): $(wildcard $(REPO)/hw/*.py $(REPO)/hw/engine/*.py)
	@mkdir -p $(dir $@)
	$(GENERATE) $(GEN_MODULE) $(GEN_ARGS) --top dut -o $@
