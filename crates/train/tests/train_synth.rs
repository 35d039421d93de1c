#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Training end to end on a tiny generated cohort: read, crop, fit, evaluate, save, load.

use oncolens_nn::{ImageEncoderConfig, ModalitySet};
use oncolens_train::cases::ImageInput;
use oncolens_train::split::holdout;
use oncolens_train::{TrainConfig, model_dir, prepare_cohort, train_model};
use oncolens_transforms::CropSpec;

static SEED_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn tiny_config() -> TrainConfig {
    TrainConfig {
        max_epochs: 3,
        min_epochs: 1,
        patience: 5,
        image: ImageEncoderConfig {
            in_channels: 1,
            stem_channels: 4,
            norm: oncolens_nn::ImageNorm::Batch,
            stem_stride: 1,
            block_channels: vec![8, 8],
            lesion_features: 0,
        },
        image_input: ImageInput::LesionCrop(CropSpec {
            side: 12,
            spacing_mm: 8.0,
        }),
        ..TrainConfig::default()
    }
}

#[test]
fn trains_evaluates_saves_and_reloads_on_a_generated_cohort() {
    let _guard = SEED_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cohort");
    let config = oncolens_synth::SynthConfig {
        patients: 28,
        sites: 2,
        seed: 5,
        matrix: 48,
        ..oncolens_synth::SynthConfig::default()
    };
    oncolens_synth::generate(&config, &root, &|| {}).unwrap();
    let cohort = oncolens_io::scan_cohort(&root).unwrap();
    let cfg = tiny_config();
    let cases = prepare_cohort(&cohort, &cfg.image_input, &|_, _| {}).unwrap();
    assert_eq!(cases.len(), 28);
    let with_image = cases.iter().filter(|c| c.image.is_some()).count();
    assert!(with_image >= 20);
    // Every case with an image and a lesion mask has the lesion's radiomics, and their log
    // volume follows the generator's lesion diameter (volume ~ diameter^3).
    let truth = std::fs::read_to_string(root.join("ground_truth.csv")).unwrap();
    let mut lines = truth.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (id_col, d_col) = (col("case_id"), col("diameter_mm"));
    let diameters: std::collections::HashMap<String, f64> = lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .map(|f| (f[id_col].to_owned(), f[d_col].parse::<f64>().unwrap()))
        .collect();
    let mut pairs = Vec::new();
    for c in cases.iter().filter(|c| c.image.is_some()) {
        let f = c.lesion_radiomics.as_ref().expect("lesion radiomics");
        assert_eq!(f.len(), oncolens_train::cases::LESION_FEATURES.len());
        pairs.push((f[0], 3.0 * diameters[&c.id].ln()));
    }
    let n = pairs.len() as f64;
    let (ma, mb) = pairs
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
    let cov: f64 = pairs.iter().map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = pairs.iter().map(|(x, _)| (x - ma).powi(2)).sum();
    let vb: f64 = pairs.iter().map(|(_, y)| (y - mb).powi(2)).sum();
    let r = cov / (va * vb).sqrt();
    assert!(r > 0.9, "log volume vs 3 ln diameter: r = {r}");
    for c in cases.iter().filter(|c| c.image.is_some()) {
        assert_eq!(c.image.as_ref().unwrap().len(), 12 * 12 * 12);
        assert_eq!(c.crop.as_ref().unwrap().centred_on, "lesion_mask");
    }
    let split = holdout(&cases, 0.25, 0.2, 1);
    assert!(!split.test.is_empty() && !split.val.is_empty());
    // The generator's own split column is used for the test set.
    assert!(
        split
            .test
            .iter()
            .all(|&i| cases[i].split.as_deref() == Some("test"))
    );

    let device = oncolens_nn::default_device();
    let model = train_model(&cases, &split, ModalitySet::ALL, &cfg, &device, &|_| {}).unwrap();
    assert!(model.history.len() <= 3 && !model.history.is_empty());
    assert!(model.temperature > 0.0 && (0.0..=1.0).contains(&model.threshold));
    let test: Vec<_> = split.test.iter().map(|&i| &cases[i]).collect();
    let logits = model.logits(&test, &device).unwrap();
    assert!(logits.iter().all(|v| v.is_finite()));
    // Standardisation statistics come from training patients only: refitting on the training
    // cases reproduces them exactly.
    let train: Vec<_> = split.train.iter().map(|&i| &cases[i]).collect();
    let refit = oncolens_train::Preprocessor::fit(&train, cfg.image_input);
    assert_eq!(refit, model.preprocessor);

    let out = dir.path().join("model");
    model_dir::save_model(&out, &model, serde_json::json!({})).unwrap();
    let loaded = model_dir::load_model(&out, &device).unwrap();
    assert_eq!(loaded.logits(&test, &device).unwrap(), logits);

    // Same seed, same model.
    let again = train_model(&cases, &split, ModalitySet::ALL, &cfg, &device, &|_| {}).unwrap();
    assert_eq!(again.logits(&test, &device).unwrap(), logits);

    // A modality the cohort lacks is refused with a clear message.
    let only_omics_missing: Vec<_> = cases
        .iter()
        .cloned()
        .map(|mut c| {
            c.omics = None;
            c
        })
        .collect();
    let err = train_model(
        &only_omics_missing,
        &split,
        ModalitySet::only(3),
        &cfg,
        &device,
        &|_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("omics"), "{err}");
}

#[test]
fn a_corrupt_case_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cohort");
    let config = oncolens_synth::SynthConfig {
        patients: 4,
        sites: 1,
        seed: 2,
        matrix: 32,
        ..oncolens_synth::SynthConfig::default()
    };
    oncolens_synth::generate(&config, &root, &|| {}).unwrap();
    let cohort = oncolens_io::scan_cohort(&root).unwrap();
    let victim = cohort
        .entries
        .iter()
        .find(|e| e.lesion_mask.is_some())
        .unwrap();
    std::fs::write(victim.lesion_mask.as_ref().unwrap(), b"not a nifti").unwrap();
    let err = prepare_cohort(&cohort, &tiny_config().image_input, &|_, _| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains(&victim.id), "{err}");
}

/// The reports a model learns from carry no identifier: not the names and MRN of the
/// report's header (from the generator, as hospital reports have them), so neither the
/// tokenizer's vocabulary, saved with the model, nor the document frequencies a federated
/// station shares hold a patient's name. Fails when reports are tokenized raw.
#[test]
fn learned_vocabulary_holds_no_patient_identifier() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cohort");
    let config = oncolens_synth::SynthConfig {
        patients: 40,
        sites: 2,
        seed: 9,
        matrix: 24,
        ..oncolens_synth::SynthConfig::default()
    };
    oncolens_synth::generate(&config, &root, &|| {}).unwrap();
    let cohort = oncolens_io::scan_cohort(&root).unwrap();
    let mut identity = std::collections::HashSet::new();
    for e in &cohort.entries {
        if let Some(f) = &e.fhir {
            let read = oncolens_records::fhir::read_bundle(f).unwrap();
            for s in read
                .subject
                .names
                .iter()
                .chain(read.subject.identifiers.iter().map(|(_, v)| v))
            {
                identity.extend(oncolens_nn::tokenizer::words(s));
            }
        }
    }
    assert!(identity.len() > 20, "{identity:?}");
    let cases = prepare_cohort(&cohort, &tiny_config().image_input, &|_, _| {}).unwrap();
    let reports: Vec<&str> = cases.iter().filter_map(|c| c.report.as_deref()).collect();
    assert!(reports.len() > 25);
    // The rest of the report is intact.
    assert!(
        reports.iter().all(|r| r.contains("FINDINGS")),
        "{:?}",
        reports[0]
    );
    let df = oncolens_nn::Tokenizer::document_frequencies(reports.iter().copied());
    let leaked: Vec<&String> = df
        .keys()
        .filter(|t| t.split(' ').any(|w| identity.contains(w)))
        .collect();
    assert!(
        leaked.is_empty(),
        "identifiers among the tokens: {leaked:?}"
    );
    let train: Vec<&oncolens_train::cases::PreparedCase> = cases.iter().collect();
    let prep = oncolens_train::Preprocessor::fit(&train, tiny_config().image_input);
    let vocab = &prep.tokenizer.as_ref().unwrap().vocab;
    assert!(vocab.len() > 20);
    assert!(
        !vocab
            .iter()
            .any(|t| t.split(' ').any(|w| identity.contains(w))),
        "{vocab:?}"
    );
}
