//! Clinician-style concepts on the synthetic cohort and concept / random example sets.
//!
//! The generator (`oncolens synth`) writes each patient's latent factors to
//! `ground_truth.csv`; a clinician marking "irregular margin" or "heterogeneous" cases is
//! modelled as taking the top quantile of `irregularity` or `heterogeneity`
//! ([`top_quantile_flags`]). [`build_concept`] and [`build_random_sets`] then draw the example
//! sets TCAV needs.

use std::path::Path;

use oncolens_nn::batch::Sample;
use rand::SeedableRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::ConceptError;
use crate::tcav::Concept;

/// The concept-relevant columns of one row of a cohort's `ground_truth.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroundTruthRow {
    pub case_id: String,
    pub malignant: Option<u8>,
    pub diameter_mm: f64,
    /// Margin irregularity in (0, 1).
    pub irregularity: f64,
    /// Internal heterogeneity in (0, 1).
    pub heterogeneity: f64,
    pub enhancement_hu: f64,
}

/// Reads `ground_truth.csv` (columns found by name; extra columns ignored).
pub fn read_ground_truth(path: &Path) -> Result<Vec<GroundTruthRow>, ConceptError> {
    let err = |message: String| ConceptError::File {
        path: path.to_path_buf(),
        message,
    };
    let mut reader = csv::Reader::from_path(path).map_err(|e| err(e.to_string()))?;
    let headers = reader.headers().map_err(|e| err(e.to_string()))?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| err(format!("no column {name}")))
    };
    let (id, mal, dia, irr, het, enh) = (
        col("case_id")?,
        col("malignant").ok(),
        col("diameter_mm")?,
        col("irregularity")?,
        col("heterogeneity")?,
        col("enhancement_hu")?,
    );
    let mut rows = Vec::new();
    for (line, record) in reader.records().enumerate() {
        let record = record.map_err(|e| err(e.to_string()))?;
        let num = |i: usize, name: &str| -> Result<f64, ConceptError> {
            let text = record.get(i).unwrap_or("");
            text.trim()
                .parse::<f64>()
                .map_err(|_| err(format!("row {}: {name} {text:?} is not a number", line + 2)))
        };
        rows.push(GroundTruthRow {
            case_id: record.get(id).unwrap_or("").to_string(),
            malignant: mal
                .and_then(|i| record.get(i))
                .and_then(|v| v.trim().parse().ok()),
            diameter_mm: num(dia, "diameter_mm")?,
            irregularity: num(irr, "irregularity")?,
            heterogeneity: num(het, "heterogeneity")?,
            enhancement_hu: num(enh, "enhancement_hu")?,
        });
    }
    Ok(rows)
}

/// Flags the values at or above the `1 - fraction` quantile (linear interpolation, numpy's
/// default), i.e. the top `fraction` of the cases; NaN values are never flagged.
pub fn top_quantile_flags(values: &[f64], fraction: f64) -> Vec<bool> {
    let mut finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() || fraction <= 0.0 {
        return vec![false; values.len()];
    }
    finite.sort_by(f64::total_cmp);
    let q = (1.0 - fraction.min(1.0)) * (finite.len() - 1) as f64;
    let lo = q.floor() as usize;
    let hi = (lo + 1).min(finite.len() - 1);
    let threshold = finite[lo] + (q - lo as f64) * (finite[hi] - finite[lo]);
    values
        .iter()
        .map(|v| v.is_finite() && *v >= threshold)
        .collect()
}

/// How concept and random example sets are drawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConceptSampling {
    /// Concept examples (at most; fewer when fewer cases are flagged). Default 30.
    pub concept_size: usize,
    /// Number of random sets (TCAV runs). Default 10.
    pub random_sets: usize,
    /// Cases per random set. Default 30.
    pub random_size: usize,
    pub seed: u64,
}

impl Default for ConceptSampling {
    fn default() -> Self {
        Self {
            concept_size: 30,
            random_sets: 10,
            random_size: 30,
            seed: 0,
        }
    }
}

/// The concept `name`: up to `concept_size` randomly chosen samples among those with
/// `flags[i]` set and an image. Returns the concept and the indices used.
pub fn build_concept(
    name: &str,
    flags: &[bool],
    samples: &[Sample],
    sampling: &ConceptSampling,
) -> Result<(Concept, Vec<usize>), ConceptError> {
    if flags.len() != samples.len() {
        return Err(ConceptError::Setting(format!(
            "{} concept flags for {} samples",
            flags.len(),
            samples.len()
        )));
    }
    let mut pool: Vec<usize> = (0..samples.len())
        .filter(|&i| flags[i] && samples[i].image.is_some())
        .collect();
    if pool.len() < 2 {
        return Err(ConceptError::Setting(format!(
            "concept {name}: {} flagged cases with an image; at least 2 are needed",
            pool.len()
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(sampling.seed);
    pool.shuffle(&mut rng);
    pool.truncate(sampling.concept_size.max(2));
    pool.sort_unstable();
    let examples = pool.iter().map(|&i| samples[i].clone()).collect();
    Ok((
        Concept {
            name: name.to_string(),
            examples,
        },
        pool,
    ))
}

/// `random_sets` sets of `random_size` samples each, drawn without replacement within a set
/// (independently across sets, so sets may overlap) from the samples with an image and
/// `exclude[i]` unset. Which cases to exclude is a choice: Kim et al.'s random sets are any
/// images; excluding the concepts' examples (or every flagged case) makes the contrast "concept
/// against typical patients".
pub fn build_random_sets(
    exclude: &[bool],
    samples: &[Sample],
    sampling: &ConceptSampling,
) -> Result<RandomSets, ConceptError> {
    if exclude.len() != samples.len() {
        return Err(ConceptError::Setting(format!(
            "{} exclusion flags for {} samples",
            exclude.len(),
            samples.len()
        )));
    }
    let pool: Vec<usize> = (0..samples.len())
        .filter(|&i| !exclude[i] && samples[i].image.is_some())
        .collect();
    if pool.len() < sampling.random_size.max(2) {
        return Err(ConceptError::Setting(format!(
            "{} eligible cases for random sets of {}",
            pool.len(),
            sampling.random_size
        )));
    }
    // A different stream from build_concept's for the same seed.
    let mut rng = ChaCha8Rng::seed_from_u64(sampling.seed ^ 0x9E37_79B9_7F4A_7C15);
    let mut sets = Vec::with_capacity(sampling.random_sets);
    let mut indices = Vec::with_capacity(sampling.random_sets);
    for _ in 0..sampling.random_sets {
        let mut idx: Vec<usize> = pool
            .choose_multiple(&mut rng, sampling.random_size.max(2))
            .copied()
            .collect();
        idx.sort_unstable();
        sets.push(idx.iter().map(|&i| samples[i].clone()).collect());
        indices.push(idx);
    }
    Ok(RandomSets { sets, indices })
}

/// Random example sets and the sample indices each holds.
#[derive(Debug, Clone)]
pub struct RandomSets {
    pub sets: Vec<Vec<Sample>>,
    pub indices: Vec<Vec<usize>>,
}
