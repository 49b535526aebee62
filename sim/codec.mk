# The codec benches' configuration (sim/zvc, sim/rle): the including Makefile sets
# DUT (one of DUTS), ELEM_BITS, LANES, BEAT_BYTES (empty: the generator's default)
# and BEAT_<dut> (the generator option that sets the compressed side's width).

BENCH := $(notdir $(abspath $(dir $(firstword $(MAKEFILE_LIST)))))
GEN_MODULE := $(BENCH)-$(DUT)
BEAT_OPTION := $(BEAT_$(DUT))
GEN_ARGS := --elem-bits $(ELEM_BITS) --lanes $(LANES) \
	$(if $(BEAT_BYTES),--$(subst _,-,$(BEAT_OPTION)) $(BEAT_BYTES))
CONFIG := $(GEN_MODULE)-e$(ELEM_BITS)-l$(LANES)$(if $(BEAT_BYTES),-b$(BEAT_BYTES))
COCOTB_TEST_MODULES := cdma.sim.$(BENCH).test_$(BENCH)_$(DUT)

export CDMA_PARAM_ELEM_BITS := $(ELEM_BITS)
export CDMA_PARAM_LANES := $(LANES)
ifneq ($(BEAT_BYTES),)
export CDMA_PARAM_$(shell echo $(BEAT_OPTION) | tr a-z A-Z) := $(BEAT_BYTES)
endif

include $(dir $(lastword $(MAKEFILE_LIST)))cocotb.mk

.PHONY: all-duts
all-duts:
	$(foreach d,$(DUTS),$(MAKE) DUT=$(d) &&) true
