//! TCAV of clinician-style concepts and an activation-maximisation volume for a trained model.
//!
//! ```text
//! cargo run --release -p oncolens-concepts --example tcav_demo -- COHORT_DIR MODEL_DIR OUT_DIR [AFTER_BLOCK]
//! ```
//!
//! COHORT_DIR is a cohort written by `oncolens synth` (it has `ground_truth.csv`), MODEL_DIR a
//! model folder written by `oncolens train` / `oncolens demo` with an image encoder. Concepts:
//! "irregular margin" (top quarter of `irregularity`), "heterogeneous" (top quarter of
//! `heterogeneity`), "large" (top quarter of `diameter_mm`, a strong driver of the label, as a
//! positive control) and "random patients" (a random quarter, a negative control), 30 examples
//! each. Random sets: 10 × 30 random patients other than the concept's own examples. Class
//! inputs: malignant patients outside the concept sets. Writes `actmax_logit.nii.gz` (the malignant logit maximised from a
//! malignant patient's crop, back in HU on that patient's crop grid), the start crop, and
//! `tcav.json`.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use anyhow::{Context, bail};
use ndarray::Array3;
use oncolens_concepts::actmax::{
    ActmaxOptions, ActmaxStart, ActmaxTarget, activation_maximisation,
};
use oncolens_concepts::cohort::{
    ConceptSampling, build_concept, build_random_sets, read_ground_truth, top_quantile_flags,
};
use oncolens_concepts::features::{ActivationPooling, TargetClass};
use oncolens_concepts::tcav::{TcavOptions, tcav};
use oncolens_core::Volume;
use oncolens_nn::batch::Sample;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        bail!("usage: tcav_demo COHORT_DIR MODEL_DIR OUT_DIR [AFTER_BLOCK]");
    }
    let (cohort_dir, model_dir, out_dir) = (
        PathBuf::from(&args[1]),
        PathBuf::from(&args[2]),
        PathBuf::from(&args[3]),
    );
    let after_block: Option<usize> = args.get(4).map(|s| s.parse()).transpose()?;
    std::fs::create_dir_all(&out_dir)?;
    let device = oncolens_nn::default_device();
    let trained = oncolens_train::model_dir::load_model(&model_dir, &device)?;
    let prep = &trained.preprocessor;
    let side = prep.image_input.side();
    let t0 = std::time::Instant::now();
    let cohort = oncolens_io::scan_cohort(&cohort_dir)?;
    let cases = oncolens_train::prepare_cohort(&cohort, &prep.image_input, &|_, _| {})?;
    let samples: Vec<Sample> = cases.iter().map(|c| prep.sample(c)).collect();
    eprintln!("{} cases prepared in {:.1?}", cases.len(), t0.elapsed());

    let truth = read_ground_truth(&cohort_dir.join("ground_truth.csv"))?;
    let by_id: HashMap<&str, usize> = truth
        .iter()
        .enumerate()
        .map(|(i, r)| (r.case_id.as_str(), i))
        .collect();
    let row = |k: usize| by_id.get(cases[k].id.as_str()).map(|&i| &truth[i]);
    let column = |f: &dyn Fn(&oncolens_concepts::GroundTruthRow) -> f64| -> Vec<f64> {
        (0..cases.len())
            .map(|k| row(k).map_or(f64::NAN, f))
            .collect()
    };
    let sampling = ConceptSampling {
        concept_size: 30,
        random_sets: 10,
        random_size: 30,
        seed: 7,
    };
    let random_flags: Vec<bool> = {
        // Every fourth case in a seeded shuffle.
        use rand::SeedableRng;
        use rand::seq::SliceRandom;
        let mut idx: Vec<usize> = (0..cases.len()).collect();
        idx.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(99));
        let mut f = vec![false; cases.len()];
        for &i in idx.iter().take(cases.len() / 4) {
            f[i] = true;
        }
        f
    };
    let definitions: Vec<(&str, Vec<bool>)> = vec![
        (
            "irregular margin",
            top_quantile_flags(&column(&|r| r.irregularity), 0.25),
        ),
        (
            "heterogeneous",
            top_quantile_flags(&column(&|r| r.heterogeneity), 0.25),
        ),
        (
            "large (control)",
            top_quantile_flags(&column(&|r| r.diameter_mm), 0.25),
        ),
        ("random patients (control)", random_flags),
    ];
    let mut concepts = Vec::new();
    let mut examples = Vec::new();
    let mut used = BTreeSet::new();
    for (name, flags) in &definitions {
        let (concept, idx) = build_concept(name, flags, &samples, &sampling)?;
        used.extend(idx.iter().copied());
        examples.push(idx);
        concepts.push(concept);
    }
    // Class inputs: malignant patients that are no concept's example.
    let inputs: Vec<Sample> = (0..cases.len())
        .filter(|k| !used.contains(k) && cases[*k].label == Some(1) && samples[*k].image.is_some())
        .map(|k| samples[k].clone())
        .collect();
    eprintln!(
        "{} concept examples in all, {} random sets of {} per concept, {} malignant class inputs",
        used.len(),
        sampling.random_sets,
        sampling.random_size,
        inputs.len()
    );
    let mut reports = Vec::new();
    for pooling in [ActivationPooling::Flatten, ActivationPooling::SpatialMean] {
        // One call per concept, each against random patients other than its own examples (the
        // same seed, so the random sets differ only where they would hold those examples);
        // Bonferroni over the four concepts by hand.
        let options = TcavOptions {
            after_block,
            pooling,
            alpha: 0.05 / concepts.len() as f64,
            bonferroni: false,
            ..TcavOptions::default()
        };
        let t = std::time::Instant::now();
        let mut layer = None;
        let mut results = Vec::new();
        for (concept, idx) in concepts.iter().zip(&examples) {
            let exclude: Vec<bool> = (0..cases.len()).map(|k| idx.contains(&k)).collect();
            let random_sets = build_random_sets(&exclude, &samples, &sampling)?.sets;
            let report = tcav(
                &trained.model,
                &trained.config,
                side,
                std::slice::from_ref(concept),
                &random_sets,
                &inputs,
                &options,
                &device,
            )?;
            layer = Some((report.after_block, report.feature_dims));
            results.extend(report.results);
        }
        let (after, dims) = layer.context("no concept")?;
        println!(
            "\nTCAV, class malignant, feature map after block {after} {dims:?}, {pooling:?} ({:.1?})",
            t.elapsed()
        );
        println!(
            "{:<28} {:>6} {:>6} {:>8} {:>6} {:>10} {:>8} {:>5}",
            "concept", "score", "std", "random", "r.std", "p", "CAV acc", "sig"
        );
        for r in &results {
            println!(
                "{:<28} {:>6.3} {:>6.3} {:>8.3} {:>6.3} {:>10.2e} {:>8.3} {:>5}",
                r.concept,
                r.score,
                r.std,
                r.random_mean,
                r.random_std,
                r.p_value,
                r.cav_accuracy,
                if r.significant { "yes" } else { "no" }
            );
        }
        reports.push(serde_json::json!({
            "pooling": format!("{pooling:?}"),
            "after_block": after,
            "feature_dims": dims,
            "results": results,
        }));
    }
    std::fs::write(
        out_dir.join("tcav.json"),
        serde_json::to_vec_pretty(&reports)?,
    )?;

    // Activation maximisation of the malignant logit from the first malignant input's crop.
    let k = (0..cases.len())
        .find(|k| !used.contains(k) && cases[*k].label == Some(1) && cases[*k].crop.is_some())
        .context("no malignant case with a crop")?;
    let options = ActmaxOptions {
        start: ActmaxStart::Context,
        ..ActmaxOptions::default()
    };
    let t = std::time::Instant::now();
    let r = activation_maximisation(
        &trained.model,
        &trained.config,
        &samples[k],
        side,
        ActmaxTarget::Logit(TargetClass::Positive),
        &options,
        &device,
    )?;
    println!(
        "\nactivation maximisation of the malignant logit from {} ({} steps, {:.1?}): logit {:.3} -> {:.3}, objective {:.3} -> {:.3}",
        cases[k].id,
        options.steps,
        t.elapsed(),
        r.initial_activation,
        r.final_activation,
        r.initial_objective,
        r.final_objective
    );
    let grid = cases[k].crop.as_ref().context("crop")?.grid.clone();
    let w = prep.window;
    let to_hu = |v: &[f32]| -> Vec<f32> {
        v.iter()
            .map(|x| w.low_hu + (x + 1.0) / 2.0 * (w.high_hu - w.low_hu))
            .collect()
    };
    let n = side.pow(3);
    let start = samples[k].image.as_ref().context("image")?[..n].to_vec();
    for (name, values) in [
        ("actmax_logit.nii.gz", &r.volume),
        ("actmax_start.nii.gz", &start),
    ] {
        let data = Array3::from_shape_vec((side, side, side), to_hu(values))?;
        let volume = Volume::new(data, grid.clone())?;
        oncolens_nifti::write_volume(&out_dir.join(name), &volume)?;
    }
    println!("wrote {}", out_dir.display());
    Ok(())
}
