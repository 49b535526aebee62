#!/usr/bin/env python3
"""Per-layer study of real trained CNNs, offline: capture -> analyze --by-layer -> model.

Models: trained convolutional networks that PyPI packages ship inside their
wheels (no download at run time):

* ``table``: ``cycle_center_net_v1.onnx`` from ``wired-table-rec==0.0.3``
  (RapidAI TableStructureRec): Cycle-CenterNet table-structure recognition,
  a DLA-34 backbone with Conv + ReLU + MaxPool + Concat only: the kind of
  ReLU CNN the paper studied.  Its input is 1024x1024 in the package; 384x384
  here to keep the run light;
* ``cls``: ``ch_ppocr_mobile_v2.0_cls_infer.onnx`` from
  ``rapidocr-onnxruntime==1.4.4``: PaddleOCR's text-direction
  classifier, a MobileNetV3-small (ReLU and hard-swish), input 3x48x192;
* ``det``: ``ch_PP-OCRv4_det_infer.onnx``, same package: PaddleOCR v4's text detector (DBNet with a
  PP-LCNetV3 backbone, hard-swish, ReLU in the neck/head), any HxW multiple of 32.

Images: real photographs and scans that ``scikit-image`` ships inside its
wheel (``skimage/data``: page.png, text.png, astronaut.png, coffee.png,
chelsea.png, rocket.jpg).  Nothing here imports rapidocr or scikit-image: the
files are located through ``importlib``.

Install:  pip install -e '.[capture,demo]'
          (demo = rapidocr-onnxruntime, wired-table-rec (Python < 3.12), scikit-image)
Run:      python examples/real_cnn_demo.py [--out build/real_cnn]
Outputs go to build/real_cnn/ (tables are printed; JSON and PNG plots are written).
"""
from __future__ import annotations

import argparse
import importlib.util
import shlex
import sys
import time
from pathlib import Path

from cdma.cli import main as cdma

IMAGES = ("page.png", "text.png", "astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg")
NETWORKS = {
    # name: (package, model file inside it, capture options)
    "table": ("wired_table_rec", "cycle_center_net_v1.onnx",
              ["--size", "384x384", "--mean", "0.408,0.447,0.470", "--std", "0.289,0.274,0.278",
               "--bgr"]),
    "cls": ("rapidocr_onnxruntime", "ch_ppocr_mobile_v2.0_cls_infer.onnx",
            ["--size", "48x192", "--mean", "0.5", "--std", "0.5", "--bgr"]),
    "det": ("rapidocr_onnxruntime", "ch_PP-OCRv4_det_infer.onnx",
            ["--size", "320x480", "--mean", "0.485,0.456,0.406", "--std", "0.229,0.224,0.225",
             "--bgr"]),
}


def package_dir(name: str, hint: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"error: package {name!r} is not installed; {hint}")
    return Path(list(spec.submodule_search_locations)[0])


def step(argv):
    print(f"\n$ cdma {' '.join(shlex.quote(str(a)) for a in argv)}", flush=True)
    t0 = time.perf_counter()
    rc = cdma([str(a) for a in argv])
    print(f"[{time.perf_counter() - t0:.1f} s]", flush=True)
    if rc:
        sys.exit(rc)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="build/real_cnn", help="output folder (default %(default)s)")
    ap.add_argument("--networks", default="table,cls,det",
                    help="comma-separated, from: %(default)s")
    args = ap.parse_args()
    hint = ("pip install 'cdma[capture,demo]' (the model packages need Python < 3.12 for "
            "wired-table-rec 0.0.3, < 3.13 for rapidocr-onnxruntime 1.4.4)")
    images = [package_dir("skimage", hint) / "data" / f for f in IMAGES]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for net in args.networks.split(","):
        if net not in NETWORKS:
            sys.exit(f"error: unknown network {net!r}; choose from {', '.join(NETWORKS)}")
        package, model_file, opts = NETWORKS[net]
        models = package_dir(package, hint) / "models"
        acts = out / f"{net}_acts"
        step(["capture", models / model_file, "--input", *images, "--out", acts, *opts])
        step(["analyze", acts, "--by-layer", "--json", out / f"{net}_study.json",
              "--plot", out / f"{net}_study.png"])
        step(["analyze", acts, "--by-layer", "--dtype", "bf16", "--json",
              out / f"{net}_study_bf16.json", "--plot", out / f"{net}_study_bf16.png"])
        for link in ("gen3", "gen5"):
            step(["model", out / f"{net}_study.json", "--link", link, "--json",
                  out / f"{net}_model_{link}.json", "--plot", out / f"{net}_timeline_{link}.png"])
            step(["model", out / f"{net}_study.json", "--link", link, "--codec", "frame_zvce",
                  "--json", out / f"{net}_model_zvce_{link}.json"])
        step(["model", out / f"{net}_study.json", "--no-compression"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
