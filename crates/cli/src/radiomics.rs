//! `oncolens radiomics`: IBSI features of one image and mask (JSON or CSV), or of every case of
//! a cohort folder in parallel, joined with the cases' clinical records into one table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use oncolens_core::{LabelMap, Volume};
use oncolens_radiomics::{FeatureSet, Settings, extract, extract_shape};
use rayon::prelude::*;

use crate::progress;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Preset {
    /// PyRadiomics' defaults: bin width 25, no resampling, no re-segmentation; PyRadiomics'
    /// feature classes (3D texture; IBSI-only features are NaN with a note).
    Pyradiomics,
    /// PyRadiomics' defaults plus every IBSI family and aggregation (2D, 2.5D, GLDZM, Moran's
    /// I, Geary's C, local intensity peaks).
    PyradiomicsIbsi,
    /// The IBSI 1 digital phantom: intensities are the grey levels.
    IbsiPhantom,
    IbsiA,
    IbsiB,
    IbsiC,
    IbsiD,
    IbsiE,
}

#[derive(clap::Args)]
pub struct RadiomicsArgs {
    /// Image: a NIfTI file or a folder of DICOM slices.
    #[arg(long, required_unless_present = "cohort", conflicts_with = "cohort")]
    pub image: Option<PathBuf>,
    /// Mask (NIfTI) on the image's grid.
    #[arg(long, required_unless_present = "cohort", conflicts_with = "cohort")]
    pub mask: Option<PathBuf>,
    /// Cohort folder: one row per case with a lesion mask, written to `--out` as CSV.
    #[arg(long)]
    pub cohort: Option<PathBuf>,
    /// Label of the region of interest in the mask.
    #[arg(long, default_value_t = 1)]
    pub label: u16,
    /// Settings file (TOML; see crates/radiomics/README.md). Overrides `--preset`.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Built-in settings.
    #[arg(long, value_enum, default_value_t = Preset::Pyradiomics)]
    pub preset: Preset,
    /// Print CSV (one row per feature) instead of JSON (single image mode).
    #[arg(long, conflicts_with = "json")]
    pub csv: bool,
    /// Print JSON (the default in single image mode).
    #[arg(long)]
    pub json: bool,
    /// Write to this file instead of standard output (required with `--cohort`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Cohort mode: shape features only, from the masks (for cohorts without images, such as
    /// KiTS19 here). Cases without an image get shape features only in any case.
    #[arg(long)]
    pub shape_only: bool,
}

fn settings(args: &RadiomicsArgs) -> Result<Settings> {
    if let Some(path) = &args.config {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading settings {}", path.display()))?;
        return Settings::from_toml_str(&text)
            .with_context(|| format!("settings file {}", path.display()));
    }
    Ok(match args.preset {
        Preset::Pyradiomics => Settings::pyradiomics(),
        Preset::PyradiomicsIbsi => Settings::pyradiomics_with_ibsi(),
        Preset::IbsiPhantom => Settings::ibsi_digital_phantom(),
        Preset::IbsiA => Settings::ibsi_config('A')?,
        Preset::IbsiB => Settings::ibsi_config('B')?,
        Preset::IbsiC => Settings::ibsi_config('C')?,
        Preset::IbsiD => Settings::ibsi_config('D')?,
        Preset::IbsiE => Settings::ibsi_config('E')?,
    })
}

/// Features of `label` over an image (NIfTI file or DICOM folder) and its mask. A NIfTI image
/// is streamed and only the region the features read is kept
/// ([`crate::radiomics_region`]); otherwise (DICOM, resampling settings) the image and the
/// mask are read whole, side by side.
fn features(
    image_path: &Path,
    mask_path: &Path,
    label: u16,
    settings: &Settings,
) -> Result<FeatureSet> {
    if image_path.is_file() {
        return crate::radiomics_region::extract_from_files(image_path, mask_path, label, settings);
    }
    extract_whole(image_path, mask_path, label, settings)
}

/// Features from the image and the mask read whole (two independent reads, side by side).
pub(crate) fn extract_whole(
    image_path: &Path,
    mask_path: &Path,
    label: u16,
    settings: &Settings,
) -> Result<FeatureSet> {
    let (image, mask) = rayon::join(|| read_image(image_path), || read_mask(mask_path));
    Ok(extract(&image?, &mask?, label, settings)?)
}

/// [`features`] with the mask already read.
fn features_with_mask(
    image_path: &Path,
    mask: &LabelMap,
    label: u16,
    settings: &Settings,
) -> Result<FeatureSet> {
    if image_path.is_file()
        && let Some(set) =
            crate::radiomics_region::extract_streamed(image_path, mask, label, settings)?
    {
        return Ok(set);
    }
    Ok(extract(&read_image(image_path)?, mask, label, settings)?)
}

/// Reads a NIfTI file or a DICOM series folder as a HU volume.
pub(crate) fn read_image(path: &Path) -> Result<Volume<f32>> {
    if path.is_dir() {
        let series = oncolens_dicom::read_series(path, &oncolens_dicom::ReadOptions::default())
            .with_context(|| format!("reading DICOM series {}", path.display()))?;
        Ok(series.volume)
    } else {
        Ok(oncolens_nifti::read_volume(path)
            .with_context(|| format!("reading {}", path.display()))?
            .volume)
    }
}

pub(crate) fn read_mask(path: &Path) -> Result<LabelMap> {
    oncolens_nifti::read_label_map(path).with_context(|| format!("reading mask {}", path.display()))
}

fn write_or_print(out: Option<&Path>, text: &str) -> Result<()> {
    match out {
        Some(path) => oncolens_core::fs::write_atomic(path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display())),
        None => {
            use std::io::Write;
            match std::io::stdout().lock().write_all(text.as_bytes()) {
                // A closed pipe (`| head`) is the reader's choice, not an error.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                r => r.context("writing to standard output"),
            }
        }
    }
}

pub fn run(args: &RadiomicsArgs) -> Result<()> {
    let settings = settings(args)?;
    if let Some(cohort) = &args.cohort {
        let Some(out) = &args.out else {
            bail!("--cohort writes a table: give --out FILE.csv");
        };
        return run_cohort(cohort, out, args, &settings);
    }
    let (Some(image_path), Some(mask_path)) = (&args.image, &args.mask) else {
        bail!("give --image and --mask, or --cohort");
    };
    let set = features(image_path, mask_path, args.label, &settings).with_context(|| {
        format!(
            "radiomics of label {} in {} over {}",
            args.label,
            mask_path.display(),
            image_path.display()
        )
    })?;
    let text = if args.csv {
        single_csv(&set)?
    } else {
        serde_json::to_string_pretty(&set)? + "\n"
    };
    write_or_print(args.out.as_deref(), &text)
}

fn single_csv(set: &FeatureSet) -> Result<String> {
    let mut buf = Vec::new();
    {
        let mut w = csv::Writer::from_writer(&mut buf);
        w.write_record([
            "name",
            "ibsi_code",
            "pyradiomics_name",
            "family",
            "value",
            "note",
        ])?;
        for f in &set.features {
            let family = serde_json::to_value(f.family)?;
            w.write_record([
                f.name.as_str(),
                f.ibsi_code.as_str(),
                f.pyradiomics_name.as_deref().unwrap_or(""),
                family.as_str().unwrap_or(""),
                &format_value(f.value),
                f.note.as_deref().unwrap_or(""),
            ])?;
        }
        w.flush()?;
    }
    Ok(String::from_utf8(buf)?)
}

fn format_value(v: f64) -> String {
    if v.is_nan() {
        String::new()
    } else {
        format!("{v}")
    }
}

/// One row of the cohort table.
pub(crate) struct Row {
    pub(crate) case_id: String,
    pub(crate) site: String,
    label: Option<u8>,
    clinical: BTreeMap<String, String>,
    pub(crate) features: Vec<(String, f64)>,
}

/// Features of every case with a lesion mask under PyRadiomics' default settings (label 1), for
/// the station's `radiomics` algorithm; cases that fail are left out.
pub(crate) fn cohort_features(root: &Path, shape_only: bool) -> Result<Vec<Row>> {
    let (rows, _) = cohort_rows(root, &Settings::pyradiomics(), 1, shape_only)?;
    Ok(rows)
}

pub(crate) fn clinical_columns(
    record: Option<&oncolens_core::ClinicalRecord>,
) -> BTreeMap<String, String> {
    let mut c = BTreeMap::new();
    let Some(r) = record else {
        return c;
    };
    if let Some(a) = r.age_years {
        c.insert("age_years".to_owned(), format!("{a}"));
    }
    if let Some(s) = r.sex {
        c.insert("sex".to_owned(), format!("{s:?}").to_lowercase());
    }
    for m in &r.markers {
        let name = m.name.clone().unwrap_or_else(|| m.code.code.clone());
        c.insert(format!("marker_{name}"), format!("{}", m.value));
    }
    if let Some(p) = &r.primary_site {
        c.insert(
            "primary_site".to_owned(),
            p.display.clone().unwrap_or_else(|| p.code.clone()),
        );
    }
    c
}

/// Every case with a lesion mask, in parallel with a progress bar: its row, or why it failed.
fn cohort_rows(
    root: &Path,
    settings: &Settings,
    label: u16,
    shape_only: bool,
) -> Result<(Vec<Row>, Vec<String>)> {
    let cohort = oncolens_io::scan_cohort(root)
        .with_context(|| format!("reading cohort {}", root.display()))?;
    let entries: Vec<_> = cohort
        .entries
        .iter()
        .filter(|e| e.lesion_mask.is_some())
        .collect();
    if entries.is_empty() {
        bail!("{}: no case has a lesion mask", root.display());
    }
    let bar = progress::bar(entries.len() as u64, "radiomics");
    let results: Vec<Result<Row, String>> = entries
        .par_iter()
        .map(|entry| {
            let r = (|| -> Result<Row> {
                let mask_path = entry.lesion_mask.as_ref().context("no lesion mask")?;
                let mask = read_mask(mask_path)?;
                let image_path = entry.dicom_dir.as_ref().or(entry.image_nifti.as_ref());
                let set = match image_path {
                    Some(p) if !shape_only => features_with_mask(p, &mask, label, settings)?,
                    _ => extract_shape(&mask, label, settings)?,
                };
                let record = match &entry.fhir {
                    // Only the clinical record: the identity part of the bundle never reaches
                    // the table.
                    Some(p) => Some(
                        oncolens_records::fhir::read_bundle(p)
                            .with_context(|| format!("reading {}", p.display()))?
                            .record,
                    ),
                    None => None,
                };
                Ok(Row {
                    case_id: entry.id.clone(),
                    site: entry.site.0.clone(),
                    label: entry.label.map(|l| l.0),
                    clinical: clinical_columns(record.as_ref()),
                    features: set
                        .features
                        .iter()
                        .map(|f| (f.name.clone(), f.value))
                        .collect(),
                })
            })();
            bar.inc(1);
            r.map_err(|e| format!("{}: {e:#}", entry.id))
        })
        .collect();
    bar.finish_and_clear();
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for r in results {
        match r {
            Ok(row) => rows.push(row),
            Err(e) => failed.push(e),
        }
    }
    if rows.is_empty() {
        bail!("no case could be analysed; first error: {}", failed[0]);
    }
    Ok((rows, failed))
}

fn run_cohort(root: &Path, out: &Path, args: &RadiomicsArgs, settings: &Settings) -> Result<()> {
    let (rows, failed) = cohort_rows(root, settings, args.label, args.shape_only)?;
    let table = cohort_table(&rows, &read_outcomes(root)?)?;
    oncolens_core::fs::write_atomic(out, table.as_bytes())
        .with_context(|| format!("writing {}", out.display()))?;
    println!(
        "radiomics of {} cases ({} features each) written to {}",
        rows.len(),
        rows[0].features.len(),
        out.display()
    );
    for e in &failed {
        eprintln!("  skipped {e}");
    }
    Ok(())
}

/// Outcome column names, and each case's values in that order.
type Outcomes = (Vec<String>, BTreeMap<String, Vec<String>>);

/// Outcome columns of `pathology.csv` at the cohort root (KiTS19: subtype, grade), by case id.
fn read_outcomes(root: &Path) -> Result<Outcomes> {
    let path = root.join("pathology.csv");
    let mut by_case = BTreeMap::new();
    if !path.is_file() {
        return Ok((Vec::new(), by_case));
    }
    let mut r =
        csv::Reader::from_path(&path).with_context(|| format!("reading {}", path.display()))?;
    let headers: Vec<String> = r.headers()?.iter().map(str::to_owned).collect();
    let Some(id_col) = headers.iter().position(|h| h == "case_id") else {
        bail!("{}: no case_id column", path.display());
    };
    for rec in r.records() {
        let rec = rec.with_context(|| format!("reading {}", path.display()))?;
        let values: Vec<String> = rec
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != id_col)
            .map(|(_, v)| v.to_owned())
            .collect();
        by_case.insert(rec.get(id_col).unwrap_or_default().to_owned(), values);
    }
    let names = headers
        .into_iter()
        .enumerate()
        .filter(|(i, _)| *i != id_col)
        .map(|(_, h)| format!("outcome_{h}"))
        .collect();
    Ok((names, by_case))
}

fn cohort_table(rows: &[Row], (outcome_names, outcomes): &Outcomes) -> Result<String> {
    let clinical: Vec<String> = {
        let mut c: Vec<String> = rows
            .iter()
            .flat_map(|r| r.clinical.keys().cloned())
            .collect();
        c.sort();
        c.dedup();
        c
    };
    let feature_names: Vec<String> = rows[0].features.iter().map(|f| f.0.clone()).collect();
    let mut buf = Vec::new();
    {
        let mut w = csv::Writer::from_writer(&mut buf);
        let mut header = vec!["case_id".to_owned(), "site".to_owned(), "label".to_owned()];
        header.extend(clinical.iter().cloned());
        header.extend(outcome_names.iter().cloned());
        header.extend(feature_names.iter().cloned());
        w.write_record(&header)?;
        for r in rows {
            let mut rec = vec![
                r.case_id.clone(),
                r.site.clone(),
                r.label.map(|l| l.to_string()).unwrap_or_default(),
            ];
            rec.extend(
                clinical
                    .iter()
                    .map(|k| r.clinical.get(k).cloned().unwrap_or_default()),
            );
            let o = outcomes.get(&r.case_id);
            rec.extend(
                (0..outcome_names.len())
                    .map(|i| o.and_then(|v| v.get(i)).cloned().unwrap_or_default()),
            );
            let by_name: BTreeMap<&str, f64> =
                r.features.iter().map(|(n, v)| (n.as_str(), *v)).collect();
            rec.extend(feature_names.iter().map(|n| {
                by_name
                    .get(n.as_str())
                    .map(|v| format_value(*v))
                    .unwrap_or_default()
            }));
            w.write_record(&rec)?;
        }
        w.flush()?;
    }
    Ok(String::from_utf8(buf)?)
}
