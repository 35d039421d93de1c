"""The peer side of bench/pathology: torchstain's Macenko on a folder of tiles, and OpenSlide
tiling of a slide, as a Python user writes them. Prints one JSON line with the wall time of the
work (imports excluded; the fresh-process time is measured by run.sh)."""

import glob
import json
import os
import sys
import time

import numpy as np
from PIL import Image


def stain(tiles, reference, out):
    from torchstain.numpy.normalizers import NumpyMacenkoNormalizer

    t0 = time.perf_counter()
    norm = NumpyMacenkoNormalizer()
    norm.fit(np.array(Image.open(reference).convert("RGB")))
    for path in sorted(glob.glob(os.path.join(tiles, "*.jpg"))):
        image = np.array(Image.open(path).convert("RGB"))
        result, _, _ = norm.normalize(image, stains=False)
        Image.fromarray(result).save(os.path.join(out, os.path.basename(path) + ".png"))
    return time.perf_counter() - t0


def tiles(slide_path, out, size=240):
    import openslide

    t0 = time.perf_counter()
    slide = openslide.OpenSlide(slide_path)
    w, h = slide.level_dimensions[0]
    for y in range(0, h - size + 1, size):
        for x in range(0, w - size + 1, size):
            slide.read_region((x, y), 0, (size, size)).convert("RGB").save(os.path.join(out, f"x{x}_y{y}.png"))
    return time.perf_counter() - t0


if __name__ == "__main__":
    kind, a, b = sys.argv[1], sys.argv[2], sys.argv[3]
    seconds = stain(a, b, sys.argv[4]) if kind == "stain" else tiles(a, b)
    print(json.dumps({"task": kind, "seconds": seconds}))
