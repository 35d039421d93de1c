//! `oncolens demo`: the main job on the bundled default.
//!
//! Today it generates (or reuses) the sample cohort, reads every file back through the real
//! readers (DICOM, NIfTI, FHIR, report, omics), checks what was read against the generator's
//! ground truth, and writes a per-case table and a per-site summary. Training, evaluation and
//! explanations plug in after the read step as they land.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use oncolens_core::{Case, Modality};
use rayon::prelude::*;
use serde::Serialize;

use crate::progress;

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Output folder: the cohort goes to OUT/cohort, results to OUT.
    #[arg(long, default_value = "demo-out")]
    out: PathBuf,
    #[command(flatten)]
    cohort: crate::CohortArgs,
    /// Maximum training epochs of each model (early stopping usually stops sooner).
    #[arg(long, default_value_t = 40)]
    epochs: usize,
    /// Edge of the lesion-centred CT crop in voxels (3 mm voxels by default).
    #[arg(long, default_value_t = 32)]
    crop_side: usize,
    /// Voxel size of the crop in mm.
    #[arg(long, default_value_t = 3.0)]
    crop_spacing_mm: f64,
    /// Number of held-out cases to explain (the first three are drawn in the report).
    #[arg(long, default_value_t = 8)]
    explain: usize,
    /// Integration steps of Integrated Gradients.
    #[arg(long, default_value_t = 32)]
    ig_steps: usize,
    /// Skip the leave-one-site-out runs (faster).
    #[arg(long)]
    no_loso: bool,
    /// Simulated patients behind the reference that reads the rendered CT (each lesion is
    /// rendered and measured, a few ms per patient); 0 skips that reference.
    #[arg(long, default_value_t = 6000)]
    reading_reference_patients: usize,
    /// Also train the gated-attention network end to end, for comparison with late fusion.
    #[arg(long)]
    end_to_end: bool,
}

/// One row of `cases.csv`: what the readers recovered for one case.
#[derive(Debug, Serialize)]
struct CaseRow {
    case_id: String,
    site: String,
    split: String,
    malignant: String,
    modalities: String,
    size_xyz: String,
    spacing_mm: String,
    lesion_volume_ml: Option<f64>,
    lesion_mean_hu: Option<f64>,
    kidney_mean_hu: Option<f64>,
    age_years: Option<f64>,
    sex: Option<String>,
    ldh_u_per_l: Option<f64>,
    primary_site: Option<String>,
    report_words: Option<usize>,
    omics_genes: Option<usize>,
}

#[derive(Debug, Default, Serialize)]
struct SiteSummary {
    cases: usize,
    malignant: usize,
    with: BTreeMap<&'static str, usize>,
    slice_thickness_mm: Vec<f64>,
    mean_kidney_hu: f64,
    mean_lesion_hu: f64,
}

fn mean_in_mask(case: &Case, lesion: bool) -> Option<f64> {
    let image = case.image.as_ref()?;
    let mask = if lesion {
        case.lesion_mask.as_ref()?
    } else {
        case.organ_mask.as_ref()?
    };
    let (sum, n) = image
        .data()
        .iter()
        .zip(mask.data().iter())
        .filter(|(_, m)| **m > 0)
        .fold((0.0f64, 0usize), |(s, n), (v, _)| {
            (s + f64::from(*v), n + 1)
        });
    (n > 0).then(|| sum / n as f64)
}

fn row_for(case: &Case, split: Option<&str>) -> CaseRow {
    let f3 = |v: [f64; 3]| format!("{:.3} {:.3} {:.3}", v[0], v[1], v[2]);
    let clinical = case.clinical.as_ref();
    CaseRow {
        case_id: case.id.clone(),
        site: case.site.as_ref().map(|s| s.0.clone()).unwrap_or_default(),
        split: split.unwrap_or("").to_owned(),
        malignant: case.label.map(|l| l.0.to_string()).unwrap_or_default(),
        modalities: case
            .modalities()
            .iter()
            .map(|m| m.name())
            .collect::<Vec<_>>()
            .join("+"),
        size_xyz: case
            .image
            .as_ref()
            .map(|v| format!("{} {} {}", v.size()[0], v.size()[1], v.size()[2]))
            .unwrap_or_default(),
        spacing_mm: case
            .image
            .as_ref()
            .map(|v| f3(v.spacing_mm()))
            .unwrap_or_default(),
        lesion_volume_ml: case.lesion_mask.as_ref().map(|m| m.volume_mm3(1) / 1000.0),
        lesion_mean_hu: mean_in_mask(case, true),
        kidney_mean_hu: mean_in_mask(case, false),
        age_years: clinical.and_then(|c| c.age_years),
        sex: clinical
            .and_then(|c| c.sex)
            .map(|s| format!("{s:?}").to_lowercase()),
        ldh_u_per_l: clinical.and_then(|c| c.marker("ldh")).map(|m| m.value),
        primary_site: clinical
            .and_then(|c| c.primary_site.as_ref())
            .map(|s| s.display.clone().unwrap_or_else(|| s.code.clone())),
        report_words: case
            .report
            .as_ref()
            .map(|r| r.text.split_whitespace().count()),
        omics_genes: case.omics.as_ref().map(|o| o.genes.len()),
    }
}

/// Ground-truth columns the readers must reproduce.
#[derive(Debug, serde::Deserialize)]
struct Truth {
    case_id: String,
    age_years: f64,
    ldh_u_per_l: f64,
    lesion_side: String,
    lesion_volume_ml: Option<f64>,
}

fn ensure_cohort(args: &DemoArgs, cohort_dir: &Path) -> Result<()> {
    let manifest = cohort_dir.join("cohort.json");
    if manifest.is_file() {
        let text = std::fs::read_to_string(&manifest)
            .with_context(|| format!("reading {}", manifest.display()))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("parsing {}", manifest.display()))?;
        let c = &v["config"];
        let want = &args.cohort;
        let same = c["patients"] == want.patients
            && c["sites"] == want.sites
            && c["seed"] == want.seed
            && c["matrix"] == want.matrix;
        if !same {
            bail!(
                "{} holds a cohort made with other settings ({}); use another --out or delete it",
                cohort_dir.display(),
                c
            );
        }
        eprintln!("reusing the sample cohort in {}", cohort_dir.display());
        return Ok(());
    }
    let config = args.cohort.config();
    let summary = crate::synth_with_progress(&config, cohort_dir)?;
    eprintln!(
        "generated {} patients ({} malignant) in {}",
        summary.patients,
        summary.malignant,
        cohort_dir.display()
    );
    Ok(())
}

pub fn run(args: &DemoArgs) -> Result<()> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let cohort_dir = args.out.join("cohort");
    ensure_cohort(args, &cohort_dir)?;

    let cohort = oncolens_io::scan_cohort(&cohort_dir)?;
    let omics = match &cohort.omics_table {
        Some(p) => Some(oncolens_records::omics::read_expression_table(p)?),
        None => None,
    };
    let bar = progress::bar(cohort.entries.len() as u64, "reading cases");
    let cases: Vec<(Case, Option<String>)> = cohort
        .entries
        .par_iter()
        .map(|e| {
            let case = oncolens_io::load_case(e, omics.as_ref());
            bar.inc(1);
            case.map(|c| (c, e.split.clone()))
        })
        .collect::<Result<_, _>>()?;
    bar.finish_and_clear();

    let rows: Vec<CaseRow> = cases
        .iter()
        .map(|(c, s)| row_for(c, s.as_deref()))
        .collect();
    let truth_path = cohort_dir.join("ground_truth.csv");
    let truth: Vec<Truth> = csv::Reader::from_path(&truth_path)
        .with_context(|| format!("reading {}", truth_path.display()))?
        .deserialize()
        .collect::<Result<_, _>>()
        .with_context(|| format!("parsing {}", truth_path.display()))?;
    let checks = check_against_truth(&rows, &truth);

    let mut sites: BTreeMap<String, SiteSummary> = BTreeMap::new();
    for ((case, _), row) in cases.iter().zip(&rows) {
        let s = sites.entry(row.site.clone()).or_default();
        s.cases += 1;
        s.malignant += usize::from(row.malignant == "1");
        for m in case.modalities() {
            *s.with.entry(m.name()).or_default() += 1;
        }
        if let Some(img) = &case.image {
            let t = img.spacing_mm()[2];
            if !s.slice_thickness_mm.contains(&t) {
                s.slice_thickness_mm.push(t);
            }
        }
    }
    for (site, s) in sites.iter_mut() {
        let of_site = rows.iter().filter(|r| &r.site == site);
        let mean = |vals: Vec<f64>| {
            if vals.is_empty() {
                f64::NAN
            } else {
                vals.iter().sum::<f64>() / vals.len() as f64
            }
        };
        s.mean_kidney_hu = mean(of_site.clone().filter_map(|r| r.kidney_mean_hu).collect());
        s.mean_lesion_hu = mean(of_site.filter_map(|r| r.lesion_mean_hu).collect());
    }

    let cases_csv = args.out.join("cases.csv");
    let mut buf = Vec::new();
    {
        let mut w = csv::Writer::from_writer(&mut buf);
        for r in &rows {
            w.serialize(r)?;
        }
        w.flush()?;
    }
    oncolens_core::fs::write_atomic(&cases_csv, &buf)
        .with_context(|| format!("writing {}", cases_csv.display()))?;
    let summary = serde_json::json!({
        "cohort": cohort_dir,
        "cases": rows.len(),
        "sites": sites,
        "modalities": Modality::ALL.iter().map(|m| (m.name(), cases.iter().filter(|(c, _)| c.modalities().contains(m)).count())).collect::<BTreeMap<_, _>>(),
        "checks_against_ground_truth": checks,
    });
    let summary_path = args.out.join("summary.json");
    oncolens_core::fs::write_atomic(
        &summary_path,
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )
    .with_context(|| format!("writing {}", summary_path.display()))?;

    println!("read {} cases from {} sites", rows.len(), sites.len());
    println!(
        "  site        cases  malignant  image  clinical  text  omics  slice mm  kidney HU  lesion HU"
    );
    for (id, s) in &sites {
        let w = |m: &str| s.with.get(m).copied().unwrap_or(0);
        println!(
            "  {id:<10} {:>6} {:>10} {:>6} {:>9} {:>5} {:>6} {:>9} {:>10.1} {:>10.1}",
            s.cases,
            s.malignant,
            w("image"),
            w("clinical"),
            w("text"),
            w("omics"),
            s.slice_thickness_mm
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join("/"),
            s.mean_kidney_hu,
            s.mean_lesion_hu
        );
    }
    println!("checks against the generator's ground truth:");
    for (name, c) in &checks {
        println!("  {name:<28} {}/{}", c.passed, c.checked);
    }
    // De-identify the cohort as a station would before anything leaves the site.
    let deid_dir = args.out.join("deidentified");
    if deid_dir.join("deid_summary.json").is_file() {
        std::fs::remove_dir_all(&deid_dir)
            .with_context(|| format!("replacing {}", deid_dir.display()))?;
    }
    let key_path = args.out.join("pseudonym.key");
    let key = if key_path.is_file() {
        oncolens_deid::PseudonymKey::from_file(&key_path)?
    } else {
        crate::write_new_key(&key_path)?
    };
    let deid = crate::deid_with_progress(&cohort_dir, &deid_dir, &key)?;
    println!(
        "de-identified {} cases into {} ({} DICOM files, {} UIDs remapped); searched {} identifier strings: found in {} files",
        deid.cases,
        deid_dir.display(),
        deid.dicom_files,
        deid.dicom_log.uids_remapped,
        deid.identifiers_checked,
        deid.files_with_identifiers.len()
    );
    if !deid.files_with_identifiers.is_empty() {
        bail!(
            "an identifier survived de-identification (see {})",
            deid_dir.join("deid_summary.json").display()
        );
    }
    if checks.values().any(|c| c.passed != c.checked) {
        bail!(
            "some values read back differ from the ground truth (see {})",
            summary_path.display()
        );
    }

    // Learning: fused and single-modality models, per-site and leave-one-site-out evaluation,
    // explanations, report.
    let opts = crate::demo_learn::LearnOptions {
        config: oncolens_train::TrainConfig {
            max_epochs: args.epochs.max(1),
            min_epochs: 8.min(args.epochs.max(1)),
            seed: args.cohort.seed,
            image_input: oncolens_train::ImageInput::LesionCrop(oncolens_transforms::CropSpec {
                side: args.crop_side.max(4),
                spacing_mm: args.crop_spacing_mm,
            }),
            ..oncolens_train::TrainConfig::default()
        },
        explain_cases: args.explain,
        ig_steps: args.ig_steps.max(1),
        end_to_end: args.end_to_end,
        loso: !args.no_loso,
        reading_reference_patients: args.reading_reference_patients,
        cohort_config: args.cohort.config(),
    };
    println!("training models (one per modality, stacked into the fused model)");
    let mut outcome = crate::demo_learn::run(&cohort_dir, &args.out, &opts)?;
    // Radiogenomics: which CT features go with which genes, against the generator's links.
    // A tiny cohort may have too few patients with both; that is reported, not fatal.
    let (radiogenomics, heatmap) = match crate::radiogenomics::on_sample_cohort(
        &cohort_dir,
        &args.out.join("radiogenomics"),
    ) {
        Ok((summary, svg)) => {
            let truth = &summary["against_generator"];
            println!(
                "radiogenomics: {} of {} linked genes found at FDR 0.05; {} of {} significant pairs with an unlinked gene",
                truth["linked_genes_found"],
                truth["linked_genes"],
                truth["pairs_with_an_unlinked_gene"],
                truth["significant_pairs"]
            );
            (summary, svg)
        }
        Err(e) => {
            eprintln!("radiogenomics not computed: {e:#}");
            (
                serde_json::json!({"undefined": format!("{e:#}")}),
                String::new(),
            )
        }
    };
    if let Some(m) = outcome.metrics.as_object_mut() {
        m.insert("radiogenomics".into(), radiogenomics);
    }
    let metrics_path = args.out.join("metrics.json");
    oncolens_core::fs::write_atomic(
        &metrics_path,
        serde_json::to_string_pretty(&outcome.metrics)?.as_bytes(),
    )
    .with_context(|| format!("writing {}", metrics_path.display()))?;
    crate::demo_report::write(&outcome, &summary, &heatmap, &args.out)?;
    println!(
        "held-out test AUC [95% CI] on {} patients:",
        outcome.split.test.len()
    );
    for r in &outcome.models {
        let v = &r.report;
        let ci = v["auc_ci"].as_array();
        println!(
            "  {:<13} {:.3} [{:.3}, {:.3}]",
            r.name,
            v["auc"].as_f64().unwrap_or(f64::NAN),
            ci.and_then(|c| c[0].as_f64()).unwrap_or(f64::NAN),
            ci.and_then(|c| c[1].as_f64()).unwrap_or(f64::NAN)
        );
    }
    if !outcome.loso.is_empty() {
        println!("leave-one-site-out AUC (fused late-fusion model):");
        for (site, v) in &outcome.loso {
            println!("  {site:<13} {:.3}", v["auc"].as_f64().unwrap_or(f64::NAN));
        }
    }
    for (method, share) in outcome.metrics["attribution_in_lesion"]
        .as_object()
        .into_iter()
        .flatten()
    {
        println!(
            "share of positive {method} attribution inside the lesion: {:.2}",
            share.as_f64().unwrap_or(f64::NAN)
        );
    }
    println!(
        "wrote {}, {}, {} and {}",
        args.out.join("report.html").display(),
        metrics_path.display(),
        cases_csv.display(),
        summary_path.display()
    );
    Ok(())
}

#[derive(Debug, Default, Serialize)]
struct Check {
    checked: usize,
    passed: usize,
}

fn check_against_truth(rows: &[CaseRow], truth: &[Truth]) -> BTreeMap<&'static str, Check> {
    let mut checks: BTreeMap<&'static str, Check> = BTreeMap::new();
    for r in rows {
        let Some(t) = truth.iter().find(|t| t.case_id == r.case_id) else {
            continue;
        };
        let mut record = |name: &'static str, ok: bool| {
            let c = checks.entry(name).or_default();
            c.checked += 1;
            c.passed += usize::from(ok);
        };
        if let Some(age) = r.age_years {
            record("age_from_fhir", (age - t.age_years).abs() < 0.5);
        }
        if let Some(ldh) = r.ldh_u_per_l {
            record("ldh_from_fhir", (ldh - t.ldh_u_per_l).abs() < 0.006);
        }
        if let Some(site) = &r.primary_site {
            record(
                "lesion_side_from_fhir",
                site.to_lowercase().contains(&t.lesion_side),
            );
        }
        if let (Some(v), Some(tv)) = (r.lesion_volume_ml, t.lesion_volume_ml) {
            // NIfTI-1 stores spacing as float32: volumes agree to ~1e-7 relative.
            record(
                "lesion_volume_from_nifti",
                (v - tv).abs() <= 1e-5 * tv.abs().max(1e-3),
            );
        }
    }
    checks
}
