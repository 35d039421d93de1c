#!/usr/bin/env python3
"""How much of the generator's image log-odds the image member's lesion radiomics can carry.

Reads the demo cohort's ground truth (`ground_truth.csv`: each image factor's contribution to
the true log-odds) and a radiomics table of the same cohort (`oncolens radiomics --cohort`), and
prints the share of the image log-odds (and of each factor) that a linear fit on lesion
features explains: in-sample R² per factor, leave-one-out R² for the whole image term, on all
patients and on the training and validation patients alone, and the features a forward
selection adds to the four the image encoder takes (`cases::LESION_FEATURES`).

    cargo run --release -- demo
    target/release/oncolens radiomics --cohort demo-out/cohort --out /tmp/rad.csv
    python3 bench/analysis/lesion_features_r2.py demo-out/cohort/ground_truth.csv /tmp/rad.csv

Needs numpy only.
"""
import csv
import sys

import numpy as np

FACTORS = ["contrib_size", "contrib_irregularity", "contrib_heterogeneity", "contrib_enhancement"]
# The image encoder's lesion features, as radiomics table columns (log volume and sd derived).
CURRENT = ["log_volume", "morph_sphericity", "stat_mean", "stat_sd"]


def number(text):
    try:
        return float(text)
    except ValueError:
        return np.nan


def load(truth_path, radiomics_path):
    truth = {r["case_id"]: r for r in csv.DictReader(open(truth_path))}
    rows = [r for r in csv.DictReader(open(radiomics_path)) if r["case_id"] in truth]
    skip = {"case_id", "site", "label", "primary_site", "sex"}
    names = [c for c in rows[0] if c not in skip]
    x = np.array([[number(r[c]) for c in names] for r in rows])
    keep = np.all(np.isfinite(x), axis=0)
    x, names = x[:, keep], [n for n, k in zip(names, keep) if k]
    x = np.column_stack([x, np.log(x[:, names.index("morph_volume")]),
                         np.sqrt(x[:, names.index("stat_var")])])
    names += ["log_volume", "stat_sd"]
    ids = [r["case_id"] for r in rows]
    factors = {f: np.array([float(truth[i][f]) for i in ids]) for f in FACTORS}
    fit_split = np.array([truth[i]["split"] in ("train", "val") for i in ids])
    return x, names, factors, fit_split


def design(x, names, chosen):
    a = np.column_stack([x[:, names.index(c)] for c in chosen])
    sd = a.std(axis=0)
    if np.any(sd < 1e-12):
        return None
    return np.column_stack([np.ones(len(a)), (a - a.mean(axis=0)) / sd])


def r2_in_sample(x, names, chosen, y):
    a = design(x, names, chosen)
    beta, *_ = np.linalg.lstsq(a, y, rcond=None)
    return 1 - np.var(y - a @ beta) / np.var(y)


def r2_leave_one_out(x, names, chosen, y):
    a = design(x, names, chosen)
    if a is None:
        return -np.inf
    hat = a @ np.linalg.pinv(a.T @ a + 1e-3 * np.eye(a.shape[1])) @ a.T
    residual = (y - hat @ y) / (1 - np.diag(hat))
    return 1 - np.mean(residual**2) / np.var(y)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    x, names, factors, fit_split = load(sys.argv[1], sys.argv[2])
    image = sum(factors.values())
    print(f"{len(image)} patients, {len(names)} finite radiomic features")
    for f, y in factors.items():
        print(f"  {f}: in-sample R² of the four lesion features {r2_in_sample(x, names, CURRENT, y):.3f}")
    print(f"image log-odds, leave-one-out R², all patients: {r2_leave_one_out(x, names, CURRENT, image):.3f}")
    xs, ys = x[fit_split], image[fit_split]
    print(f"training and validation patients ({fit_split.sum()}): "
          f"four features {r2_leave_one_out(xs, names, CURRENT, ys):.3f}, "
          f"+ morph_pca_flatness {r2_leave_one_out(xs, names, CURRENT + ['morph_pca_flatness'], ys):.3f}")
    chosen = list(CURRENT)
    for _ in range(3):
        score, best = max((r2_leave_one_out(xs, names, chosen + [c], ys), c)
                          for c in names if c not in chosen)
        chosen.append(best)
        print(f"  forward selection (training and validation) adds {best}: {score:.3f}")


if __name__ == "__main__":
    main()
