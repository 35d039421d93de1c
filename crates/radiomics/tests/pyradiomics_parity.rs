//! Parity with PyRadiomics on real CT: `extract(.., &Settings::pyradiomics())` must reproduce
//! every PyRadiomics feature it names (`Feature::pyradiomics_name`) to 1e-6 relative.
//!
//! Reference values: `fixtures/radiomics/pyradiomics/<case>.json`, written by
//! `fixtures/radiomics/pyradiomics/make_fixture.py` (PyRadiomics defaults: bin width 25, no
//! resampling, all default classes, label 1; see that folder's README for the settings and the
//! PyRadiomics conventions that differ from IBSI).
//!
//! The images are not in the repository (the IBSI CT phantom is CC BY-NC): they are read from
//! the shared data folder, `ONCOLENS_SHARED_DATA` or else `<workspace>/../shared/data`. A case
//! whose files are absent is skipped with a note on stderr.
//!
//! Run with `cargo test -p oncolens-radiomics --test pyradiomics_parity -- --nocapture` to see
//! the full comparison table even when everything matches (a few seconds: the workspace builds
//! this crate at `opt-level = 2` even in the dev profile).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oncolens_radiomics::{Settings, extract};
use serde_json::Value;

/// Relative tolerance on every compared feature.
const REL_TOL: f64 = 1e-6;
/// Absolute tolerance used near zero (where a relative difference is meaningless).
const ABS_TOL: f64 = 1e-9;
/// PyRadiomics' default output has 107 features; fewer than this many matched names means the
/// mapping is (mostly) missing, which must not pass as "no mismatches".
const MIN_MATCHED: usize = 80;

/// How an allow-listed feature relates to PyRadiomics' value.
#[derive(Debug, Clone, Copy)]
#[allow(dead_code)] // variants are used as the allow-list needs them
enum Relation {
    /// oncolens = PyRadiomics + offset (to the same tolerance), e.g. excess vs plain kurtosis.
    Offset(f64),
    /// Not compared at all; the value is printed for information only.
    NotCompared,
}

/// Features whose definitions differ from PyRadiomics' on purpose: `(pyradiomics name,
/// relation, reason)`. Every entry must also be explained in
/// `fixtures/radiomics/pyradiomics/README.md`. Keep this list short: `Settings::pyradiomics()`
/// is meant to reproduce PyRadiomics, so an entry is a documented decision, not a tolerance.
const ALLOWED_DIFFERENCES: &[(&str, Relation, &str)] = &[
    // (empty: no intentional difference is documented by the crate yet)
];

/// Fixture names (`fixtures/radiomics/pyradiomics/<case>.json`).
const CASES: &[&str] = &["ibsi1_ct_phantom", "sts_001_ct"];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The shared real-data folder: `ONCOLENS_SHARED_DATA`, else `<workspace>/../shared/data`.
fn shared_data() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("ONCOLENS_SHARED_DATA") {
        let p = PathBuf::from(p);
        return p.is_dir().then_some(p);
    }
    let p = workspace().join("../shared/data");
    p.is_dir().then_some(p)
}

fn load_fixture(case: &str) -> Value {
    let path = workspace().join(format!("fixtures/radiomics/pyradiomics/{case}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run make_fixture.py)", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// PyRadiomics' values by name: the default output plus the deprecated features, `None` for a
/// NaN (stored as JSON null).
fn reference_values(
    fixture: &Value,
) -> (BTreeMap<String, Option<f64>>, BTreeMap<String, Option<f64>>) {
    let read = |key: &str| -> BTreeMap<String, Option<f64>> {
        fixture[key]
            .as_object()
            .unwrap_or_else(|| panic!("fixture has no `{key}` object"))
            .iter()
            .map(|(k, v)| (k.clone(), v.as_f64()))
            .collect()
    };
    (read("features"), read("deprecated_features"))
}

fn close(a: f64, b: f64, rel: f64, abs: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    let d = (a - b).abs();
    d <= abs || d <= rel * a.abs().max(b.abs())
}

fn rel_diff(a: f64, b: f64) -> f64 {
    let d = (a - b).abs();
    let m = a.abs().max(b.abs());
    if m == 0.0 { 0.0 } else { d / m }
}

fn allowed(name: &str) -> Option<(Relation, &'static str)> {
    ALLOWED_DIFFERENCES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, r, why)| (*r, *why))
}

#[derive(Debug)]
enum Outcome {
    Match,
    Mismatch,
    /// Allow-listed, with the reason.
    Allowed(&'static str),
    /// Allow-listed with an expected relation that does not hold either.
    AllowedButBroken(&'static str),
    /// The `pyradiomics_name` is not a PyRadiomics feature (typo or wrong prefix).
    UnknownName,
}

impl Outcome {
    fn describe(&self) -> String {
        match self {
            Outcome::Match => "match".to_string(),
            Outcome::Mismatch => "MISMATCH".to_string(),
            Outcome::Allowed(why) => format!("allowed: {why}"),
            Outcome::AllowedButBroken(why) => format!("ALLOWED RELATION BROKEN: {why}"),
            Outcome::UnknownName => "UNKNOWN PYRADIOMICS NAME".to_string(),
        }
    }
}

struct Row {
    pyradiomics_name: String,
    ibsi_name: String,
    ours: f64,
    theirs: Option<f64>,
    outcome: Outcome,
    note: Option<String>,
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or_else(|| "NaN/absent".to_string(), |v| format!("{v:.12e}"))
}

fn table(rows: &[&Row]) -> String {
    let mut s = format!(
        "{:<48} {:<40} {:>22} {:>22} {:>10}  outcome\n",
        "pyradiomics name", "oncolens (IBSI) name", "oncolens", "pyradiomics", "rel diff"
    );
    for r in rows {
        let rd = r.theirs.map_or(f64::NAN, |t| rel_diff(r.ours, t));
        s.push_str(&format!(
            "{:<48} {:<40} {:>22} {:>22} {:>10.3e}  {}{}\n",
            r.pyradiomics_name,
            r.ibsi_name,
            format!("{:.12e}", r.ours),
            fmt_opt(r.theirs),
            rd,
            r.outcome.describe(),
            r.note
                .as_deref()
                .map(|n| format!(" [{n}]"))
                .unwrap_or_default()
        ));
    }
    s
}

fn run_case(case: &str) {
    let fixture = load_fixture(case);
    let Some(shared) = shared_data() else {
        eprintln!(
            "skipped {}: shared data folder not found (set ONCOLENS_SHARED_DATA)",
            case
        );
        return;
    };
    let image_path = shared.join(fixture["inputs"]["image"].as_str().unwrap());
    let mask_path = shared.join(fixture["inputs"]["mask"].as_str().unwrap());
    if !image_path.exists() || !mask_path.exists() {
        eprintln!(
            "skipped {}: {} or {} not found (set ONCOLENS_SHARED_DATA)",
            case,
            image_path.display(),
            mask_path.display()
        );
        return;
    }
    let label = u16::try_from(fixture["inputs"]["label"].as_u64().unwrap()).unwrap();

    let image = oncolens_nifti::read_volume(&image_path).unwrap().volume;
    let mask = oncolens_nifti::read_label_map(&mask_path).unwrap();

    // Cheap guard that the inputs are the ones the fixture was made from.
    let diag = &fixture["diagnostics"]["oncolens"];
    let want_voxels = diag["roi_voxels"].as_u64().unwrap() as usize;
    assert_eq!(
        mask.count(label),
        want_voxels,
        "{}: ROI voxel count differs from the fixture's; regenerate it with make_fixture.py",
        case
    );
    let want_size: Vec<usize> = diag["image_size_xyz"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(image.size().to_vec(), want_size, "{}: image size", case);

    let settings = Settings::pyradiomics();
    let result = extract(&image, &mask, label, &settings)
        .unwrap_or_else(|e| panic!("{}: extract failed: {e}", case));

    let (defaults, deprecated) = reference_values(&fixture);
    let mut rows = Vec::new();
    for f in &result.features {
        let Some(py) = f.pyradiomics_name.as_deref() else {
            continue;
        };
        let theirs = defaults.get(py).or_else(|| deprecated.get(py)).copied();
        let outcome = match theirs {
            None => Outcome::UnknownName,
            Some(t) => {
                let t = t.unwrap_or(f64::NAN);
                match allowed(py) {
                    Some((Relation::NotCompared, why)) => Outcome::Allowed(why),
                    Some((Relation::Offset(off), why)) => {
                        if close(f.value, t + off, REL_TOL, ABS_TOL) {
                            Outcome::Allowed(why)
                        } else {
                            Outcome::AllowedButBroken(why)
                        }
                    }
                    None if close(f.value, t, REL_TOL, ABS_TOL) => Outcome::Match,
                    None => Outcome::Mismatch,
                }
            }
        };
        rows.push(Row {
            pyradiomics_name: py.to_string(),
            ibsi_name: f.name.clone(),
            ours: f.value,
            theirs: theirs.map(|t| t.unwrap_or(f64::NAN)),
            outcome,
            note: f.note.clone(),
        });
    }
    rows.sort_by(|a, b| a.pyradiomics_name.cmp(&b.pyradiomics_name));

    let named: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r.pyradiomics_name.as_str()).collect();
    let missing: Vec<&str> = defaults
        .keys()
        .map(String::as_str)
        .filter(|k| !named.contains(k))
        .collect();
    let matched = rows
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Match | Outcome::Allowed(_)))
        .count();
    let matched_default = rows
        .iter()
        .filter(|r| {
            defaults.contains_key(&r.pyradiomics_name)
                && matches!(r.outcome, Outcome::Match | Outcome::Allowed(_))
        })
        .count();
    let bad: Vec<&Row> = rows
        .iter()
        .filter(|r| {
            matches!(
                r.outcome,
                Outcome::Mismatch | Outcome::AllowedButBroken(_) | Outcome::UnknownName
            )
        })
        .collect();

    let all: Vec<&Row> = rows.iter().collect();
    eprintln!(
        "== {} vs PyRadiomics {}: {} rows, {} within tolerance ({} of {} default features), {} failing",
        case,
        fixture["pyradiomics_version"].as_str().unwrap_or("?"),
        rows.len(),
        matched,
        matched_default,
        defaults.len(),
        bad.len()
    );
    eprintln!("{}", table(&all));
    if !missing.is_empty() {
        eprintln!(
            "{}: PyRadiomics default features with no oncolens feature naming them ({}): {}",
            case,
            missing.len(),
            missing.join(", ")
        );
    }
    if !bad.is_empty() {
        panic!(
            "{}: {} feature(s) differ from PyRadiomics beyond rel {REL_TOL:e} / abs {ABS_TOL:e} \
             (UNKNOWN PYRADIOMICS NAME = a pyradiomics_name PyRadiomics does not output):\n{}",
            case,
            bad.len(),
            table(&bad)
        );
    }
    assert!(
        matched_default >= MIN_MATCHED,
        "{}: only {matched_default} of PyRadiomics' {} default features matched (need at least \
         {MIN_MATCHED}); missing: {}",
        case,
        defaults.len(),
        missing.join(", ")
    );
}

#[test]
fn ibsi1_ct_phantom_matches_pyradiomics() {
    run_case(CASES[0]);
}

#[test]
fn sts_001_ct_matches_pyradiomics() {
    run_case(CASES[1]);
}

/// Every allow-listed name must be a real PyRadiomics feature and explained in the README.
#[test]
fn allow_list_is_documented() {
    let readme =
        std::fs::read_to_string(workspace().join("fixtures/radiomics/pyradiomics/README.md"))
            .expect("fixtures/radiomics/pyradiomics/README.md");
    let fixture = load_fixture(CASES[0]);
    let (defaults, deprecated) = reference_values(&fixture);
    for (name, _, why) in ALLOWED_DIFFERENCES {
        assert!(!why.is_empty(), "{name}: allow-list entry without a reason");
        assert!(
            defaults.contains_key(*name) || deprecated.contains_key(*name),
            "{name}: allow-listed but not a PyRadiomics feature"
        );
        assert!(
            readme.contains(name),
            "{name}: allow-listed but not explained in the README"
        );
    }
}
