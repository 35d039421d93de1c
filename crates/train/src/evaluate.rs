//! Scoring predictions: one report overall and one per site (metrics from `oncolens-metrics`,
//! equal to scikit-learn's).

use std::collections::BTreeMap;

use oncolens_metrics::{BinaryReport, ReportOptions};
use serde::Serialize;

use crate::cases::PreparedCase;

/// Predictions for a set of patients.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Predictions {
    pub case_ids: Vec<String>,
    pub sites: Vec<String>,
    pub labels: Vec<bool>,
    pub logits: Vec<f64>,
    /// Calibrated probabilities.
    pub probabilities: Vec<f64>,
}

impl Predictions {
    pub fn new(cases: &[&PreparedCase], logits: Vec<f64>, probabilities: Vec<f64>) -> Self {
        Self {
            case_ids: cases.iter().map(|c| c.id.clone()).collect(),
            sites: cases.iter().map(|c| c.site.clone()).collect(),
            labels: cases.iter().map(|c| c.label == Some(1)).collect(),
            logits,
            probabilities,
        }
    }

    pub fn extend(&mut self, other: Predictions) {
        self.case_ids.extend(other.case_ids);
        self.sites.extend(other.sites);
        self.labels.extend(other.labels);
        self.logits.extend(other.logits);
        self.probabilities.extend(other.probabilities);
    }

    /// The predictions of one site.
    pub fn site(&self, site: &str) -> Predictions {
        let keep: Vec<usize> = (0..self.sites.len())
            .filter(|&i| self.sites[i] == site)
            .collect();
        Predictions {
            case_ids: keep.iter().map(|&i| self.case_ids[i].clone()).collect(),
            sites: keep.iter().map(|&i| self.sites[i].clone()).collect(),
            labels: keep.iter().map(|&i| self.labels[i]).collect(),
            logits: keep.iter().map(|&i| self.logits[i]).collect(),
            probabilities: keep.iter().map(|&i| self.probabilities[i]).collect(),
        }
    }
}

/// Report options used everywhere in oncolens: 2,000 bootstrap resamples, 95% intervals,
/// 10 calibration bins.
pub fn options(threshold: f64, seed: u64) -> ReportOptions {
    ReportOptions {
        threshold,
        n_bins: 10,
        n_bootstrap: 2000,
        confidence: 0.95,
        seed,
    }
}

/// The metrics of a prediction set as JSON; when they are undefined (one class only) the
/// object says why instead of failing the whole run.
pub fn report_json(p: &Predictions, threshold: f64, seed: u64) -> serde_json::Value {
    match BinaryReport::compute(&p.probabilities, &p.labels, &options(threshold, seed)) {
        Ok(r) => serde_json::to_value(r).unwrap_or(serde_json::Value::Null),
        Err(e) => serde_json::json!({
            "n": p.labels.len(),
            "n_positive": p.labels.iter().filter(|l| **l).count(),
            "auc": null,
            "undefined": e.to_string(),
        }),
    }
}

/// One report per site.
pub fn per_site(p: &Predictions, threshold: f64, seed: u64) -> BTreeMap<String, serde_json::Value> {
    let mut sites = p.sites.clone();
    sites.sort();
    sites.dedup();
    sites
        .into_iter()
        .map(|s| {
            let r = report_json(&p.site(&s), threshold, seed);
            (s, r)
        })
        .collect()
}
