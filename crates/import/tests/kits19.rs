//! KiTS19 import: two synthetic cases written here (segmentations + kits.json), a leak test,
//! and the real KiTS19 folder when present (never copied into the repository: CC BY-NC-SA).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use ndarray::Array3;
use oncolens_core::{CaseLabel, Direction, Geometry, LabelMap, Sex};
use oncolens_import::kits19::{NOT_IMPORTED_FIELDS, OUTCOME_FIELDS, read_kits_labels};
use oncolens_import::{Kits19Options, import_kits19};
use serde_json::{Value, json};

use common::{Progress, read_csv, shared};

/// Values only the post-operative fields carry, so that a leak is easy to spot.
const LEAK_MARKERS: &[&str] = &[
    "zz_subtype_leak",
    "zz_t_stage_leak",
    "zz_n_stage_leak",
    "zz_m_stage_leak",
    "zz_vital_leak",
    "zz_surgery_leak",
    "zz_procedure_leak",
    "zz_approach_leak",
    "zz_clavien_leak",
];

fn case_json(id: &str, malignant: bool, age: u32, gender: &str, egfr: Value) -> Value {
    json!({
        "case_id": id,
        "age_at_nephrectomy": age,
        "gender": gender,
        "body_mass_index": 29.47,
        "comorbidities": {
            "myocardial_infarction": false,
            "uncomplicated_diabetes_mellitus": true,
            "localized_solid_tumor": true,
            "chronic_kidney_disease": false
        },
        "smoking_history": "previous_smoker",
        "age_when_quit_smoking": "43",
        "pack_years": "30",
        "chewing_tobacco_use": "never_or_not_in_last_3mo",
        "alcohol_use": "two_or_less_daily",
        "intraoperative_complications": {"blood_transfusion": true, "injury_to_surrounding_organ": false, "cardiac_event": false},
        "hospitalization": 777,
        "ischemia_time": 31,
        "radiographic_size": 4.2,
        "pathologic_size": 9.87,
        "malignant": malignant,
        "pathology_t_stage": "zz_t_stage_leak",
        "pathology_n_stage": "zz_n_stage_leak",
        "pathology_m_stage": "zz_m_stage_leak",
        "tumor_histologic_subtype": "zz_subtype_leak",
        "tumor_necrosis": true,
        "tumor_isup_grade": 4,
        "clavien_surgical_complications": "zz_clavien_leak",
        "er_visit": true,
        "readmission": true,
        "estimated_blood_loss": 4321,
        "surgery_type": "zz_surgery_leak",
        "surgical_procedure": "zz_procedure_leak",
        "surgical_approach": "zz_approach_leak",
        "operative_time": 324,
        "cytoreductive": false,
        "positive_resection_margins": false,
        "last_preop_egfr": egfr,
        "first_postop_egfr": {"value": 12.5, "days_before_nephrectomy": 184},
        "last_postop_egfr": {"value": 13.5, "days_before_nephrectomy": 1420},
        "vital_status": "zz_vital_leak",
        "vital_days_after_surgery": 8642,
        "voxel_spacing": {"x_spacing": 0.9, "y_spacing": 0.9, "z_spacing": 0.5}
    })
}

/// A KiTS-like grid: the first array axis runs along z (as KiTS19's own affines do).
fn geometry() -> Geometry {
    Geometry::new(
        [6, 5, 4],
        [0.5, 0.9, 0.9],
        [10.0, -20.0, 30.0],
        Direction::from_axes([0.0, 0.0, -1.0], [0.0, -1.0, 0.0], [-1.0, 0.0, 0.0]),
    )
    .unwrap()
}

fn write_kits(dir: &std::path::Path) {
    let cases = vec![
        case_json(
            "case_00000",
            true,
            49,
            "male",
            json!({"value": 77.0, "days_before_nephrectomy": 54}),
        ),
        case_json(
            "case_00001",
            false,
            61,
            "female",
            json!({"value": ">=90", "days_before_nephrectomy": 7}),
        ),
    ];
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("kits.json"),
        serde_json::to_string_pretty(&cases).unwrap(),
    )
    .unwrap();
    for (c, tumour) in [("case_00000", 3usize), ("case_00001", 1)] {
        let mut data = Array3::<u16>::zeros((4, 5, 6));
        for ((z, y, x), v) in data.indexed_iter_mut() {
            if (1..=2).contains(&z) && (1..=3).contains(&y) && (1..=4).contains(&x) {
                *v = 1;
            }
            if z == 1 && y == 2 && (1..=tumour).contains(&x) {
                *v = 2;
            }
        }
        let seg = LabelMap::new(data, geometry()).unwrap();
        let case_dir = dir.join(c);
        std::fs::create_dir_all(&case_dir).unwrap();
        oncolens_nifti::write_label_map(&case_dir.join("segmentation.nii.gz"), &seg).unwrap();
    }
}

#[test]
fn two_cases_round_trip_with_preop_record_only() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("kits19");
    write_kits(&src);
    let out = tmp.path().join("cohort");
    let progress = Progress::default();
    let summary = import_kits19(&src, &out, &Kits19Options::default(), &|d, t| {
        progress.record(d, t)
    })
    .unwrap();
    progress.check_complete();
    assert_eq!(summary.cases, 2);
    assert_eq!((summary.labels["1"], summary.labels["0"]), (1, 1));
    assert!(summary.splits.is_empty());

    let cohort = oncolens_io::scan_cohort(&out).unwrap();
    assert_eq!(cohort.entries.len(), 2);
    let e = &cohort.entries[0];
    assert_eq!((e.id.as_str(), e.site.0.as_str()), ("case_00000", "kits19"));
    assert_eq!(e.label, Some(CaseLabel(1)));
    assert_eq!(e.split, None);
    assert!(
        e.dicom_dir.is_none() && e.image_nifti.is_none(),
        "no CT ships with KiTS19"
    );
    let case = oncolens_io::load_case(e, None).unwrap();
    let lesion = case.lesion_mask.unwrap();
    let kidney = case.organ_mask.unwrap();
    // Same grid as the segmentation (NIfTI-1 stores spacing as f32).
    assert!(
        lesion.geometry().same_grid(&geometry(), 1e-5),
        "{:?}",
        lesion.geometry()
    );
    assert!(lesion.geometry().same_grid(kidney.geometry(), 1e-6));
    assert_eq!(lesion.count(1), 3);
    assert_eq!(
        kidney.count(1),
        2 * 3 * 4,
        "kidney mask includes the tumour"
    );
    assert_eq!(lesion.labels_present(), vec![1]);

    let clinical = case.clinical.unwrap();
    assert_eq!(clinical.age_years, Some(49.0));
    assert_eq!(clinical.sex, Some(Sex::Male));
    assert_eq!(
        clinical.primary_site.as_ref().map(|s| s.code.as_str()),
        Some("64033007")
    );
    let codes: Vec<&str> = clinical
        .unknown_codes
        .iter()
        .map(|c| c.code.as_str())
        .collect();
    for code in ["72166-2", "33728-7", "401201003", "73211009"] {
        assert!(codes.contains(&code), "{code} missing from {codes:?}");
    }
    // BMI and eGFR: read as markers where oncolens-records knows the code, else kept as codes.
    for (name, code, value) in [("bmi", "39156-5", 29.47), ("egfr", "33914-3", 77.0)] {
        match clinical.marker(name) {
            Some(m) => assert_eq!(m.value, value, "{name}"),
            None => assert!(codes.contains(&code), "{code} missing from {codes:?}"),
        }
    }
    let case1 = oncolens_io::load_case(&cohort.entries[1], None).unwrap();
    assert_eq!(case1.clinical.as_ref().unwrap().age_years, Some(61.0));
    assert_eq!(case1.clinical.as_ref().unwrap().sex, Some(Sex::Female));

    // The FHIR values are there for whoever reads the bundle itself.
    let bundle: Value =
        serde_json::from_str(&std::fs::read_to_string(e.fhir.as_ref().unwrap()).unwrap()).unwrap();
    let obs = |code: &str| -> Value {
        bundle["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| &x["resource"])
            .find(|r| r["code"]["coding"][0]["code"] == code)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(obs("39156-5")["valueQuantity"]["value"], 29.47);
    assert_eq!(obs("33728-7")["valueQuantity"]["value"], 4.2);
    assert_eq!(obs("33914-3")["valueQuantity"]["value"], 77.0);
    assert_eq!(obs("33914-3")["effectiveDateTime"], "2014-11-08");
    assert_eq!(
        obs("72166-2")["valueCodeableConcept"]["coding"][0]["code"],
        "8517006"
    );
    assert_eq!(obs("401201003")["valueQuantity"]["value"], 30.0);
    let b1: Value = serde_json::from_str(
        &std::fs::read_to_string(cohort.entries[1].fhir.as_ref().unwrap()).unwrap(),
    )
    .unwrap();
    let egfr1 = b1["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["resource"]["code"]["coding"][0]["code"] == "33914-3")
        .unwrap();
    assert_eq!(egfr1["resource"]["valueQuantity"]["comparator"], ">=");
    assert_eq!(egfr1["resource"]["valueQuantity"]["value"], 90.0);

    // Outcomes: pathology.csv, clearly described in cohort.json.
    let (header, rows) = read_csv(&out.join("pathology.csv"));
    assert_eq!(header[0], "case_id");
    assert_eq!(&header[1..], OUTCOME_FIELDS);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(rows[0][col("tumor_histologic_subtype")], "zz_subtype_leak");
    assert_eq!(rows[0][col("malignant")], "1");
    assert_eq!(rows[1][col("malignant")], "0");
    assert_eq!(rows[0][col("tumor_isup_grade")], "4");
    let (lh, labels) = read_csv(&out.join("labels.csv"));
    assert_eq!(lh, vec!["case_id", "site", "malignant"]);
    assert_eq!(labels[1], vec!["case_00001", "kits19", "0"]);
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("cohort.json")).unwrap()).unwrap();
    assert!(
        manifest["outcomes"]["warning"]
            .as_str()
            .unwrap()
            .contains("never a model input")
    );
    assert!(manifest["image"].as_str().unwrap().starts_with("absent"));
    assert!(
        manifest["source"]["licence"]
            .as_str()
            .unwrap()
            .contains("NC")
    );
}

#[test]
fn fhir_holds_no_post_operative_field() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("kits19");
    write_kits(&src);
    let out = tmp.path().join("cohort");
    import_kits19(&src, &out, &Kits19Options::default(), &|_, _| {}).unwrap();
    for case in ["case_00000", "case_00001"] {
        let text =
            std::fs::read_to_string(out.join("kits19").join(case).join("fhir.json")).unwrap();
        for field in OUTCOME_FIELDS.iter().chain(NOT_IMPORTED_FIELDS) {
            assert!(
                !text.contains(field),
                "{case}: fhir.json mentions `{field}`"
            );
        }
        for marker in LEAK_MARKERS {
            assert!(!text.contains(marker), "{case}: fhir.json holds `{marker}`");
        }
        // Distinctive post-operative numbers: pathologic size, survival days, blood loss, post-op eGFR.
        for number in ["9.87", "8642", "4321", "12.5", "13.5", "777", "1420"] {
            assert!(
                !text.contains(number),
                "{case}: fhir.json holds post-operative value {number}"
            );
        }
        // Nothing identifying or outcome-like in the Patient resource either.
        let bundle: Value = serde_json::from_str(&text).unwrap();
        let patient = &bundle["entry"][0]["resource"];
        assert_eq!(patient["resourceType"], "Patient");
        for key in ["deceasedBoolean", "deceasedDateTime", "name", "identifier"] {
            assert!(patient.get(key).is_none(), "{case}: Patient.{key}");
        }
    }
    // The malignant label is outcome data too: it may only be in labels.csv / pathology.csv.
    let all: Vec<String> = walk(&out);
    for p in all {
        if p.ends_with("fhir.json") {
            let text = std::fs::read_to_string(&p).unwrap();
            assert!(!text.to_lowercase().contains("malignan"), "{p}");
            assert!(!text.contains("benign"), "{p}");
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.display().to_string());
        }
    }
    out
}

#[test]
fn errors_name_the_file_and_field() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("kits19");
    write_kits(&src);
    let mut cases: Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("kits.json")).unwrap()).unwrap();
    cases[1]["body_mass_index"] = json!("heavy");
    std::fs::write(src.join("kits.json"), cases.to_string()).unwrap();
    let out = tmp.path().join("out");
    let err = import_kits19(&src, &out, &Kits19Options::default(), &|_, _| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("kits.json") && err.contains("case_00001") && err.contains("body_mass_index"),
        "{err}"
    );
    assert!(!out.exists(), "a failed import leaves no output");
    cases[1]["body_mass_index"] = json!(20.0);
    cases[1]["malignant"] = json!("yes");
    std::fs::write(src.join("kits.json"), cases.to_string()).unwrap();
    let err = import_kits19(&src, &out, &Kits19Options::default(), &|_, _| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("malignant"), "{err}");
    std::fs::remove_file(src.join("kits.json")).unwrap();
    let err = import_kits19(&src, &out, &Kits19Options::default(), &|_, _| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("kits.json"), "{err}");
}

#[test]
fn real_kits19_all_records_and_one_case_with_masks() {
    let Some(src) = shared("kits19") else {
        return;
    };
    let labels = read_kits_labels(&src.join("kits.json")).unwrap();
    assert_eq!(labels.len(), 210);
    assert_eq!(labels.iter().filter(|(_, m)| *m).count(), 192);
    // All 210 records, and the masks of the smallest case only (29 slices): a copy of kits.json
    // and of that one case in a temporary folder (nothing of KiTS19 enters the repository).
    let tmp = tempfile::tempdir().unwrap();
    let small = tmp.path().join("kits19");
    std::fs::create_dir_all(small.join("case_00061")).unwrap();
    std::fs::copy(src.join("kits.json"), small.join("kits.json")).unwrap();
    std::fs::copy(
        src.join("case_00061/segmentation.nii.gz"),
        small.join("case_00061/segmentation.nii.gz"),
    )
    .unwrap();
    let out = tmp.path().join("kits");
    let summary = import_kits19(&small, &out, &Kits19Options::default(), &|_, _| {}).unwrap();
    assert_eq!(summary.cases, 210);
    assert_eq!((summary.labels["1"], summary.labels["0"]), (192, 18));
    assert_eq!(
        summary
            .warnings
            .iter()
            .filter(|w| w.contains("no segmentation"))
            .count(),
        209
    );
    let kits: Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("kits.json")).unwrap()).unwrap();
    let by_id: std::collections::HashMap<&str, &Value> = kits
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["case_id"].as_str().unwrap(), c))
        .collect();
    let cohort = oncolens_io::scan_cohort(&out).unwrap();
    assert_eq!(cohort.entries.len(), 210);
    let subtypes: std::collections::BTreeSet<&str> = by_id
        .values()
        .filter_map(|c| c["tumor_histologic_subtype"].as_str())
        .collect();
    for e in &cohort.entries {
        let k = by_id[e.id.as_str()];
        assert_eq!(
            e.label,
            Some(CaseLabel(u8::from(k["malignant"].as_bool().unwrap())))
        );
        let case = oncolens_io::load_case(e, None).unwrap();
        let clinical = case.clinical.unwrap();
        assert_eq!(
            clinical.age_years,
            k["age_at_nephrectomy"].as_f64(),
            "{}",
            e.id
        );
        let sex = if k["gender"] == "male" {
            Sex::Male
        } else {
            Sex::Female
        };
        assert_eq!(clinical.sex, Some(sex), "{}", e.id);
        let text = std::fs::read_to_string(e.fhir.as_ref().unwrap()).unwrap();
        // As JSON strings: `malignant` alone would match the comorbidity `malignant_lymphoma`.
        for field in OUTCOME_FIELDS.iter().chain(NOT_IMPORTED_FIELDS) {
            assert!(
                !text.contains(&format!("\"{field}\"")),
                "{}: fhir.json mentions `{field}`",
                e.id
            );
        }
        for subtype in &subtypes {
            assert!(
                !text.contains(&format!("\"{subtype}\"")),
                "{}: subtype {subtype}",
                e.id
            );
        }
        if e.id == "case_00061" {
            let (lesion, kidney) = (case.lesion_mask.unwrap(), case.organ_mask.unwrap());
            assert_eq!(lesion.geometry().size, [29, 512, 512]);
            assert!(lesion.count(1) > 0 && kidney.count(1) > lesion.count(1));
        } else {
            assert!(case.lesion_mask.is_none());
        }
    }
    let (_, pathology) = read_csv(&out.join("pathology.csv"));
    assert_eq!(pathology.len(), 210);
}

/// The whole set: 210 cases (about 12 billion mask voxels; minutes in a release build).
#[test]
#[ignore = "slow: imports all 210 KiTS19 cases; run with --ignored --release"]
fn real_kits19_full() {
    let Some(src) = shared("kits19") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("kits");
    let summary = import_kits19(&src, &out, &Kits19Options::default(), &|d, t| {
        eprint!("\r{d}/{t}")
    })
    .unwrap();
    assert_eq!(summary.cases, 210);
    assert_eq!((summary.labels["1"], summary.labels["0"]), (192, 18));
    let cohort = oncolens_io::scan_cohort(&out).unwrap();
    assert_eq!(cohort.entries.len(), 210);
    assert!(
        cohort
            .entries
            .iter()
            .all(|e| e.lesion_mask.is_some() && e.organ_mask.is_some() && e.fhir.is_some())
    );
}
