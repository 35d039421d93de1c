#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Every metric against scikit-learn / scipy outputs stored by fixtures/metrics/make_fixture.py.

use oncolens_metrics::{
    BinaryReport, ConfusionMetrics, ReportOptions, apply_temperature, brier_score,
    calibration_curve, expected_calibration_error, fit_temperature, log_loss, roc_auc, roc_curve,
    temperature_nll, youden_threshold,
};
use serde_json::Value;

fn reference() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/metrics/sklearn_reference.json"
    );
    let text = std::fs::read_to_string(path).expect("fixtures/metrics/sklearn_reference.json");
    serde_json::from_str(&text).unwrap()
}

/// Numbers, with null (the fixture's NaN or +inf) as NaN.
fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::NAN))
        .collect()
}

fn labels(v: &Value) -> Vec<bool> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_bool().unwrap())
        .collect()
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

#[track_caller]
fn close(what: &str, ours: f64, theirs: f64, tol: f64) {
    let same = (ours.is_nan() && theirs.is_nan()) || (ours - theirs).abs() <= tol;
    assert!(
        same,
        "{what}: ours {ours} vs reference {theirs} (tol {tol})"
    );
}

#[track_caller]
fn close_all(what: &str, ours: &[f64], theirs: &[f64], tol: f64) {
    assert_eq!(
        ours.len(),
        theirs.len(),
        "{what}: lengths {ours:?} vs {theirs:?}"
    );
    for (k, (&a, &b)) in ours.iter().zip(theirs).enumerate() {
        close(&format!("{what}[{k}]"), a, b, tol);
    }
}

fn cases() -> Vec<(String, Vec<f64>, Vec<bool>, Value)> {
    let doc = reference();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 8);
    cases
        .iter()
        .map(|c| {
            let name = c["name"].as_str().unwrap().to_owned();
            (name, floats(&c["scores"]), labels(&c["labels"]), c.clone())
        })
        .collect()
}

#[test]
fn roc_auc_matches_sklearn() {
    for (name, s, y, c) in cases() {
        close(
            &format!("{name} roc_auc"),
            roc_auc(&s, &y).unwrap(),
            num(&c["roc_auc"]),
            1e-12,
        );
    }
}

#[test]
fn roc_curve_matches_sklearn() {
    for (name, s, y, c) in cases() {
        let curve = roc_curve(&s, &y).unwrap();
        let r = &c["roc_curve"];
        close_all(
            &format!("{name} fpr"),
            &curve.fpr,
            &floats(&r["fpr"]),
            1e-12,
        );
        close_all(
            &format!("{name} tpr"),
            &curve.tpr,
            &floats(&r["tpr"]),
            1e-12,
        );
        // The fixture writes sklearn's leading +inf as null.
        assert!(r["thresholds"][0].is_null());
        assert_eq!(curve.thresholds[0], f64::INFINITY);
        close_all(
            &format!("{name} thresholds"),
            &curve.thresholds[1..],
            &floats(&r["thresholds"])[1..],
            0.0,
        );
        // Youden's threshold is one of the curve's and reproduces its point.
        let t = youden_threshold(&s, &y).unwrap();
        let k = curve.thresholds.iter().position(|&x| x == t).unwrap();
        let m = ConfusionMetrics::at_threshold(&s, &y, t).unwrap();
        close(
            &format!("{name} youden tpr"),
            m.sensitivity,
            curve.tpr[k],
            1e-15,
        );
        let best = (1..curve.tpr.len())
            .map(|i| curve.tpr[i] - curve.fpr[i])
            .fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(curve.tpr[k] - curve.fpr[k], best, "{name} youden");
    }
}

#[test]
fn threshold_metrics_match_sklearn() {
    for (name, s, y, c) in cases() {
        let r = &c["at_threshold"];
        let m = ConfusionMetrics::at_threshold(&s, &y, num(&r["threshold"])).unwrap();
        let counts = [m.tp, m.fp, m.tn, m.fn_];
        let expected = ["tp", "fp", "tn", "fn"].map(|k| r[k].as_u64().unwrap() as usize);
        assert_eq!(counts, expected, "{name} confusion matrix");
        for (key, ours) in [
            ("sensitivity", m.sensitivity),
            ("specificity", m.specificity),
            ("balanced_accuracy", m.balanced_accuracy),
            ("accuracy", m.accuracy),
            ("ppv", m.ppv),
            ("npv", m.npv),
            ("f1", m.f1),
        ] {
            close(&format!("{name} {key}"), ours, num(&r[key]), 1e-12);
        }
    }
}

#[test]
fn calibration_matches_sklearn() {
    for (name, s, y, c) in cases() {
        for n_bins in [10, 5] {
            let r = &c["calibration"][n_bins.to_string()];
            let what = format!("{name} {n_bins} bins");
            let curve = calibration_curve(&s, &y, n_bins).unwrap();
            close_all(
                &format!("{what} prob_true"),
                &curve.prob_true,
                &floats(&r["prob_true"]),
                1e-12,
            );
            close_all(
                &format!("{what} prob_pred"),
                &curve.prob_pred,
                &floats(&r["prob_pred"]),
                1e-12,
            );
            let counts: Vec<usize> = r["counts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect();
            assert_eq!(curve.counts, counts, "{what} counts");
            let ece = expected_calibration_error(&s, &y, n_bins).unwrap();
            close(&format!("{what} ece"), ece, num(&r["ece"]), 1e-12);
        }
    }
}

#[test]
fn brier_and_log_loss_match_sklearn() {
    for (name, s, y, c) in cases() {
        close(
            &format!("{name} brier"),
            brier_score(&s, &y).unwrap(),
            num(&c["brier"]),
            1e-12,
        );
        close(
            &format!("{name} log_loss"),
            log_loss(&s, &y).unwrap(),
            num(&c["log_loss"]),
            1e-9,
        );
    }
}

#[test]
fn report_agrees_with_the_single_metrics() {
    let opts = ReportOptions {
        n_bootstrap: 300,
        ..ReportOptions::default()
    };
    for (name, s, y, c) in cases() {
        let r = BinaryReport::compute(&s, &y, &opts).unwrap();
        close(&format!("{name} auc"), r.auc, num(&c["roc_auc"]), 1e-12);
        close(
            &format!("{name} f1"),
            r.f1,
            num(&c["at_threshold"]["f1"]),
            1e-12,
        );
        close(
            &format!("{name} ece"),
            r.ece,
            num(&c["calibration"]["10"]["ece"]),
            1e-12,
        );
        assert!(
            r.auc_ci[0] <= r.auc && r.auc <= r.auc_ci[1],
            "{name}: {:?}",
            r.auc_ci
        );
        serde_json::to_string(&r).unwrap();
    }
}

#[test]
fn temperature_matches_scipy() {
    let doc = reference();
    for c in doc["temperature"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        let (z, y) = (floats(&c["logits"]), labels(&c["labels"]));
        let t = fit_temperature(&z, &y).unwrap();
        let scipy_min = num(&c["temperature_minimize_scalar"]);
        close(&format!("{name} T vs minimize_scalar"), t, scipy_min, 1e-6);
        let root = num(&c["temperature_brentq"]);
        close(&format!("{name} T vs brentq"), t, root, 1e-9 * root);
        let nll = temperature_nll(&z, &y, t).unwrap();
        close(&format!("{name} nll"), nll, num(&c["nll_at_fit"]), 1e-12);
        close(
            &format!("{name} nll(1)"),
            temperature_nll(&z, &y, 1.0).unwrap(),
            num(&c["nll_at_1"]),
            1e-12,
        );
        assert!(
            nll < num(&c["nll_at_1"]),
            "{name}: fitted T must beat T = 1"
        );
        // The scaled probabilities give the same loss through log_loss (no clipping needed here).
        let p = apply_temperature(&z, t).unwrap();
        close(
            &format!("{name} log_loss"),
            log_loss(&p, &y).unwrap(),
            nll,
            1e-9,
        );
    }
}
