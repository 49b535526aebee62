"""RTL fault campaign (cocotb + Icarus) with counts by outcome (``cdma fuzz-rtl``).

Runs ``sim/faults/test_dec_faults.py`` on the ZVC and RLE decompressors and
``sim/faults/test_engine_faults.py`` on the engine, collects the JSON lines the
campaigns write (``CDMA_FAULT_OUT``) and prints, per campaign and in total, the
number of cases by outcome (golden error-code name, OK, RECOVERED for reset
cases).  Any finding (verdict differing from golden, a write outside the
destination, a hang, a wrong next transfer) makes a cocotb test fail: the
command then reports it and returns 1.
"""
from __future__ import annotations

import collections
import json
import tempfile
import time
from pathlib import Path

__all__ = ["DEC_CONFIGS", "ENGINE_CONFIGS", "ENGINE_TESTS", "campaign", "add_arguments", "run"]

#: (module, elem_bits, lanes) of the decompressor campaigns.
DEC_CONFIGS = [("zvc-decompress", 32, 8), ("zvc-decompress", 16, 16), ("zvc-decompress", 8, 16),
               ("rle-decode", 32, 8), ("rle-decode", 16, 16), ("rle-decode", 8, 16),
               ("zvce-decompress", 32, 4), ("zvce-decompress", 16, 8)]
#: Engine configurations (``EngineParams`` keywords): the defaults (16 B/cycle), the
#: 64/32 B/cycle widths at 32 and 16 bits, and a 16 B/cycle engine with every codec,
#: ZVCE too (prefetch of version-2 frames).  (The campaign's good frames use every
#: codec but ZVCE.)
ENGINE_CONFIGS = [dict(elem_bits=32), dict(elem_bits=32, mem_bytes=64, pcie_bytes=32),
                  dict(elem_bits=16, mem_bytes=64, pcie_bytes=32),
                  dict(elem_bits=32, mem_bytes=16, pcie_bytes=16, codecs=0b1111)]
ENGINE_TESTS = ["test_prefetch_fuzz", "test_hostile_descriptors", "test_address_width",
                "test_axi_decerr", "test_reset_midway"]


def campaign(dec_cases, engine_cases, seed=1, dec_configs=None, engine_configs=None,
             log_dir=None):
    """Run the campaigns; return ``(rows, failures)``: the JSON rows and failed runs."""
    from cdma.sim.runner import run_cocotb
    dec_configs = DEC_CONFIGS if dec_configs is None else dec_configs
    engine_configs = ENGINE_CONFIGS if engine_configs is None else engine_configs
    # absolute: the simulator runs in its build directory and appends to `out`
    tmp = Path(log_dir or tempfile.mkdtemp(prefix="cdma-fuzz-rtl-")).resolve()
    tmp.mkdir(parents=True, exist_ok=True)
    out = tmp / "outcomes.jsonl"
    failures = []
    runs = [(m, dict(elem_bits=e, lanes=l), "cdma.sim.faults.test_dec_faults", None, dec_cases)
            for m, e, l in dec_configs if dec_cases]
    runs += [("engine", dict(e), "cdma.sim.faults.test_engine_faults", ENGINE_TESTS,
              engine_cases) for e in engine_configs if engine_cases]
    for module, params, test_module, tests, cases in runs:
        log = tmp / f"{module}-{'-'.join(f'{k}{v}' for k, v in params.items())}.log"
        try:
            run_cocotb(module, params, test_module, testcase=tests, log_file=log,
                       extra_env=dict(CDMA_FAULT_CASES=str(cases), CDMA_FAULT_SEED=str(seed),
                                      CDMA_FAULT_OUT=str(out)))
        except RuntimeError as e:
            failures.append(f"{module} {params}: {e} (log {log})")
    rows = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    return rows, failures


def add_arguments(p):
    p.add_argument("--dec-cases", type=int, default=2000,
                   help="cases per decompressor configuration (default %(default)s)")
    p.add_argument("--engine-cases", type=int, default=500,
                   help="prefetch fuzz cases per engine configuration; reset cases are a "
                        "third of it (default %(default)s)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default %(default)s)")
    p.add_argument("--log-dir", help="keep the simulator logs and outcomes.jsonl here")


def run(args) -> int:
    t = time.perf_counter()
    rows, failures = campaign(args.dec_cases, args.engine_cases, args.seed,
                              log_dir=args.log_dir)
    dt = time.perf_counter() - t
    total = collections.Counter()
    for r in rows:
        total.update(r["outcomes"])
        print(f"{r['campaign']:<24} seed {r['seed']}: {r['cases']:>6} cases, "
              f"longest case {r['max_case_cycles']} cycles")
        for name, n in sorted(r["outcomes"].items(), key=lambda kv: -kv[1]):
            print(f"    {name:<18}{n:>7}")
    print(f"RTL fault campaign: {sum(total.values())} cases in {dt:.0f} s, seed {args.seed}, "
          f"{total.get('FINDING', 0)} findings")
    for name, n in total.most_common():
        print(f"  {name:<18}{n:>8}")
    for f in failures:
        print("FAILED:", f)
    return 1 if failures or total.get("FINDING") else 0
