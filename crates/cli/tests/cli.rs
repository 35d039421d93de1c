//! End-to-end tests of the `oncolens` binary at tiny size.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

fn oncolens(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oncolens"))
        .args(args)
        .output()
        .expect("binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn synth(out: &Path) {
    let o = oncolens(&[
        "synth",
        "--out",
        out.to_str().unwrap(),
        "--patients",
        "5",
        "--sites",
        "2",
        "--matrix",
        "32",
        "--seed",
        "4",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn help_lists_every_command() {
    let o = oncolens(&["--help"]);
    assert!(o.status.success());
    for cmd in [
        "demo",
        "synth",
        "inspect",
        "deid",
        "federate",
        "explain",
        "explain-global",
        "station",
        "survival",
        "logistic",
        "radiogenomics",
        "stain-normalise",
        "slide",
    ] {
        assert!(stdout(&o).contains(cmd), "--help does not mention {cmd}");
    }
    for cmd in ["demo", "synth", "inspect", "deid"] {
        let o = oncolens(&[cmd, "--help"]);
        assert!(o.status.success(), "{cmd} --help failed");
    }
}

#[test]
fn inspect_json_has_the_contract_keys_for_dicom_nifti_and_fhir() {
    let dir = tempfile::tempdir().unwrap();
    let cohort = dir.path().join("cohort");
    synth(&cohort);
    let case = std::fs::read_dir(cohort.join("site_a"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.join("ct").is_dir() && p.join("fhir.json").is_file())
        .expect("a case with image and clinical record");

    let o = oncolens(&["inspect", "--json", case.join("ct").to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["kind"], "image");
    assert_eq!(v["modality"], "CT");
    assert_eq!(v["size"].as_array().unwrap().len(), 3);
    assert_eq!(v["size"][0], 32);
    assert_eq!(v["direction"].as_array().unwrap().len(), 9);
    for k in ["spacing_mm", "origin_mm"] {
        assert_eq!(v[k].as_array().unwrap().len(), 3, "{k}");
    }
    for k in ["min", "max", "mean", "std"] {
        assert!(v["hu"][k].is_number(), "hu.{k}");
    }
    assert!(
        v["hu"]["min"].as_f64().unwrap() < -900.0,
        "air should be near -1000 HU"
    );

    let o = oncolens(&[
        "inspect",
        "--json",
        case.join("lesion_mask.nii.gz").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let m: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(m["size"], v["size"]);
    for i in 0..3 {
        let a = m["origin_mm"][i].as_f64().unwrap();
        let b = v["origin_mm"][i].as_f64().unwrap();
        assert!((a - b).abs() < 1e-3, "mask origin {a} vs image origin {b}");
    }
    assert_eq!(m["hu"]["max"], 1.0);

    let o = oncolens(&[
        "inspect",
        "--json",
        case.join("fhir.json").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let f: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(f["kind"], "fhir_bundle");
    assert!(f["record"]["age_years"].is_number());

    let o = oncolens(&["inspect", cohort.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("5 cases in 2 sites"), "{}", stdout(&o));
}

#[test]
fn inspect_never_prints_patient_identifiers() {
    let dir = tempfile::tempdir().unwrap();
    let cohort = dir.path().join("cohort");
    synth(&cohort);
    for entry in walk(&cohort) {
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        if !(name == "fhir.json" || name == "ct") {
            continue;
        }
        let o = oncolens(&["inspect", "--json", entry.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        let text = stdout(&o) + &stderr(&o);
        assert!(
            !text.contains("SYN"),
            "an MRN leaked into inspect output: {text}"
        );
        assert!(
            !text.contains("birthDate") && !text.contains("^"),
            "identity leaked: {text}"
        );
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().filter_map(|e| e.ok()) {
        let p = e.path();
        out.push(p.clone());
        if p.is_dir() {
            out.extend(walk(&p));
        }
    }
    out
}

#[test]
fn errors_name_the_file_and_exit_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.nii.gz");
    let o = oncolens(&["inspect", missing.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("nope.nii.gz"), "{}", stderr(&o));

    let bad = dir.path().join("broken.json");
    std::fs::write(&bad, "{\"resourceType\": \"Bundle\", \"entry\": [").unwrap();
    let o = oncolens(&["inspect", bad.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("broken.json"), "{}", stderr(&o));

    let nii = dir.path().join("trunc.nii");
    std::fs::write(&nii, [0u8; 100]).unwrap();
    let o = oncolens(&["inspect", nii.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("trunc.nii"), "{}", stderr(&o));

    let full = dir.path().join("full");
    std::fs::create_dir_all(&full).unwrap();
    std::fs::write(full.join("mine.txt"), "keep").unwrap();
    let o = oncolens(&[
        "synth",
        "--out",
        full.to_str().unwrap(),
        "--patients",
        "2",
        "--sites",
        "1",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not empty"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(full.join("mine.txt")).unwrap(),
        "keep"
    );
}

#[test]
fn demo_runs_end_to_end_at_tiny_size() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let args = [
        "demo",
        "--out",
        out.to_str().unwrap(),
        "--patients",
        "32",
        "--sites",
        "2",
        "--matrix",
        "32",
        "--epochs",
        "2",
        "--crop-side",
        "8",
        "--crop-spacing-mm",
        "12",
        "--explain",
        "2",
        "--ig-steps",
        "4",
        "--reading-reference-patients",
        "300",
    ];
    let o = oncolens(&args);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["cases"], 32);
    let checks = summary["checks_against_ground_truth"].as_object().unwrap();
    assert!(checks.contains_key("age_from_fhir"));
    for (name, c) in checks {
        assert_eq!(c["checked"], c["passed"], "{name}");
    }
    assert!(out.join("cases.csv").is_file());
    // The metrics.json contract.
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    for model in ["fused", "image", "clinical", "text", "omics"] {
        assert!(
            metrics["test"][model].get("auc").is_some(),
            "test.{model}.auc missing: {}",
            metrics["test"]
        );
    }
    let fused_auc = metrics["test"]["fused"]["auc"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&fused_auc));
    assert_eq!(
        metrics["test"]["fused"]["auc_ci"].as_array().unwrap().len(),
        2
    );
    assert!(!metrics["per_site"].as_object().unwrap().is_empty());
    assert_eq!(metrics["leave_one_site_out"].as_object().unwrap().len(), 2);
    // Radiogenomics ran on the cohort and was scored against the generator's 9 gene links.
    assert_eq!(
        metrics["radiogenomics"]["against_generator"]["linked_genes"], 9,
        "{}",
        metrics["radiogenomics"]
    );
    assert!(out.join("radiogenomics/associations.csv").is_file());
    // Late fusion: non-negative weights, an exact per-modality decomposition summing to one,
    // and pooled out-of-site predictions for every patient.
    let weights = metrics["late_fusion"]["weights"].as_object().unwrap();
    // The stacking weights are cross-fitted: fitted on out-of-fold logits of every training
    // and validation patient, not on the validation patients alone.
    let split = &metrics["split"];
    assert_eq!(
        metrics["late_fusion"]["fitted_on_patients"]
            .as_u64()
            .unwrap(),
        split["train"].as_u64().unwrap() + split["val"].as_u64().unwrap(),
        "{}",
        metrics["late_fusion"]
    );
    assert!(weights.values().all(|w| w.as_f64().unwrap() >= 0.0));
    let shares: f64 = metrics["modality_contribution"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert!((shares - 1.0).abs() < 1e-9 || shares == 0.0, "{shares}");
    // The model's ranking is set beside the generator's reference shares, which rank image
    // first and omics last; the agreement flag is consistent with the two rankings.
    let ranking = &metrics["modality_ranking"];
    let generator = ranking["generator_ranking"].as_array().unwrap();
    assert_eq!(generator.first().unwrap(), "image", "{ranking}");
    assert_eq!(generator.last().unwrap(), "omics", "{ranking}");
    let reference: f64 = ranking["generator"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert!((reference - 1.0).abs() < 1e-9, "{ranking}");
    // The classifier's reference (log-odds given what a pattern shows) credits the image more
    // than the same explanation of the expected logit, which over-credits weak modalities.
    let image_share = |key: &str| ranking[key]["image"].as_f64().unwrap();
    assert!(
        image_share("generator") > image_share("generator_logit_scale"),
        "{ranking}"
    );
    assert_eq!(
        ranking["rankings_agree"].as_bool().unwrap(),
        ranking["model_ranking"] == ranking["generator_ranking"],
        "{ranking}"
    );
    let rho = ranking["spearman"].as_f64().unwrap();
    assert!((-1.0..=1.0).contains(&rho), "{ranking}");
    // The same check out of site: complete patients explained by the leave-one-site-out model
    // that never saw their site; shares of a distribution, a consistent agreement flag.
    let oos = &ranking["model_out_of_site_complete_cases"];
    assert!(oos["patients"].as_u64().unwrap() > 0, "{ranking}");
    let total: f64 = oos["shares"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert!((total - 1.0).abs() < 1e-9 || total == 0.0, "{ranking}");
    assert_eq!(
        oos["rankings_agree"].as_bool().unwrap(),
        oos["ranking"] == ranking["generator_ranking"],
        "{ranking}"
    );
    // The second reference reads the CT rendered on this cohort's (coarse) grids: a
    // distribution over the modalities, its ranking consistent with its shares, the model's
    // agreement flag consistent with the two rankings, also out of site.
    let reading = &ranking["generator_reading_ct"];
    let patients = reading["patients"].as_u64().unwrap();
    assert!(patients > 150 && patients <= 300, "{reading}");
    let reading_shares = reading["shares"].as_object().unwrap();
    let total: f64 = reading_shares.values().map(|v| v.as_f64().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-9, "{reading}");
    let order: Vec<f64> = reading["ranking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| reading_shares[m.as_str().unwrap()].as_f64().unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] >= w[1]), "{reading}");
    assert_eq!(
        reading["model_ranking_agrees"].as_bool().unwrap(),
        ranking["model_ranking"] == reading["ranking"],
        "{reading}"
    );
    assert_eq!(
        oos["against_reading_ct"]["rankings_agree"]
            .as_bool()
            .unwrap(),
        oos["ranking"] == reading["ranking"],
        "{oos}"
    );
    // Each share comes with a bootstrap interval around it, and each two neighbours of the
    // reference order with the interval of the model's difference and the reference's own.
    for (u, shares) in [
        (
            &ranking["model_complete_cases_uncertainty"],
            &ranking["model_complete_cases"],
        ),
        (&oos["uncertainty"], &oos["shares"]),
    ] {
        for (m, ci) in u["share_ci95"].as_object().unwrap() {
            let (lo, hi) = (ci[0].as_f64().unwrap(), ci[1].as_f64().unwrap());
            let share = shares[m].as_f64().unwrap();
            assert!(lo <= share && share <= hi, "{m}: {u}");
        }
        let pairs = u["reference_neighbours"].as_array().unwrap();
        assert_eq!(pairs.len(), 3, "{u}");
        for p in pairs {
            let d = p["model_difference"].as_f64().unwrap();
            let expected = shares[p["higher"].as_str().unwrap()].as_f64().unwrap()
                - shares[p["lower"].as_str().unwrap()].as_f64().unwrap();
            assert!((d - expected).abs() < 1e-12, "{p}");
            let reference = p["reference_difference"].as_f64().unwrap();
            assert!(reference >= 0.0, "{p}");
            let f = p["resamples_in_reference_order"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&f), "{p}");
        }
    }
    // Every explained case carries the radiomic path's feature attributions, and their mean
    // magnitudes are summarised per feature.
    let cases = metrics["explained_cases"].as_array().unwrap();
    assert!(!cases.is_empty());
    for c in cases {
        let lf = c["lesion_features"].as_object().unwrap();
        assert_eq!(
            lf.len(),
            oncolens_train::cases::LESION_FEATURES.len(),
            "{c}"
        );
        assert!(
            lf.values()
                .all(|v| v["shapley_logit"].as_f64().is_some_and(f64::is_finite))
        );
    }
    let mean_abs = metrics["lesion_feature_mean_abs_shapley"]
        .as_object()
        .unwrap();
    assert_eq!(mean_abs.len(), oncolens_train::cases::LESION_FEATURES.len());
    assert!(mean_abs.values().all(|v| v.as_f64().unwrap() >= 0.0));
    assert_eq!(metrics["leave_one_site_out_pooled"]["fused"]["n"], 32);
    // Fused minus each member's AUC on the same patients, with a paired interval; the member
    // scales and centres of the standardised stacking are reported.
    for (set, n) in [
        ("test", split["test"].as_u64().unwrap()),
        ("leave_one_site_out_pooled", 32),
    ] {
        let d = metrics["fused_vs_single"][set].as_object().unwrap();
        assert_eq!(d.len(), 4, "{set}: {d:?}");
        for (m, v) in d {
            assert_eq!(v["patients"].as_u64(), Some(n), "{set} {m}");
            if let Some(diff) = v["auc_difference"].as_f64() {
                assert!(diff.abs() <= 1.0, "{set} {m}: {diff}");
                let ci = v["ci95"].as_array().unwrap();
                assert!(ci[0].as_f64().unwrap() <= ci[1].as_f64().unwrap());
            }
        }
    }
    for k in ["member_centres", "member_scales"] {
        let v = metrics["late_fusion"][k].as_object().unwrap();
        assert_eq!(v.len(), 4, "{k}");
    }
    assert!(
        metrics["late_fusion"]["member_scales"]
            .as_object()
            .unwrap()
            .values()
            .all(|s| s.as_f64().unwrap() > 0.0)
    );
    // One stacking fit per pattern of the four modalities; the full pattern carries all four
    // weights (non-negative) and was fitted on patients who have all four, or fell back.
    let patterns = metrics["late_fusion"]["patterns"].as_array().unwrap();
    assert_eq!(patterns.len(), 15, "{patterns:?}");
    let full = patterns
        .iter()
        .find(|p| p["modalities"] == "image+clinical+text+omics")
        .unwrap();
    let weights = full["weights"].as_object().unwrap();
    assert_eq!(weights.len(), 4, "{full}");
    assert!(
        weights.values().all(|w| w.as_f64().unwrap() >= 0.0),
        "{full}"
    );
    assert!(full["fitted_on_patients"].as_u64().is_some(), "{full}");
    for method in ["integrated-gradients", "grad-cam"] {
        let share = metrics["attribution_in_lesion"][method].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&share), "{method}: {share}");
        let f = &metrics["faithfulness"][method];
        for k in ["deletion_auc", "insertion_auc", "randomization_rank_corr"] {
            let v = f[k].as_f64().unwrap();
            assert!(
                v.is_finite() && (-1.0..=1.0).contains(&v),
                "{method}.{k} = {v}"
            );
        }
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("data:image/png;base64,") && html.contains("Leave one site out"));
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(std::fs::read_dir(out.join("explanations")).unwrap().count() > 0);

    // train and predict work on the cohort the demo wrote.
    let cohort = out.join("cohort");
    let model = dir.path().join("model");
    let o = oncolens(&[
        "train",
        "--cohort",
        cohort.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
        "--epochs",
        "2",
        "--crop-side",
        "8",
        "--crop-spacing-mm",
        "12",
        "--fusion",
        "late",
    ]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains("late fusion of"), "{}", stderr(&o));
    assert!(model.join("weights.safetensors").is_file() && model.join("metrics.json").is_file());
    let case = std::fs::read_dir(cohort.join("site_a"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    let o = oncolens(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--case",
        case.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let p: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let prob = p["probability_malignant"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&prob));
    // A folder that is not a case is a clear error.
    let o = oncolens(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--case",
        dir.path().to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not a case folder"), "{}", stderr(&o));

    // explain: one case, one method, faithfulness and modality shares (the issue's contract).
    let ex = dir.path().join("explain");
    let o = oncolens(&[
        "explain",
        "--model",
        model.to_str().unwrap(),
        "--case",
        case.to_str().unwrap(),
        "--method",
        "occlusion",
        "--faithfulness-steps",
        "4",
        "--out",
        ex.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let e: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ex.join("explanation.json")).unwrap())
            .unwrap();
    assert_eq!(e["method"], "occlusion");
    assert!(e["prediction"]["probability_malignant"].as_f64().is_some());
    for k in ["deletion_auc", "insertion_auc", "randomization_rank_corr"] {
        let v = e["faithfulness"][k].as_f64().unwrap();
        assert!(v.is_finite() && (-1.0..=1.0).contains(&v), "{k} = {v}");
    }
    let shares: f64 = e["modality_shares"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert!((shares - 1.0).abs() < 1e-9 || shares == 0.0, "{shares}");
    // The image's radiomic path: the four lesion features with their raw values and Shapley
    // values (the case has a lesion mask, so the model and the case both have them).
    let lesion = e["lesion_features"].as_array().unwrap();
    let names: Vec<&str> = lesion
        .iter()
        .map(|r| r["feature"].as_str().unwrap())
        .collect();
    assert_eq!(names, oncolens_train::cases::LESION_FEATURES, "{lesion:?}");
    let volume_ml = lesion[0]["value"].as_f64().unwrap().exp() / 1000.0;
    assert!((0.5..500.0).contains(&volume_ml), "{volume_ml}");
    assert!(
        lesion
            .iter()
            .all(|r| r["shapley_logit"].as_f64().is_some_and(f64::is_finite)),
        "{lesion:?}"
    );
    assert!(ex.join("heatmap.nii.gz").is_file() && ex.join("heatmap.png").is_file());
    let o = oncolens(&[
        "explain",
        "--model",
        model.to_str().unwrap(),
        "--case",
        case.to_str().unwrap(),
        "--method",
        "lime",
        "--out",
        ex.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--method lime"), "{}", stderr(&o));

    // explain-global on the model's cohort: tree, rules and network files.
    let eg = dir.path().join("global");
    let o = oncolens(&[
        "explain-global",
        "--model",
        model.to_str().unwrap(),
        "--cohort",
        cohort.to_str().unwrap(),
        "--target",
        "label",
        "--out",
        eg.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    for f in [
        "tree.dot",
        "tree.png",
        "rules.csv",
        "bayes_net.dot",
        "bayes_net.png",
        "global.json",
    ] {
        assert!(eg.join(f).is_file(), "{f} missing");
    }
    let rules = std::fs::read_to_string(eg.join("rules.csv")).unwrap();
    assert!(
        rules.starts_with("antecedent,consequent,support,confidence,lift"),
        "{rules}"
    );
    assert!(
        std::fs::read_to_string(eg.join("tree.dot"))
            .unwrap()
            .starts_with("digraph Tree")
    );

    // federate: two stations over loopback with mutual TLS and secure aggregation.
    let fed = dir.path().join("fed");
    let o = oncolens(&[
        "federate",
        "--cohort",
        cohort.to_str().unwrap(),
        "--out",
        fed.to_str().unwrap(),
        "--rounds",
        "2",
        "--local-epochs",
        "1",
        "--epochs",
        "2",
        "--crop-side",
        "8",
        "--crop-spacing-mm",
        "12",
        "--transport",
        "loopback",
        "--tls",
        "--secure-aggregation",
        "--min-cell",
        "1",
    ]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fed.join("metrics.json")).unwrap()).unwrap();
    assert!(m["federated"].get("auc").is_some() && m["centralised"].get("auc").is_some());
    assert_eq!(m["federated"]["history"].as_array().unwrap().len(), 2);
    assert!(m["federated"]["per_site"].is_object());
    assert_eq!(m["federated"]["secure_aggregation"], true);
    for log in m["federated"]["audit_logs"].as_array().unwrap() {
        let text = std::fs::read_to_string(log.as_str().unwrap()).unwrap();
        assert!(text.contains("federated_train") && text.contains("aggregator"));
    }
    assert!(fed.join("model").join("weights.safetensors").is_file());

    // station plan-npy: the federated model as the initial array of a Flower ServerApp.
    let npy = dir.path().join("plan.npy");
    let o = oncolens(&[
        "station",
        "plan-npy",
        "--plan",
        fed.join("model").to_str().unwrap(),
        "--out",
        npy.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let bytes = std::fs::read(&npy).unwrap();
    assert!(bytes.starts_with(b"\x93NUMPY"));
    let header = String::from_utf8_lossy(&bytes[..128.min(bytes.len())]).into_owned();
    assert!(header.contains("'descr': '<f4'"), "{header}");

    // federate --folds: every labelled patient is predicted once by both models, and the
    // paired interval of the difference holds the difference.
    let cv = dir.path().join("fed_cv");
    let o = oncolens(&[
        "federate",
        "--cohort",
        cohort.to_str().unwrap(),
        "--out",
        cv.to_str().unwrap(),
        "--rounds",
        "1",
        "--local-epochs",
        "1",
        "--epochs",
        "1",
        "--crop-side",
        "8",
        "--crop-spacing-mm",
        "12",
        "--min-cell",
        "1",
        "--folds",
        "2",
    ]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cv.join("metrics.json")).unwrap()).unwrap();
    let folds = m["federated"]["folds"].as_array().unwrap();
    assert_eq!(folds.len(), 2);
    for model in ["centralised", "centralised_early_stopping"] {
        assert_eq!(m[model]["folds"].as_array().unwrap().len(), 2, "{model}");
        assert!(m[model]["auc"].is_number(), "{model}");
    }
    let per_fold: u64 = folds
        .iter()
        .map(|f| f["test_patients"].as_u64().unwrap())
        .sum();
    assert_eq!(m["test_patients"].as_u64().unwrap(), per_fold);
    let d = m["auc_difference"].as_f64().unwrap();
    let ci = m["auc_difference_ci95"].as_array().unwrap();
    let (lo, hi) = (ci[0].as_f64().unwrap(), ci[1].as_f64().unwrap());
    assert!(lo <= d && d <= hi, "{d} not in [{lo}, {hi}]");
    assert!(cv.join("folds/fold2/model/weights.safetensors").is_file());

    // station make-ca writes a CA and one identity per name.
    let pki = dir.path().join("pki");
    let o = oncolens(&[
        "station",
        "make-ca",
        "--out",
        pki.to_str().unwrap(),
        "--names",
        "a,aggregator",
    ]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    for f in ["ca.pem", "a.pem", "a.key", "aggregator.pem"] {
        assert!(pki.join(f).is_file(), "{f} missing");
    }

    // A second run reuses the cohort.
    let o = oncolens(&args);
    assert!(o.status.success());
    assert!(stderr(&o).contains("reusing"), "{}", stderr(&o));
}

/// `harmonize` on the neuroCombat fixture table: every row kept, site means of a harmonised
/// feature pulled together, the fitted model written; a wrong column is a clear error.
#[test]
fn harmonize_removes_site_means_and_names_a_wrong_column() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/harmonize");
    let input = root.join("radiomics_3sites.csv");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("harmonised.csv");
    let fit = dir.path().join("fit.json");
    let o = oncolens(&[
        "harmonize",
        "--input",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--id-column",
        "subject_id",
        "--covariates",
        "age,sex",
        "--categorical",
        "sex",
        "--fit-out",
        fit.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let site_spread = |path: &Path| {
        let mut r = csv::Reader::from_path(path).unwrap();
        let h = r.headers().unwrap().clone();
        let s = h.iter().position(|c| c == "site").unwrap();
        let f = h
            .iter()
            .position(|c| c == "original_firstorder_Mean")
            .unwrap();
        let mut by: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
        let mut n = 0;
        for rec in r.records() {
            let rec = rec.unwrap();
            by.entry(rec[s].to_owned())
                .or_default()
                .push(rec[f].parse().unwrap());
            n += 1;
        }
        let means: Vec<f64> = by
            .values()
            .map(|v| v.iter().sum::<f64>() / v.len() as f64)
            .collect();
        let spread = means.iter().cloned().fold(f64::MIN, f64::max)
            - means.iter().cloned().fold(f64::MAX, f64::min);
        (n, spread)
    };
    let (n_in, before) = site_spread(&input);
    let (n_out, after) = site_spread(&out);
    assert_eq!(n_in, n_out);
    assert!(after < 0.5 * before, "site spread {before} -> {after}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&fit).unwrap()).unwrap();
    assert_eq!(report["fit"]["batches"].as_array().map(Vec::len), Some(3));
    assert!(!report["fit"]["gamma_star"].is_null());

    let bad = oncolens(&[
        "harmonize",
        "--input",
        input.to_str().unwrap(),
        "--out",
        dir.path().join("x.csv").to_str().unwrap(),
        "--site-column",
        "hospital",
    ]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("hospital"), "{}", stderr(&bad));
}

/// `radiomics` prints the JSON contract on the IBSI digital phantom, with the phantom's
/// reference mesh volume (556 mm³ ± 4); the cohort mode writes one row per case joined with
/// the clinical record; a mask on another grid is a clear error naming the grids.
#[test]
fn radiomics_single_and_cohort_modes() {
    let phantom = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/radiomics/ibsi1/digital_phantom");
    let image = phantom.join("image/phantom.nii.gz");
    let mask = phantom.join("mask/mask.nii.gz");
    let v = radiomics_json(&image, &mask, "ibsi-phantom");
    let features = v["features"].as_array().unwrap();
    assert!(features.len() > 400, "{} features", features.len());
    for f in features {
        for key in ["name", "ibsi_code", "pyradiomics_name", "value"] {
            assert!(f.get(key).is_some(), "{key} missing in {f}");
        }
    }
    let volume = features
        .iter()
        .find(|f| f["name"] == "morph_volume")
        .unwrap();
    assert_eq!(volume["pyradiomics_name"], "shape_MeshVolume");
    assert!((volume["value"].as_f64().unwrap() - 556.0).abs() <= 4.0);
    assert!(v["settings"].is_object());

    let dir = tempfile::tempdir().unwrap();
    let cohort = dir.path().join("cohort");
    synth(&cohort);
    let table = dir.path().join("features.csv");
    let o = oncolens(&[
        "radiomics",
        "--cohort",
        cohort.to_str().unwrap(),
        "--out",
        table.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut r = csv::Reader::from_path(&table).unwrap();
    let h = r.headers().unwrap().clone();
    for col in [
        "case_id",
        "site",
        "label",
        "age_years",
        "morph_volume",
        "cm_contrast_3D_avg",
    ] {
        assert!(h.iter().any(|c| c == col), "{col} not in {h:?}");
    }
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert!(!rows.is_empty() && rows.len() <= 5);
    let vol = h.iter().position(|c| c == "morph_volume").unwrap();
    assert!(rows.iter().all(|r| r[vol].parse::<f64>().unwrap() > 0.0));

    // A mask on another grid: the CT phantom mask over the digital phantom image.
    let case = std::fs::read_dir(cohort.join("site_a"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("lesion_mask.nii.gz").is_file())
        .unwrap();
    let o = oncolens(&[
        "radiomics",
        "--image",
        image.to_str().unwrap(),
        "--mask",
        case.join("lesion_mask.nii.gz").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("grid"), "{}", stderr(&o));
}

/// A settings file whose fixed bin size starts far below the ROI (a re-segmentation minimum of
/// -1e9) would ask for 40 million grey levels: a clear error naming the setting, not an
/// allocation abort. The same range with bins from a lower bound near the ROI works, IVH
/// included (its curve spans two billion steps but is never materialised).
#[test]
fn radiomics_refuses_a_discretisation_with_too_many_levels() {
    let phantom = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/radiomics/ibsi1/digital_phantom");
    let image = phantom.join("image/phantom.nii.gz");
    let mask = phantom.join("mask/mask.nii.gz");
    let dir = tempfile::tempdir().unwrap();
    let run = |lower_bound: &str| {
        let config = dir.path().join("settings.toml");
        std::fs::write(
            &config,
            format!(
                "[resegmentation]\nrange_min = -1e9\nrange_max = 1e9\n\n[discretisation]\nmethod = \"fixed_bin_size\"\nwidth = 25.0\n{lower_bound}\n[ivh_discretisation]\nmethod = \"none\"\n"
            ),
        )
        .unwrap();
        oncolens(&[
            "radiomics",
            "--image",
            image.to_str().unwrap(),
            "--mask",
            mask.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--json",
        ])
    };
    let o = run("");
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("grey levels") && e.contains("resegmentation.range_min"),
        "{e}"
    );
    assert!(
        !e.contains("panicked") && !e.contains("memory allocation"),
        "{e}"
    );
    let o = run("lower_bound = 0.0\n");
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let auc = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "ivh_auc")
        .unwrap()["value"]
        .as_f64()
        .unwrap();
    // Half the range lies below the phantom's levels (1..6): the curve is 1 there.
    assert!((auc - 0.5).abs() < 1e-6, "IVH AUC {auc}");
}

/// `oncolens radiomics --json` on one image and mask with a preset; must succeed.
fn radiomics_json(image: &Path, mask: &Path, preset: &str) -> serde_json::Value {
    let o = oncolens(&[
        "radiomics",
        "--image",
        image.to_str().unwrap(),
        "--mask",
        mask.to_str().unwrap(),
        "--preset",
        preset,
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

/// `oncolens radiomics` streams a NIfTI CT and keeps only the region the features read; on the
/// IBSI CT phantom (shared data) its features equal the library's on the whole image, bit for
/// bit, for PyRadiomics' settings and for the IBSI ones (local-intensity margin).
#[test]
fn radiomics_streamed_equals_whole_image_on_real_ct() {
    let shared = std::env::var_os("ONCOLENS_SHARED_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    let dir = shared.join("reference/radiomics/ibsi1/ct_phantom_CC-BY-NC");
    let (image, mask) = (
        dir.join("image/phantom.nii.gz"),
        dir.join("mask/mask.nii.gz"),
    );
    if !image.is_file() {
        eprintln!("skipped: {} not found", image.display());
        return;
    }
    let volume = oncolens_nifti::read_volume(&image).unwrap().volume;
    let labels = oncolens_nifti::read_label_map(&mask).unwrap();
    for (preset, settings) in [
        ("pyradiomics", oncolens_radiomics::Settings::pyradiomics()),
        (
            "pyradiomics-ibsi",
            oncolens_radiomics::Settings::pyradiomics_with_ibsi(),
        ),
    ] {
        let v = radiomics_json(&image, &mask, preset);
        let want = oncolens_radiomics::extract(&volume, &labels, 1, &settings).unwrap();
        // Both through the same JSON text and parser: equal values print identically.
        let want: serde_json::Value =
            serde_json::from_str(&serde_json::to_string_pretty(&want).unwrap()).unwrap();
        let got = v["features"].as_array().unwrap();
        assert_eq!(got.len(), want["features"].as_array().unwrap().len());
        for (g, w) in got.iter().zip(want["features"].as_array().unwrap()) {
            assert_eq!(g, w, "{preset}");
        }
        // Settings and IBSI diagnostics (whole-image statistics included) too.
        assert_eq!(v, want, "{preset}");
    }
}

#[test]
fn survival_fits_a_table_and_names_what_is_wrong() {
    let table = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/survival/synthetic.csv");
    let table = table.to_str().unwrap();
    let base = [
        "survival",
        "--table",
        table,
        "--time",
        "time",
        "--event",
        "event",
        "--covariates",
        "age,size_cm,stage_high",
    ];
    let o = oncolens(&[&base[..], &["--json"]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["fit"]["patients"], 160);
    assert_eq!(v["table"]["rows_used"], 160);
    // The same fit lifelines gives (fixtures/survival/make_fixture.py).
    let want: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../fixtures/survival/lifelines_synthetic.json"),
        )
        .unwrap(),
    )
    .unwrap();
    for (k, c) in v["fit"]["covariates"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let (ours, theirs) = (
            c["coef"].as_f64().unwrap(),
            want["fits"]["efron"]["coef"][k].as_f64().unwrap(),
        );
        assert!(
            (ours - theirs).abs() < 1e-7 * theirs.abs(),
            "{ours} {theirs}"
        );
    }
    // The human summary names every covariate; CSV has one row each.
    let o = oncolens(&base);
    assert!(o.status.success());
    assert!(stdout(&o).contains("size_cm") && stdout(&o).contains("concordance"));
    let o = oncolens(&[&base[..], &["--csv"]].concat());
    assert_eq!(stdout(&o).lines().count(), 4);

    // Categories and strata: site as strata, stage as a category.
    let o = oncolens(&[
        "survival",
        "--table",
        table,
        "--time",
        "time",
        "--event",
        "event",
        "--covariates",
        "age,stage_high",
        "--categorical",
        "stage_high",
        "--strata",
        "site",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["fit"]["covariates"][1]["name"], "stage_high=1");
    assert_eq!(v["fit"]["strata"].as_array().unwrap().len(), 3);

    for (args, message) in [
        (vec!["--covariates", "weight"], "no column `weight`"),
        (
            vec!["--covariates", "age,site", "--strata", "site"],
            "both the strata and a covariate",
        ),
    ] {
        let mut a = base[..7].to_vec();
        a.extend(args);
        let o = oncolens(&a);
        assert!(!o.status.success());
        assert!(stderr(&o).contains(message), "{}", stderr(&o));
        assert!(stderr(&o).contains("synthetic.csv"), "{}", stderr(&o));
    }
}

/// A `station serve` child process, killed on drop.
struct ServedStation(std::process::Child);

impl Drop for ServedStation {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn survival_across_two_served_stations_equals_the_pooled_stratified_fit() {
    let dir = tempfile::tempdir().unwrap();
    let policy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/station/policy.toml");
    let mut pooled = String::from("station,time,event,size\n");
    let mut urls = Vec::new();
    let mut served = Vec::new();
    for (k, name) in ["east", "west"].iter().enumerate() {
        let cohort = dir.path().join(name);
        let o = oncolens(&[
            "synth",
            "--out",
            cohort.to_str().unwrap(),
            "--patients",
            "30",
            "--sites",
            "1",
            "--matrix",
            "16",
            "--seed",
            &(20 + k).to_string(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        // Outcomes as a KiTS19 import writes them: larger tumours die sooner.
        let ids: Vec<String> = std::fs::read_dir(cohort.join("site_a"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let mut csv =
            String::from("case_id,vital_status,vital_days_after_surgery,pathologic_size\n");
        for (i, id) in ids.iter().enumerate() {
            let size = 2.0 + ((i * 7 + k * 3) % 11) as f64;
            let days = 100 + ((i * 37 + k * 11) % 50) * 20 + (200.0 / size) as usize * 5;
            // Larger tumours die more often (a non-zero logistic effect of size).
            let status = if size + (i % 5) as f64 > 8.0 {
                "dead"
            } else {
                "censored"
            };
            csv.push_str(&format!("{id},{status},{days},{size}\n"));
            pooled.push_str(&format!(
                "{name},{days},{},{size}\n",
                u8::from(status == "dead")
            ));
        }
        std::fs::write(cohort.join("pathology.csv"), csv).unwrap();
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_oncolens"))
            .args([
                "station",
                "serve",
                "--data",
                cohort.to_str().unwrap(),
                "--policy",
                policy.to_str().unwrap(),
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--name",
                name,
                "--audit-log",
                dir.path().join(format!("{name}.jsonl")).to_str().unwrap(),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        served.push(ServedStation(child));
        urls.push(format!("http://127.0.0.1:{port}"));
    }
    // Wait until both listen.
    for url in &urls {
        let addr = url.trim_start_matches("http://");
        let start = std::time::Instant::now();
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                start.elapsed().as_secs() < 120,
                "station {url} did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    let table = dir.path().join("pooled.csv");
    std::fs::write(&table, pooled).unwrap();
    let federated = oncolens(&[
        "survival",
        "--stations",
        &urls.join(","),
        "--time",
        "time",
        "--event",
        "event",
        "--covariates",
        "outcome_pathologic_size",
        "--json",
    ]);
    assert!(federated.status.success(), "{}", stderr(&federated));
    let local = oncolens(&[
        "survival",
        "--table",
        table.to_str().unwrap(),
        "--time",
        "time",
        "--event",
        "event",
        "--covariates",
        "size",
        "--strata",
        "station",
        "--json",
    ]);
    assert!(local.status.success(), "{}", stderr(&local));
    let f: serde_json::Value = serde_json::from_str(&stdout(&federated)).unwrap();
    let l: serde_json::Value = serde_json::from_str(&stdout(&local)).unwrap();
    assert_eq!(f["fit"]["strata"], serde_json::json!(["east", "west"]));
    assert_eq!(f["fit"]["patients"], 60);
    assert_eq!(f["fit"]["events"], l["fit"]["events"]);
    for key in ["coef", "se", "p"] {
        let (a, b) = (
            f["fit"]["covariates"][0][key].as_f64().unwrap(),
            l["fit"]["covariates"][0][key].as_f64().unwrap(),
        );
        assert!((a - b).abs() <= 1e-9 * b.abs(), "{key}: {a} vs {b}");
    }
    assert_eq!(f["fit"]["concordance"], l["fit"]["concordance"]);

    // The same stations fit a logistic regression of the event flag, exactly.
    let federated = oncolens(&[
        "logistic",
        "--stations",
        &urls.join(","),
        "--outcome",
        "event",
        "--covariates",
        "outcome_pathologic_size",
        "--json",
    ]);
    assert!(federated.status.success(), "{}", stderr(&federated));
    let local = oncolens(&[
        "logistic",
        "--table",
        table.to_str().unwrap(),
        "--outcome",
        "event",
        "--covariates",
        "size",
        "--json",
    ]);
    assert!(local.status.success(), "{}", stderr(&local));
    let f: serde_json::Value = serde_json::from_str(&stdout(&federated)).unwrap();
    let l: serde_json::Value = serde_json::from_str(&stdout(&local)).unwrap();
    assert_eq!(f["fit"]["patients"], 60);
    for k in 0..2 {
        let (a, b) = (
            f["fit"]["coefficients"][k]["coef"].as_f64().unwrap(),
            l["fit"]["coefficients"][k]["coef"].as_f64().unwrap(),
        );
        assert!(
            (a - b).abs() <= 1e-9 * b.abs(),
            "logistic coef {k}: {a} vs {b}"
        );
    }
    // No patient row left the stations: the audit logs hold only the jobs.
    drop(served);
    let log = std::fs::read_to_string(dir.path().join("east.jsonl")).unwrap();
    assert!(log.contains("cox_terms") && log.contains("logistic_terms"));
}

#[test]
fn radiogenomics_tests_every_feature_against_every_gene() {
    let dir = tempfile::tempdir().unwrap();
    let cohort = dir.path().join("cohort");
    let o = oncolens(&[
        "synth",
        "--out",
        cohort.to_str().unwrap(),
        "--patients",
        "150",
        "--sites",
        "3",
        "--matrix",
        "48",
        "--seed",
        "3",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = dir.path().join("radiomics.csv");
    let o = oncolens(&[
        "radiomics",
        "--cohort",
        cohort.to_str().unwrap(),
        "--out",
        table.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = dir.path().join("rg");
    let expression = cohort.join("omics/expression.tsv");
    let o = oncolens(&[
        "radiogenomics",
        "--features",
        table.to_str().unwrap(),
        "--expression",
        expression.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("radiogenomics.json")).unwrap())
            .unwrap();
    assert_eq!(summary["site_adjusted"], true);
    assert_eq!(summary["genes"], 53);
    let tests = summary["tests"].as_u64().unwrap();
    // One row per tested pair; clinical and outcome columns are never features.
    let csv = std::fs::read_to_string(out.join("associations.csv")).unwrap();
    assert_eq!(csv.lines().count() as u64, tests + 1);
    assert!(!csv.contains("age_years") && !csv.contains("marker_"));
    assert!(csv.contains("morph_volume,MKI67"));
    assert!(
        std::fs::read_to_string(out.join("heatmap.svg"))
            .unwrap()
            .starts_with("<svg")
    );
    // q-values are monotone in p and never below it.
    let rows: Vec<(f64, f64)> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[5].parse().unwrap(), c[6].parse().unwrap())
        })
        .collect();
    assert!(
        rows.windows(2)
            .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1)
    );
    assert!(rows.iter().all(|(p, q)| q >= p));

    // The generator's imaging-genomics truth (README, "Imaging-genomics link"): 9 genes follow
    // a lesion factor, 44 follow nothing. At FDR 0.05 the linked genes are found, few pairs
    // are false, and each linked gene's strongest feature reads its factor.
    let linked = [
        ("CA9", "enhancement"),
        ("NDUFA4L2", "enhancement"),
        ("VEGFA", "enhancement"),
        ("EGLN3", "enhancement"),
        ("MKI67", "size"),
        ("TOP2A", "size"),
        ("CCNB1", "heterogeneity"),
        ("COL1A1", "margin"),
        ("SPARC", "margin"),
    ];
    let significant: Vec<(String, String)> = csv
        .lines()
        .skip(1)
        .filter_map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[6].parse::<f64>().unwrap() <= 0.05).then(|| (c[0].to_owned(), c[1].to_owned()))
        })
        .collect();
    let is_linked = |g: &str| linked.iter().any(|(l, _)| *l == g);
    let false_pairs = significant.iter().filter(|(_, g)| !is_linked(g)).count();
    let found = linked
        .iter()
        .filter(|(g, _)| significant.iter().any(|(_, s)| s == g))
        .count();
    assert!(found >= 8, "{found} of 9 linked genes found");
    assert!(
        false_pairs as f64 <= 0.1 * significant.len() as f64,
        "{false_pairs} of {} significant pairs involve an unlinked gene",
        significant.len()
    );
    // Sorted by p: a gene's first significant row is its strongest feature.
    let best = |gene: &str| {
        significant
            .iter()
            .find(|(_, g)| g == gene)
            .map(|(f, _)| f.clone())
            .unwrap_or_default()
    };
    for gene in ["MKI67", "TOP2A"] {
        let f = best(gene);
        assert!(
            f.starts_with("morph_") || f.starts_with("pyrad_shape"),
            "{gene}: {f}"
        );
    }
    for gene in ["CA9", "NDUFA4L2"] {
        let f = best(gene);
        assert!(
            f.starts_with("stat_") || f.starts_with("ih_"),
            "{gene}: {f}"
        );
    }

    // A wrong site column is named.
    let o = oncolens(&[
        "radiogenomics",
        "--features",
        table.to_str().unwrap(),
        "--expression",
        expression.to_str().unwrap(),
        "--site-column",
        "hospital",
        "--out",
        dir.path().join("rg2").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("no site column `hospital`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn logistic_fits_a_table_like_statsmodels_and_names_a_bad_cell() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let table = fixtures.join("survival/synthetic.csv");
    let o = oncolens(&[
        "logistic",
        "--table",
        table.to_str().unwrap(),
        "--outcome",
        "event",
        "--covariates",
        "age,size_cm,stage_high",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let want: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures.join("glm/statsmodels_synthetic.json")).unwrap(),
    )
    .unwrap();
    for k in 0..4 {
        let (a, b) = (
            v["fit"]["coefficients"][k]["coef"].as_f64().unwrap(),
            want["coef"][k].as_f64().unwrap(),
        );
        assert!((a - b).abs() <= 1e-8 * b.abs(), "{a} vs {b}");
    }
    // A site as a category: one indicator per site but the first.
    let o = oncolens(&[
        "logistic",
        "--table",
        table.to_str().unwrap(),
        "--outcome",
        "site",
        "--positive",
        "site_b",
        "--covariates",
        "age",
        "--csv",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 3);
    // An outcome that is not binary is named with its row and column.
    let o = oncolens(&[
        "logistic",
        "--table",
        table.to_str().unwrap(),
        "--outcome",
        "site",
        "--covariates",
        "age",
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("row 1, column `site`") && stderr(&o).contains("--positive"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn stain_normalise_writes_tiles_and_names_a_missing_reference() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/pathology");
    let out = dir.path().join("normalised");
    let o = oncolens(&[
        "stain-normalise",
        "--input",
        fixtures.join("source.png").to_str().unwrap(),
        "--reference",
        fixtures.join("target.png").to_str().unwrap(),
        "--stains",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The CLI's tile is the library's, which equals torchstain's (crates/pathology/tests).
    let ours = oncolens_pathology::RgbImage::read(&out.join("source.png")).unwrap();
    let reference = oncolens_pathology::macenko::fit(
        &oncolens_pathology::RgbImage::read(&fixtures.join("target.png")).unwrap(),
        &Default::default(),
    )
    .unwrap();
    let expected = oncolens_pathology::macenko::normalise(
        &oncolens_pathology::RgbImage::read(&fixtures.join("source.png")).unwrap(),
        &reference,
        &Default::default(),
    )
    .unwrap();
    assert_eq!(ours, expected.image);
    assert!(out.join("source_hematoxylin.png").is_file() && out.join("source_eosin.png").is_file());
    let o = oncolens(&[
        "stain-normalise",
        "--input",
        fixtures.join("source.png").to_str().unwrap(),
        "--method",
        "reinhard",
        "--out",
        dir.path().join("r").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("needs --reference"), "{}", stderr(&o));
}

#[test]
fn slide_lists_levels_and_writes_tissue_tiles() {
    let root = std::env::var("ONCOLENS_SHARED_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    let svs = root.join("pathology_wsi/cmu-1-small-region.svs");
    // Not a slide: named.
    let png = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/pathology/source.png");
    let o = oncolens(&["slide", png.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("source.png"), "{}", stderr(&o));
    if !svs.is_file() {
        eprintln!("skipped: {} not found", svs.display());
        return;
    }
    let o = oncolens(&["slide", svs.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["levels"][0]["width"], 2220);
    assert_eq!(v["objective_power"], 20.0);
    let dir = tempfile::tempdir().unwrap();
    let o = oncolens(&[
        "slide",
        svs.to_str().unwrap(),
        "--tiles",
        dir.path().to_str().unwrap(),
        "--mpp",
        "1.0",
        "--size",
        "128",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(dir.path().join("tiles.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert!(!rows.is_empty());
    for row in &rows {
        let file = row.split(',').next().unwrap();
        let tile = oncolens_pathology::RgbImage::read(&dir.path().join(file)).unwrap();
        assert_eq!((tile.width, tile.height), (128, 128));
    }
}
