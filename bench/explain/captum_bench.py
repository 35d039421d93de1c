"""Captum side of bench/explain: the same weights and input as
crates/explain/examples/bench_explain.rs (loaded into the PyTorch twin of
fixtures/explain/make_fixture.py), the same methods and settings; prints one JSON line of median
times and the largest relative difference from oncolens' maps."""
import argparse, json, os, statistics, sys, time

import numpy as np
import torch
from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, Occlusion

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "fixtures", "explain"))
from make_fixture import load_twin  # noqa: E402


def timed(reps, f):
    out = f()  # warm-up
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def rel(a, b):
    peak = np.abs(b).max()
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-2 * peak)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("folder")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    _, net = load_twin(a.folder)
    x = torch.from_numpy(np.load(os.path.join(a.folder, "input.npy"))).float()
    side = x.shape[-1]
    ig = IntegratedGradients(net)
    t_ig, m_ig = timed(a.reps, lambda: ig.attribute(x, baselines=0.0, n_steps=50,
                                                   method="gausslegendre"))
    occ = Occlusion(net)
    t0 = time.perf_counter()  # one run of the 3375 forward passes, as oncolens
    m_occ = occ.attribute(
        x, sliding_window_shapes=(1, 4, 4, 4), strides=(1, 2, 2, 2), baselines=0.0,
        perturbations_per_eval=16)
    t_occ = time.perf_counter() - t0
    cam = LayerGradCam(net, net.blocks[0])

    def gc():
        c = cam.attribute(x, relu_attributions=True)
        return LayerAttribution.interpolate(c, (side,) * 3, interpolate_mode="trilinear")

    t_cam, m_cam = timed(a.reps, gc)
    ours = np.load(os.path.join(a.folder, "oncolens.npy"))
    with torch.no_grad():
        logit = float(net(x)[0])
    print(json.dumps({
        "tool": f"Captum {__import__('captum').__version__}, PyTorch {torch.__version__} (CPU)",
        "threads": a.threads, "logit": logit,
        "ig_50_s": t_ig, "occlusion_s": t_occ, "grad_cam_s": t_cam,
        "max_rel_diff": {
            "ig": rel(ours[0], m_ig.detach().reshape(-1).numpy()),
            "occlusion": rel(ours[1], m_occ.detach().reshape(-1).numpy()),
            "grad_cam": rel(ours[2], m_cam.detach().reshape(-1).numpy()),
        },
    }))


if __name__ == "__main__":
    main()
