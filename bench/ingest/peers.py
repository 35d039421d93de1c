"""Loads one DICOM series with a peer tool in-process and prints JSON (seconds, peak RSS).

Usage: python peers.py {pydicom|sitk} <folder>
The sha256 of the float32 HU array (z, y, x) is computed after the timer stops.
Peak RSS is ru_maxrss of this process, so the Python interpreter and imported modules (numpy,
SimpleITK) are included; the import is done before the timer starts.
"""
import json, os, resource, sys, time

tool, folder = sys.argv[1], sys.argv[2]

def files_of(d):
    out = []
    for root, _, names in os.walk(d):
        out += [os.path.join(root, n) for n in names if n.lower().endswith(".dcm")]
    return out

if tool == "pydicom":
    import numpy as np
    import pydicom
    from pydicom.pixels import apply_modality_lut
    t0 = time.perf_counter()
    dss = [pydicom.dcmread(f) for f in files_of(folder)]
    dss = [d for d in dss if "PixelData" in d]
    iop = np.array([float(v) for v in dss[0].ImageOrientationPatient])
    n = np.cross(iop[:3], iop[3:])
    dss.sort(key=lambda d: float(n @ np.array([float(v) for v in d.ImagePositionPatient])))
    vol = np.stack([apply_modality_lut(d.pixel_array, d).astype(np.float32) for d in dss])
    secs = time.perf_counter() - t0
    shape = list(vol.shape)[::-1]
    mean = float(vol.mean(dtype=np.float64))
    import hashlib
    sha = hashlib.sha256(np.ascontiguousarray(vol, dtype="<f4").data).hexdigest()  # no copy
elif tool == "sitk":
    import SimpleITK as sitk
    import numpy as np
    t0 = time.perf_counter()
    r = sitk.ImageSeriesReader()
    r.SetFileNames(r.GetGDCMSeriesFileNames(folder))
    r.SetOutputPixelType(sitk.sitkFloat32)
    img = r.Execute()
    secs = time.perf_counter() - t0
    shape = list(img.GetSize())
    arr = sitk.GetArrayViewFromImage(img)
    mean = float(arr.mean(dtype=np.float64))
    import hashlib
    sha = hashlib.sha256(np.ascontiguousarray(arr, dtype="<f4").data).hexdigest()  # no copy
else:
    sys.exit(f"unknown tool {tool}")
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": secs, "peak_rss_kib": rss, "size": shape, "mean": mean, "sha256": sha}))
