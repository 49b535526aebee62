"""Campaign knobs and the outcome report shared by the fault modules."""
from __future__ import annotations

import collections
import json
import os

__all__ = ["settings", "Campaign"]


def settings(default_cases):
    """``(cases, seed, out path)`` from CDMA_FAULT_CASES / CDMA_FAULT_SEED / CDMA_FAULT_OUT."""
    return (int(os.environ.get("CDMA_FAULT_CASES", default_cases)),
            int(os.environ.get("CDMA_FAULT_SEED", "1")),
            os.environ.get("CDMA_FAULT_OUT"))


class Campaign:
    """Counts outcomes, collects findings, appends one JSON line to ``out`` at the end."""

    def __init__(self, name, seed, out, log):
        self.name, self.seed, self.out, self.log = name, seed, out, log
        self.counts = collections.Counter()
        self.findings = []
        self.cycles_max = 0

    def outcome(self, label):
        self.counts[label] += 1

    def finding(self, case, text):
        self.counts["FINDING"] += 1
        msg = f"{self.name} seed {self.seed} case {case}: {text}"
        self.log.error(msg)
        self.findings.append(msg)

    def finish(self, **extra):
        row = dict(campaign=self.name, seed=self.seed, cases=sum(self.counts.values()),
                   outcomes=dict(self.counts), findings=self.findings,
                   max_case_cycles=self.cycles_max, **extra)
        self.log.info("%s", json.dumps(row))
        if self.out:
            with open(self.out, "a") as f:
                f.write(json.dumps(row) + "\n")
        assert not self.findings, f"{len(self.findings)} findings: {self.findings[:5]}"
