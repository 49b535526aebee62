"""Robustness campaigns against malformed input.

- :mod:`~cdma.fuzz.golden`: ``cdma fuzz``, mutated frames into the golden decoder;
- :mod:`~cdma.fuzz.rtl`: ``cdma fuzz-rtl``, the RTL fault campaign under Icarus.
"""
