//! Testing with Concept Activation Vectors (Kim et al. 2018, "Interpretability beyond feature
//! attribution: quantitative testing with concept activation vectors (TCAV)", ICML).
//!
//! For a concept `C` (a set of example inputs) and a layer `l` (the image encoder's feature map
//! after a chosen block):
//!
//! 1. For each of `R` random sets, a CAV `v` separates the concept's activations from the random
//!    set's ([`crate::cav::fit_cav`], held-out accuracy reported).
//! 2. For each input `x` of the class of interest, the directional derivative
//!    `S(x) = ∇_{a} h(a) · v` at `a = f_l(x)`, with `h` the logit of the class.
//! 3. The TCAV score of a run is the fraction of inputs with `S(x) > 0`.
//! 4. Significance (§3.2): the `R` concept scores against `R` scores of random-vs-random CAVs
//!    (random set `j` as the "concept" against random set `j + 1 mod R`), two-sided Student
//!    t-test; Bonferroni over the concepts tested together when asked.
//!
//! Gradients do not depend on the CAV, so each input's gradient is computed once and every
//! CAV reuses it.

use oncolens_nn::batch::Sample;
use oncolens_nn::{Device, ModelConfig, MultimodalModel};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::ConceptError;
use crate::cav::fit_cav;
use crate::features::{
    ActivationPooling, TargetClass, activations, logit_gradients, resolve_block,
};
use crate::stats::{mean, sample_std, ttest_ind};

/// TCAV settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TcavOptions {
    /// The layer: the feature map after this many residual blocks (`None`: the last block).
    /// Default `None`.
    pub after_block: Option<usize>,
    /// Default [`ActivationPooling::Flatten`] (as Kim et al.).
    pub pooling: ActivationPooling,
    /// L2 penalty of the CAV's logistic regression (mean log-loss + `l2/2 ‖w‖²`). Default 0.01.
    pub l2: f64,
    /// Fraction of concept and random examples held out to score each CAV. Default 0.33 (as
    /// TCAV's code).
    pub test_fraction: f64,
    /// Whose logit: default [`TargetClass::Positive`].
    pub class: TargetClass,
    /// Significance level. Default 0.05.
    pub alpha: f64,
    /// Divide `alpha` by the number of concepts tested in one call. Default true.
    pub bonferroni: bool,
    /// Seed of the train/test splits. Default 0.
    pub seed: u64,
}

impl Default for TcavOptions {
    fn default() -> Self {
        Self {
            after_block: None,
            pooling: ActivationPooling::Flatten,
            l2: 0.01,
            test_fraction: 0.33,
            class: TargetClass::Positive,
            alpha: 0.05,
            bonferroni: true,
            seed: 0,
        }
    }
}

/// A named set of example inputs of a concept.
#[derive(Debug, Clone)]
pub struct Concept {
    pub name: String,
    pub examples: Vec<Sample>,
}

/// TCAV of one concept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TcavResult {
    pub concept: String,
    /// Mean TCAV score over the runs (one run per random set): the fraction of class inputs
    /// whose logit increases along the concept's direction.
    pub score: f64,
    /// Sample standard deviation (ddof 1) of the scores over the runs.
    pub std: f64,
    /// TCAV score of each run (concept against random set `j`).
    pub scores: Vec<f64>,
    /// Scores of the random-vs-random CAVs (the null).
    pub random_scores: Vec<f64>,
    pub random_mean: f64,
    pub random_std: f64,
    /// Student's t statistic of `scores` against `random_scores`.
    pub t_statistic: f64,
    /// Two-sided p-value (1 when undefined: both score sets constant and equal).
    pub p_value: f64,
    /// `p_value` below `alpha` (divided by the number of concepts under Bonferroni).
    pub significant: bool,
    /// Mean held-out accuracy of the concept's CAVs.
    pub cav_accuracy: f64,
    /// Held-out accuracy of each run's CAV.
    pub cav_accuracies: Vec<f64>,
    /// Mean held-out accuracy of the random-vs-random CAVs (about 0.5 when the random sets
    /// come from one distribution).
    pub random_cav_accuracy: f64,
}

/// TCAV of several concepts against shared random sets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TcavReport {
    pub results: Vec<TcavResult>,
    /// The layer used (blocks applied).
    pub after_block: usize,
    /// `[channels, d, h, w]` of that layer's map.
    pub feature_dims: [usize; 4],
    /// Model logits of the class inputs.
    pub input_logits: Vec<f64>,
}

fn refs(v: &[Vec<f64>]) -> Vec<&[f64]> {
    v.iter().map(Vec::as_slice).collect()
}

fn score(direction: &[f64], gradients: &[Vec<f64>]) -> f64 {
    let positive = gradients
        .iter()
        .filter(|g| g.iter().zip(direction).map(|(a, b)| a * b).sum::<f64>() > 0.0)
        .count();
    positive as f64 / gradients.len() as f64
}

/// TCAV from pooled activation vectors and pooled logit gradients (the model-free core of
/// [`tcav`]): `concepts[i] = (name, activations of its examples)`, `random_sets[j]` the
/// activations of random set `j`, `gradients[k]` the gradient of the class logit at input `k`
/// (pooled the same way).
pub fn tcav_from_vectors(
    concepts: &[(String, Vec<Vec<f64>>)],
    random_sets: &[Vec<Vec<f64>>],
    gradients: &[Vec<f64>],
    options: &TcavOptions,
) -> Result<Vec<TcavResult>, ConceptError> {
    let r = random_sets.len();
    if r < 2 {
        return Err(ConceptError::Setting(format!(
            "TCAV's significance test needs at least 2 random sets (got {r})"
        )));
    }
    if gradients.is_empty() {
        return Err(ConceptError::Setting("no class inputs to test".into()));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    // The null: random set j against random set j + 1.
    let mut random_scores = Vec::with_capacity(r);
    let mut random_acc = Vec::with_capacity(r);
    for j in 0..r {
        let cav = fit_cav(
            &refs(&random_sets[j]),
            &refs(&random_sets[(j + 1) % r]),
            options.l2,
            options.test_fraction,
            &mut rng,
        )?;
        random_scores.push(score(&cav.direction, gradients));
        random_acc.push(cav.accuracy);
    }
    let level = if options.bonferroni {
        options.alpha / concepts.len().max(1) as f64
    } else {
        options.alpha
    };
    let mut results = Vec::with_capacity(concepts.len());
    for (name, examples) in concepts {
        let mut scores = Vec::with_capacity(r);
        let mut accuracies = Vec::with_capacity(r);
        for random in random_sets {
            let cav = fit_cav(
                &refs(examples),
                &refs(random),
                options.l2,
                options.test_fraction,
                &mut rng,
            )?;
            scores.push(score(&cav.direction, gradients));
            accuracies.push(cav.accuracy);
        }
        let t = ttest_ind(&scores, &random_scores);
        let p_value = if t.p_value.is_nan() { 1.0 } else { t.p_value };
        results.push(TcavResult {
            concept: name.clone(),
            score: mean(&scores),
            std: sample_std(&scores),
            random_mean: mean(&random_scores),
            random_std: sample_std(&random_scores),
            random_scores: random_scores.clone(),
            t_statistic: t.statistic,
            p_value,
            significant: p_value < level,
            cav_accuracy: mean(&accuracies),
            cav_accuracies: accuracies,
            random_cav_accuracy: mean(&random_acc),
            scores,
        });
    }
    Ok(results)
}

/// TCAV of each concept for the class-of-interest `inputs`, against the shared `random_sets`
/// (at least 2; Kim et al. use tens to hundreds of runs, and fewer runs give wider nulls).
#[allow(clippy::too_many_arguments)]
pub fn tcav(
    model: &MultimodalModel,
    config: &ModelConfig,
    side: usize,
    concepts: &[Concept],
    random_sets: &[Vec<Sample>],
    inputs: &[Sample],
    options: &TcavOptions,
    device: &Device,
) -> Result<TcavReport, ConceptError> {
    let after = resolve_block(model, options.after_block)?;
    let pooled = |samples: &[Sample]| -> Result<(Vec<Vec<f64>>, [usize; 4]), ConceptError> {
        let maps = activations(model, config, samples, side, Some(after), device)?;
        Ok((maps.pooled(options.pooling), maps.dims))
    };
    let mut concept_vectors = Vec::with_capacity(concepts.len());
    for c in concepts {
        concept_vectors.push((c.name.clone(), pooled(&c.examples)?.0));
    }
    let mut random_vectors = Vec::with_capacity(random_sets.len());
    for set in random_sets {
        random_vectors.push(pooled(set)?.0);
    }
    let (grads, input_logits) = logit_gradients(
        model,
        config,
        inputs,
        side,
        Some(after),
        options.class,
        device,
    )?;
    let gradients = grads.pooled(options.pooling);
    let results = tcav_from_vectors(&concept_vectors, &random_vectors, &gradients, options)?;
    Ok(TcavReport {
        results,
        after_block: after,
        feature_dims: grads.dims,
        input_logits,
    })
}
