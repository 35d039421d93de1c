#!/usr/bin/env python3
"""Radiomics benchmark: PyRadiomics vs `oncolens radiomics` on the same image, mask and settings.

Both tools run with PyRadiomics' defaults (bin width 25, no resampling, all default feature
classes, label 1; `--preset pyradiomics` on the oncolens side). Every measurement is one child
process, started fresh, timed by wall clock around the whole process (so image reading and, for
Python, interpreter start-up and imports are included; PyRadiomics' extraction-only time is
reported separately). Peak RSS is the child's own peak, from GNU time when installed (see `measure`).

Configurations:
* `pyradiomics`: PyRadiomics as it is (its C extensions are single-threaded).
* `oncolens t=1`, `oncolens t=2`: `target/release/oncolens radiomics ... --json` with
  `RAYON_NUM_THREADS` = 1 and 2.
* cohort (only if `oncolens radiomics --help` mentions `--cohort`): N symlinked copies of the
  case in the cohort-folder layout (`<root>/<site>/<case>/image.nii.gz`, `lesion_mask.nii.gz`),
  through PyRadiomics in one process (jobs=1) or a multiprocessing pool of 2 workers (jobs=2),
  and through `oncolens radiomics --cohort` with 1 and 2 rayon threads.

The oncolens output is also checked against PyRadiomics' values (count of features named by
`pyradiomics_name` within 1e-6 relative), so a fast but wrong run is visible in the table.

Usage: bench_pyradiomics.py --oncolens target/release/oncolens [--runs 5] [--cohort-copies 8]
       [--case NAME=IMAGE,MASK ...] [--markdown results.md]
       bench_pyradiomics.py --worker ...   (internal: one PyRadiomics extraction)
"""

import argparse
import json
import math
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

SETTINGS = {  # PyRadiomics defaults, spelled out (same as fixtures/radiomics/pyradiomics)
    "label": 1,
    "binWidth": 25,
    "voxelArrayShift": 0,
    "distances": [1],
    "symmetricalGLCM": True,
    "gldm_a": 0,
    "additionalInfo": False,
}
CLASSES = ["firstorder", "shape", "glcm", "glrlm", "glszm", "gldm", "ngtdm"]


def default_cases():
    shared = Path(os.environ.get("ONCOLENS_SHARED_DATA", ROOT.parent / "shared" / "data"))
    return {
        "ibsi1_ct_phantom": (
            shared / "reference/radiomics/ibsi1/ct_phantom_CC-BY-NC/image/phantom.nii.gz",
            shared / "reference/radiomics/ibsi1/ct_phantom_CC-BY-NC/mask/mask.nii.gz",
        ),
        "sts_001_ct": (
            shared / "reference/multimodal_sts/STS_001/CT_image.nii.gz",
            shared / "reference/multimodal_sts/STS_001/CT_mask.nii.gz",
        ),
        # PyRadiomics' own lung test case: a full 512x512x48 CT slab with a small tumour (837
        # voxels); NRRD, converted to NIfTI in a temporary folder so both tools read the same file.
        "pyradiomics_lung1": (
            shared / "reference/radiomics/pyradiomics/lung1_image.nrrd",
            shared / "reference/radiomics/pyradiomics/lung1_label.nrrd",
        ),
    }


def as_nifti(path, tmp, is_mask):
    """NIfTI inputs are used as they are; anything else is converted once with SimpleITK."""
    path = Path(path)
    if path.name.endswith((".nii", ".nii.gz")):
        return path
    import SimpleITK as sitk

    img = sitk.ReadImage(str(path))
    img = sitk.Cast(img, sitk.sitkUInt8 if is_mask else sitk.sitkFloat32)
    out = Path(tmp) / (path.name.split(".")[0] + ".nii.gz")
    sitk.WriteImage(img, str(out))
    return out


def gunzipped(path, tmp):
    """A plain copy of a gzipped file (both tools then read without inflating)."""
    import gzip
    import shutil

    out = Path(tmp) / ("plain_" + Path(path).name[: -len(".gz")])
    with gzip.open(path, "rb") as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return out


# --------------------------------------------------------------------------------------------
# worker: one PyRadiomics run (single case or a list of cases), inside the measured child


def _extractor():
    import logging

    import radiomics
    from radiomics import featureextractor

    radiomics.setVerbosity(logging.ERROR)
    ext = featureextractor.RadiomicsFeatureExtractor(**SETTINGS)
    ext.disableAllFeatures()
    for c in CLASSES:
        ext.enableFeatureClassByName(c)
    ext.enableImageTypeByName("Original")
    return ext


def _extract_one(pair):
    image, mask = pair
    ext = _extractor()
    res = ext.execute(image, mask, label=SETTINGS["label"])
    return {k[len("original_"):]: float(v) for k, v in res.items() if k.startswith("original_")}


def worker(args):
    t0 = time.perf_counter()
    import radiomics  # noqa: F401  (import cost counted separately)

    t_import = time.perf_counter() - t0
    pairs = [tuple(p.split(",", 1)) for p in args.pairs]
    t1 = time.perf_counter()
    if args.jobs > 1:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(args.jobs) as pool:
            results = pool.map(_extract_one, pairs, chunksize=1)
    else:
        ext = _extractor()
        results = []
        for image, mask in pairs:
            res = ext.execute(image, mask, label=SETTINGS["label"])
            results.append({k[len("original_"):]: float(v) for k, v in res.items()
                            if k.startswith("original_")})
    t_extract = time.perf_counter() - t1
    out = {"import_s": t_import, "extract_s": t_extract, "n_cases": len(pairs)}
    if args.features_out:
        with open(args.features_out, "w") as f:
            json.dump(results[0], f)
    print(json.dumps(out))


# --------------------------------------------------------------------------------------------
# driver


class TreeRss(threading.Thread):
    """Samples the summed RSS of a process and its descendants every 20 ms (Linux /proc)."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak_kib, self.stop = pid, 0, threading.Event()

    @staticmethod
    def _children():
        kids = {}
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, ValueError, IndexError):
                pass
        return kids

    @staticmethod
    def _rss_kib(pid):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def run(self):
        while not self.stop.is_set():
            kids, todo, total = self._children(), [self.pid], 0
            while todo:
                p = todo.pop()
                total += self._rss_kib(p)
                todo.extend(kids.get(p, []))
            self.peak_kib = max(self.peak_kib, total)
            self.stop.wait(0.02)


def measure(cmd, env=None, sample_tree=False, stdout_path=None):
    """Runs cmd as a fresh child; wall time, exact peak RSS of the child, optionally the
    sampled peak RSS of its whole process tree, and its stdout (unless sent to a file).

    Linux carries a process's peak RSS across execve, so a child forked from this ~130 MiB
    Python process reports at least that much from os.wait4. GNU time (a small C program, when
    installed) forks and waits for the command itself, so its figure is the command's own."""
    gnu_time = shutil.which("time") if Path("/usr/bin/time").exists() else None
    with tempfile.TemporaryFile("w+") as err, (open(stdout_path, "w") if stdout_path
                                              else tempfile.TemporaryFile("w+")) as out, \
            tempfile.NamedTemporaryFile("r") as rss_file:
        if gnu_time:
            cmd = ["/usr/bin/time", "-f", "%M", "-o", rss_file.name, *map(str, cmd)]
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, text=True)
        sampler = None
        if sample_tree:
            sampler = TreeRss(p.pid)
            sampler.start()
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        if sampler:
            sampler.stop.set()
            sampler.join()
        stdout = ""
        if not stdout_path:
            out.seek(0)
            stdout = out.read()
        if p.returncode != 0:
            err.seek(0)
            raise SystemExit(f"command failed ({p.returncode}): {' '.join(map(str, cmd))}\n{err.read()[-4000:]}")
        rss_kib = ru.ru_maxrss  # KiB on Linux
        if gnu_time:
            rss_kib = int(rss_file.read().strip().splitlines()[-1])
    return {
        "wall_s": wall,
        "rss_mib": rss_kib / 1024,
        "tree_rss_mib": sampler.peak_kib / 1024 if sampler else None,
        "stdout": stdout,
    }


def oncolens_has(bin_path, flag):
    try:
        h = subprocess.run([bin_path, "radiomics", "--help"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, str(e)
    text = h.stdout + h.stderr
    if h.returncode != 0:
        return False, text.strip()
    return flag in text, text


def compare(oncolens_json_path, py_features):
    """Number of oncolens features with a pyradiomics_name within 1e-6 of PyRadiomics."""
    try:
        with open(oncolens_json_path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        return f"unreadable output: {e}"
    feats = data.get("features", []) if isinstance(data, dict) else []
    named = ok = 0
    for ft in feats:
        name = ft.get("pyradiomics_name")
        if not name or name not in py_features:
            continue
        named += 1
        a, b = ft.get("value"), py_features[name]
        if a is None:
            a = math.nan
        if (math.isnan(a) and math.isnan(b)) or abs(a - b) <= max(1e-9, 1e-6 * max(abs(a), abs(b))):
            ok += 1
    return f"{ok}/{named} of {len(py_features)}"


def med(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def fmt(v, spec=".3f"):
    return "-" if v is None else format(v, spec)


def make_cohort(root, image, mask, n):
    for i in range(n):
        d = root / "site_a" / f"case_{i:03d}"
        d.mkdir(parents=True)
        os.symlink(os.path.abspath(image), d / "image.nii.gz")
        os.symlink(os.path.abspath(mask), d / "lesion_mask.nii.gz")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--jobs", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--features-out", help=argparse.SUPPRESS)
    ap.add_argument("pairs", nargs="*", help=argparse.SUPPRESS)
    ap.add_argument("--oncolens", default=str(ROOT / "target/release/oncolens"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", default="1,2", help="RAYON_NUM_THREADS values for oncolens")
    ap.add_argument("--cohort-copies", type=int, default=8)
    ap.add_argument("--cohort-args", default="--preset pyradiomics --out {out}.csv",
                    help="arguments after `oncolens radiomics --cohort DIR` ({out} = a scratch path; "
                         "the CLI writes the cohort table to --out)")
    ap.add_argument("--config", action="append", default=[],
                    help="extra oncolens rows in single-case mode: `--config FILE.toml` instead of "
                         "`--preset pyradiomics` (repeatable; the row is named after the file)")
    ap.add_argument("--extra-preset", action="append", default=["pyradiomics-ibsi"],
                    help="extra oncolens rows in single-case mode with `--preset NAME` (repeatable; "
                         "default: pyradiomics-ibsi, PyRadiomics' settings plus every IBSI feature)")
    ap.add_argument("--case", action="append", default=[],
                    help="NAME=IMAGE,MASK (default: the IBSI CT phantom and STS_001 CT)")
    ap.add_argument("--uncompressed", action="store_true",
                    help="also time each gzipped case from a plain (uncompressed) copy, so the "
                         "single-core inflate both tools pay is out of the comparison")
    ap.add_argument("--pyradiomics-only", action="store_true",
                    help="time PyRadiomics alone (no oncolens needed)")
    ap.add_argument("--markdown", help="also write the tables to this file")
    args = ap.parse_args()
    if args.worker:
        return worker(args)

    cases = {}
    if args.case:
        for c in args.case:
            name, rest = c.split("=", 1)
            image, mask = rest.split(",", 1)
            cases[name] = (Path(image), Path(mask))
    else:
        cases = default_cases()
    for name, (image, mask) in list(cases.items()):
        if not (image.exists() and mask.exists()):
            print(f"skipping {name}: {image} or {mask} not found (set ONCOLENS_SHARED_DATA)", file=sys.stderr)
            del cases[name]
    if not cases:
        raise SystemExit("no input case found")

    threads = [int(t) for t in args.threads.split(",") if t]
    has_cohort = False
    if not args.pyradiomics_only:
        if not os.access(args.oncolens, os.X_OK):
            raise SystemExit(f"{args.oncolens} not found: build it with `cargo build --release -p oncolens-cli`")
        ok, text = oncolens_has(args.oncolens, "--image")
        if not ok:
            raise SystemExit(
                f"`{args.oncolens} radiomics` is not available (the radiomics command is not wired into "
                f"the CLI yet?):\n{text[-2000:]}\nRun with --pyradiomics-only to time PyRadiomics alone.")
        has_cohort, _ = oncolens_has(args.oncolens, "--cohort")

    import radiomics
    lines = []

    def emit(s=""):
        print(s, flush=True)
        lines.append(s)

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next((l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal")), "0")
    emit("# Radiomics benchmark: PyRadiomics vs oncolens (PyRadiomics default settings)\n")
    emit(f"Machine: {cpu}, {os.cpu_count()} logical CPUs, {int(mem) // 1024} MiB RAM, {platform.platform()}  ")
    emit(f"Load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
         "(anything near the CPU count means the timings are inflated by other work).  ")
    emit(f"PyRadiomics {radiomics.__version__} (pyradiomics-bhklab), Python {platform.python_version()}; "
         f"{args.runs} runs per configuration, median shown.  ")
    emit("Times are wall clock of a fresh child process (image reading included; PyRadiomics also pays "
         "interpreter start-up and imports, shown separately). Peak RSS is the child's own peak (GNU time; a child forked from Python would report at least the ~130 MiB of the benchmark process, as Linux keeps the peak across exec).\n")

    py = sys.executable
    me = str(Path(__file__).resolve())
    tmp = Path(tempfile.mkdtemp(prefix="bench-radiomics-"))
    try:
        inputs = []
        for name, (image, mask) in cases.items():
            image, mask = as_nifti(image, tmp, False), as_nifti(mask, tmp, True)
            inputs.append((name, image, mask))
            if args.uncompressed and str(image).endswith(".gz"):
                inputs.append((f"{name}_uncompressed", gunzipped(image, tmp), gunzipped(mask, tmp)))
        for name, image, mask in inputs:
            emit(f"## {name}\n")
            emit(f"Image `{image}`, mask `{mask}`\n")
            feats_path = tmp / f"{name}.py.json"
            rows = {}
            pr = []
            for i in range(args.runs):
                r = measure([py, me, "--worker", "--features-out", str(feats_path), f"{image},{mask}"])
                r.update(json.loads(r["stdout"].strip().splitlines()[-1]))
                pr.append(r)
            rows["pyradiomics"] = pr
            py_features = json.load(open(feats_path))
            if not args.pyradiomics_only:
                for t in threads:
                    env = dict(os.environ, RAYON_NUM_THREADS=str(t))
                    out = tmp / f"{name}.onco{t}.json"
                    orow = []
                    for i in range(args.runs):
                        r = measure([args.oncolens, "radiomics", "--image", str(image), "--mask", str(mask),
                                         "--preset", "pyradiomics", "--json"], env=env, stdout_path=str(out))
                        orow.append(r)
                    orow[0]["check"] = compare(out, py_features)
                    rows[f"oncolens t={t}"] = orow
                for preset in args.extra_preset:
                    for t in threads:
                        env = dict(os.environ, RAYON_NUM_THREADS=str(t))
                        out = tmp / f"{name}.onco{t}.{preset}.json"
                        orow = [measure([args.oncolens, "radiomics", "--image", str(image), "--mask",
                                         str(mask), "--preset", preset, "--json"], env=env,
                                        stdout_path=str(out))
                                for _ in range(args.runs)]
                        orow[0]["check"] = compare(out, py_features)
                        rows[f"oncolens t={t} `--preset {preset}`"] = orow
                for cfg in args.config:
                    for t in threads:
                        env = dict(os.environ, RAYON_NUM_THREADS=str(t))
                        out = tmp / f"{name}.onco{t}.{Path(cfg).stem}.json"
                        orow = [measure([args.oncolens, "radiomics", "--image", str(image), "--mask",
                                         str(mask), "--config", cfg, "--json"], env=env, stdout_path=str(out))
                                for _ in range(args.runs)]
                        orow[0]["check"] = compare(out, py_features)
                        rows[f"oncolens t={t} `{Path(cfg).name}`"] = orow
            p_wall = med(rows["pyradiomics"], "wall_s")
            p_rss = med(rows["pyradiomics"], "rss_mib")
            emit("| tool | median wall s | PyRadiomics extract-only s | peak RSS MiB | PyRadiomics s / tool s "
                 "| PyRadiomics RSS / tool RSS | features within 1e-6 |")
            emit("|---|---|---|---|---|---|---|")
            for tool, rs in rows.items():
                w, rss = med(rs, "wall_s"), med(rs, "rss_mib")
                ex = med(rs, "extract_s")
                ratio = "" if tool == "pyradiomics" else f"{p_wall / w:.1f}x"
                mratio = "" if tool == "pyradiomics" else f"{p_rss / rss:.1f}x"
                check = f"{len(py_features)} (reference)" if tool == "pyradiomics" else rs[0].get("check", "")
                emit(f"| {tool} | {fmt(w)} | {fmt(ex)} | {fmt(rss, '.0f')} | {ratio} | {mratio} | {check} |")
            imp = med(rows["pyradiomics"], "import_s")
            others = [f"{tool}: {med(rows['pyradiomics'], 'extract_s') / med(rs, 'wall_s'):.1f}x"
                      for tool, rs in rows.items() if tool != "pyradiomics"]
            emit(f"\nPyRadiomics import time (median): {fmt(imp)} s"
                 + (f"; PyRadiomics extract-only s / tool wall s: {', '.join(others)}" if others else "") + "\n")

            if args.cohort_copies <= 0:
                continue
            n = args.cohort_copies
            cdir = tmp / f"cohort_{name}"
            make_cohort(cdir, image, mask, n)
            pairs = [f"{cdir}/site_a/case_{i:03d}/image.nii.gz,{cdir}/site_a/case_{i:03d}/lesion_mask.nii.gz"
                     for i in range(n)]
            emit(f"### cohort mode: {n} copies of {name}\n")
            if not has_cohort and not args.pyradiomics_only:
                emit("(oncolens cohort mode skipped: `oncolens radiomics --help` has no `--cohort`.)\n")
            emit("| tool | median wall s | s per case | peak RSS MiB (largest process) | tree RSS MiB (sampled) "
                 "| PyRadiomics s / tool s |")
            emit("|---|---|---|---|---|---|")
            crow = {}
            for jobs in threads:
                crow[f"pyradiomics jobs={jobs}"] = [
                    measure([py, me, "--worker", "--jobs", str(jobs), *pairs], sample_tree=True)
                    for _ in range(max(1, args.runs // 2))]
            for t in (threads if has_cohort else []):
                env = dict(os.environ, RAYON_NUM_THREADS=str(t))
                crow[f"oncolens t={t}"] = [
                    measure([args.oncolens, "radiomics", "--cohort", str(cdir),
                             *shlex.split(args.cohort_args.replace("{out}", str(tmp / "cohort_out")))],
                            env=env, sample_tree=True, stdout_path=str(tmp / "cohort.out"))
                    for _ in range(max(1, args.runs // 2))]
            for tool, rs in crow.items():
                w = med(rs, "wall_s")
                ref = None
                if tool.startswith("oncolens"):
                    t = tool.split("=")[1]
                    ref = med(crow.get(f"pyradiomics jobs={t}", []), "wall_s")
                emit(f"| {tool} | {fmt(w)} | {fmt(w / n)} | {fmt(med(rs, 'rss_mib'), '.0f')} | "
                     f"{fmt(med(rs, 'tree_rss_mib'), '.0f')} | {'' if ref is None else f'{ref / w:.1f}x'} |")
            emit("")
        emit(f"Load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.markdown:
        Path(args.markdown).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
