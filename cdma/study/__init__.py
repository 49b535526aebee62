"""The activation study: how much do a network's activations compress, and what
does that buy an offloading trainer?

- :mod:`~cdma.study.measure`: compressed sizes of one tensor (ZVC, RLE, frame,
  software baselines);
- :mod:`~cdma.study.analyze`: ``cdma analyze``, the per-tensor table;
- :mod:`~cdma.study.layers`: ``cdma analyze --by-layer``, the per-layer study;
- :mod:`~cdma.study.capture`: ``cdma capture``, activations of an ONNX model;
- :mod:`~cdma.study.model`: ``cdma model``, the vDNN offload timeline;
- :mod:`~cdma.study.synthetic`: ``cdma demo-data``, synthetic ReLU activations.
"""
