//! `oncolens synth`: a seeded generator of a multi-site, multimodal renal-tumour cohort written as
//! real files (DICOM slices, NIfTI masks, FHIR R4 bundles, report text, an expression table).
//!
//! No public set has CT, clinical record, report and omics for the same patients, so the demo
//! needs a synthetic cohort; writing it as real files means every reader is exercised exactly as
//! on hospital data. The generative model is in [`truth`] and documented in the README; it is the
//! ground truth that model and explanation checks score against.

pub mod config;
pub mod fhir;
pub mod omics;
pub mod oracle;
pub mod phantom;
pub mod report;
pub mod truth;

use std::path::{Path, PathBuf};

use chrono::{Days, Months, NaiveDate};
use ndarray::Array3;
use oncolens_core::{Direction, Geometry, LabelMap, Volume};
use oncolens_dicom::write::{CtSeriesMeta, DicomWriteError, write_ct_series};
use rand::{Rng, SeedableRng, seq::SliceRandom};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;
use serde::Serialize;
use thiserror::Error;

pub use config::{SiteProfile, SynthConfig, site_profiles};

/// Errors raised while generating a cohort.
#[derive(Debug, Error)]
pub enum SynthError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("output folder {0} is not empty; choose an empty or new folder")]
    NotEmpty(PathBuf),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Dicom(#[from] DicomWriteError),
    #[error("cannot write mask {path}: {message}")]
    Nifti { path: PathBuf, message: String },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SynthError + '_ {
    move |source| SynthError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Probability that a patient lacks each modality (omics: see [`SiteProfile::omics_missing_rate`]).
pub const IMAGE_MISSING_RATE: f64 = 0.04;
pub const CLINICAL_MISSING_RATE: f64 = 0.08;
pub const TEXT_MISSING_RATE: f64 = 0.12;
pub const LDH_MISSING_RATE: f64 = 0.1;
/// Share of each site's patients put in the held-out test split.
pub const TEST_FRACTION: f64 = 0.25;

const GIVEN: &[&str] = &[
    "Anna", "Bram", "Carla", "Daan", "Eva", "Finn", "Greta", "Hugo", "Ines", "Jonas", "Katja",
    "Lars", "Maria", "Nils", "Olga", "Pieter", "Rosa", "Sven", "Tessa", "Victor",
];
const FAMILY: &[&str] = &[
    "Jansen", "de Vries", "Bakker", "Visser", "Smit", "Meijer", "Mulder", "Bos", "Vos", "Peters",
    "Hendriks", "Dekker", "Brouwer", "Dijkstra", "Kok", "Jacobs", "Willems", "Schouten",
];

/// One row of `ground_truth.csv`.
#[derive(Debug, Clone, Serialize)]
pub struct TruthRow {
    pub case_id: String,
    pub site: String,
    pub split: String,
    pub malignant: u8,
    pub p_malignant: f64,
    pub logit: f64,
    pub contrib_size: f64,
    pub contrib_irregularity: f64,
    pub contrib_heterogeneity: f64,
    pub contrib_enhancement: f64,
    pub contrib_age: f64,
    pub contrib_ldh: f64,
    pub contrib_site: f64,
    pub diameter_mm: f64,
    pub irregularity: f64,
    pub heterogeneity: f64,
    pub enhancement_hu: f64,
    pub age_years: f64,
    pub sex: String,
    pub ldh_u_per_l: f64,
    pub hemoglobin_g_per_dl: f64,
    pub creatinine_mg_per_dl: f64,
    pub lesion_side: String,
    pub lesion_center_x_mm: f64,
    pub lesion_center_y_mm: f64,
    pub lesion_center_z_mm: f64,
    pub lesion_volume_ml: f64,
    pub report_impression: String,
    pub has_image: u8,
    pub has_clinical: u8,
    pub has_text: u8,
    pub has_omics: u8,
}

/// What was generated.
#[derive(Debug, Clone, Serialize)]
pub struct SynthSummary {
    pub out: PathBuf,
    pub patients: usize,
    pub malignant: usize,
    pub sites: Vec<String>,
    pub dicom_files: usize,
}

/// Everything decided for one patient before any file is written (cheap, sequential, seeded).
struct Plan {
    case_id: String,
    site: usize,
    seed: u64,
    latent: truth::Latent,
    contrib: truth::Contributions,
    logit: f64,
    malignant: bool,
    has: [bool; 4],
    split: String,
}

fn patient_seed(seed: u64, index: usize) -> u64 {
    // SplitMix64 of (seed, index): independent streams whatever the thread schedule.
    let mut z = seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A DICOM UID of the form `2.25.<128-bit integer>` (PS3.5 B.2), from the patient's stream.
fn uid(rng: &mut impl Rng) -> String {
    let v: u128 = rng.random::<u128>() | 1;
    format!("2.25.{v}")
}

fn site_sizes(patients: usize, sites: usize) -> Vec<usize> {
    // Unequal site sizes, as in real consortia: weights 1, 0.85, 0.7, ...
    let weights: Vec<f64> = (0..sites).map(|i| 1.0 - 0.15 * (i % 4) as f64).collect();
    let total: f64 = weights.iter().sum();
    let mut sizes: Vec<usize> = weights
        .iter()
        .map(|w| ((w / total) * patients as f64).floor().max(1.0) as usize)
        .collect();
    while sizes.iter().sum::<usize>() < patients {
        let i = sizes.iter().sum::<usize>() % sites;
        sizes[i] += 1;
    }
    while sizes.iter().sum::<usize>() > patients {
        if let Some((i, _)) = sizes
            .iter()
            .enumerate()
            .filter(|(_, s)| **s > 1)
            .max_by_key(|(_, s)| **s)
        {
            sizes[i] -= 1;
        } else {
            break;
        }
    }
    sizes
}

fn validate(config: &SynthConfig) -> Result<(), SynthError> {
    if config.sites == 0 || config.sites > 26 {
        return Err(SynthError::Config(format!(
            "--sites must be 1..=26, got {}",
            config.sites
        )));
    }
    if config.patients < config.sites {
        return Err(SynthError::Config(format!(
            "--patients ({}) must be at least --sites ({})",
            config.patients, config.sites
        )));
    }
    if !(16..=1024).contains(&config.matrix) {
        return Err(SynthError::Config(format!(
            "--matrix must be 16..=1024, got {}",
            config.matrix
        )));
    }
    if !(20.0..=400.0).contains(&config.z_extent_mm) {
        return Err(SynthError::Config("z extent must be 20..=400 mm".into()));
    }
    Ok(())
}

fn plan(config: &SynthConfig, profiles: &[SiteProfile]) -> Vec<Plan> {
    let sizes = site_sizes(config.patients, config.sites);
    let mut cohort_rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut plans = Vec::with_capacity(config.patients);
    let mut index = 0;
    for (site, size) in sizes.iter().enumerate() {
        let mut order: Vec<usize> = (0..*size).collect();
        order.shuffle(&mut cohort_rng);
        let n_test = if *size >= 4 {
            ((*size as f64) * TEST_FRACTION).round().max(1.0) as usize
        } else {
            0
        };
        let mut is_test = vec![false; *size];
        for o in order.iter().take(n_test) {
            is_test[*o] = true;
        }
        for test in is_test {
            let seed = patient_seed(config.seed, index);
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let latent = truth::draw_latent(&mut rng);
            let contrib = truth::contributions(&latent, profiles[site].logit_offset);
            let logit = truth::logit(&contrib);
            let malignant = rng.random::<f64>() < truth::sigmoid(logit);
            let mut has = [
                rng.random::<f64>() >= IMAGE_MISSING_RATE,
                rng.random::<f64>() >= CLINICAL_MISSING_RATE,
                rng.random::<f64>() >= TEXT_MISSING_RATE,
                rng.random::<f64>() >= profiles[site].omics_missing_rate,
            ];
            if !has.iter().any(|h| *h) {
                has[0] = true;
            }
            plans.push(Plan {
                case_id: format!("case_{:04}", index + 1),
                site,
                seed: seed ^ 0xA5A5_A5A5,
                latent,
                contrib,
                logit,
                malignant,
                has,
                split: if test { "test" } else { "train" }.into(),
            });
            index += 1;
        }
    }
    plans
}

/// Generates the cohort into `out` (created; must be empty if it exists). `on_patient_done` is
/// called once per finished patient, from worker threads, for progress reporting.
pub fn generate(
    config: &SynthConfig,
    out: &Path,
    on_patient_done: &(dyn Fn() + Sync),
) -> Result<SynthSummary, SynthError> {
    validate(config)?;
    if out.exists() {
        let mut entries = std::fs::read_dir(out).map_err(io_err(out))?;
        if entries.next().is_some() {
            return Err(SynthError::NotEmpty(out.to_path_buf()));
        }
    }
    std::fs::create_dir_all(out).map_err(io_err(out))?;
    let profiles = site_profiles(config.sites);
    let plans = plan(config, &profiles);
    let mut cohort_rng = ChaCha8Rng::seed_from_u64(config.seed ^ 0x0_111C5);
    let baselines = omics::gene_baselines(&mut cohort_rng);
    let batches: Vec<Vec<f64>> = profiles
        .iter()
        .map(|_| omics::site_batch(&mut cohort_rng))
        .collect();

    let results: Vec<Result<PatientOutput, SynthError>> = plans
        .par_iter()
        .map(|p| {
            let r = write_patient(
                config,
                &profiles[p.site],
                p,
                out,
                &baselines,
                &batches[p.site],
            );
            on_patient_done();
            r
        })
        .collect();
    let mut rows = Vec::with_capacity(results.len());
    let mut expression: Vec<(String, Vec<f64>)> = Vec::new();
    let mut dicom_files = 0;
    for r in results {
        let PatientOutput {
            row,
            omics: omics_values,
            dicom_files: n_dicom,
        } = r?;
        dicom_files += n_dicom;
        if let Some(v) = omics_values {
            expression.push((row.case_id.clone(), v));
        }
        rows.push(row);
    }
    write_tables(out, &rows, &expression)?;
    write_manifest(out, config, &profiles)?;
    Ok(SynthSummary {
        out: out.to_path_buf(),
        patients: rows.len(),
        malignant: rows.iter().filter(|r| r.malignant == 1).count(),
        sites: profiles.iter().map(|p| p.id.clone()).collect(),
        dicom_files,
    })
}

/// What writing one patient produced.
struct PatientOutput {
    row: TruthRow,
    omics: Option<Vec<f64>>,
    dicom_files: usize,
}

/// The rendered image and masks of one patient.
struct Rendered {
    volume: Volume<f32>,
    lesion: LabelMap,
    kidney: LabelMap,
}

/// The site's CT grid for `config`: `matrix`² pixels over the site's field of view, slices of
/// its thickness over `z_extent_mm`, centred on the origin.
fn site_grid(config: &SynthConfig, site: &SiteProfile) -> Result<Geometry, SynthError> {
    let n = config.matrix;
    let px = site.fov_mm / n as f64;
    let thk = site.slice_thickness_mm;
    let nz = ((config.z_extent_mm / thk).round() as usize).max(1);
    let origin = [
        -site.fov_mm / 2.0 + px / 2.0,
        -site.fov_mm / 2.0 + px / 2.0,
        -((nz - 1) as f64) * thk / 2.0,
    ];
    Geometry::new([n, n, nz], [px, px, thk], origin, Direction::identity())
        .map_err(|e| SynthError::Config(e.to_string()))
}

/// Voxel index ranges `[x, y, z]` of a region of a grid.
type Region = [std::ops::Range<usize>; 3];

/// Renders the voxels of `region` of the site's `grid`: HU (partial-volume averaging across
/// the slice, the kernel's in-plane blur, blurred noise of the site's level, the site's
/// calibration offset when `with_offset`), and the lesion and kidney masks, `[z, y, x]` order.
/// Each slice's noise comes from its own stream (slice index `k` of the whole grid), so the
/// whole grid renders the same on any thread count; a smaller region has its own noise
/// draws, and blur and noise level are taken over the region's slice.
fn render_region(
    grid: &Geometry,
    region: &Region,
    site: &SiteProfile,
    phantom: &phantom::Phantom,
    seed: u64,
    with_offset: bool,
) -> (Vec<f32>, Vec<u16>, Vec<u16>) {
    let [xs, ys, zs] = region;
    let (nx, ny) = (xs.len(), ys.len());
    let px = grid.spacing_mm[0];
    let thk = grid.spacing_mm[2];
    let slice_len = nx * ny;
    let mut hu = vec![0f32; slice_len * zs.len()];
    let mut lesion = vec![0u16; slice_len * zs.len()];
    let mut kidney = vec![0u16; slice_len * zs.len()];
    let offset = if with_offset { site.hu_offset } else { 0.0 };
    hu.par_chunks_mut(slice_len)
        .zip(lesion.par_chunks_mut(slice_len))
        .zip(kidney.par_chunks_mut(slice_len))
        .zip(zs.clone().into_par_iter())
        .for_each(|(((hs, ls), ks), k)| {
            let mut rng = ChaCha8Rng::seed_from_u64(patient_seed(seed, k + 1));
            for (j, y) in ys.clone().enumerate() {
                for (i, x) in xs.clone().enumerate() {
                    let c = grid.index_to_physical([x as f64, y as f64, k as f64]);
                    // Partial-volume averaging across the slice thickness.
                    let sum: f64 = [-1.0 / 3.0, 0.0, 1.0 / 3.0]
                        .iter()
                        .map(|dz| phantom.hu([c[0], c[1], c[2] + dz * thk]))
                        .sum();
                    hs[j * nx + i] = (sum / 3.0) as f32;
                    if phantom.lesion.contains(c) {
                        ls[j * nx + i] = 1;
                    } else if phantom.in_kidney(c) {
                        ks[j * nx + i] = 1;
                    }
                }
            }
            phantom::gaussian_blur_2d(hs, nx, ny, site.blur_sigma_mm / px);
            let normal = Normal::new(0.0, 1.0).expect("unit normal");
            let mut noise: Vec<f32> = (0..slice_len)
                .map(|_| normal.sample(&mut rng) as f32)
                .collect();
            phantom::gaussian_blur_2d(&mut noise, nx, ny, 0.7);
            let var = noise.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / slice_len as f64;
            let scale = (site.noise_hu / var.sqrt().max(1e-9)) as f32;
            for (h, z) in hs.iter_mut().zip(noise) {
                *h += z * scale + offset as f32;
            }
        });
    (hu, lesion, kidney)
}

fn render(
    config: &SynthConfig,
    site: &SiteProfile,
    phantom: &phantom::Phantom,
    seed: u64,
) -> Result<Rendered, SynthError> {
    let geometry = site_grid(config, site)?;
    let [nx, ny, nz] = geometry.size;
    let (hu, lesion, kidney) =
        render_region(&geometry, &[0..nx, 0..ny, 0..nz], site, phantom, seed, true);
    Ok(Rendered {
        volume: volume_on(&geometry, hu)?,
        lesion: labels_on(&geometry, lesion)?,
        kidney: labels_on(&geometry, kidney)?,
    })
}

/// The CT around one lesion as a site's scanner would show it: a new phantom for `latent`
/// (drawn from `rng`), rendered exactly as [`generate`] renders a patient's CT (same grid,
/// partial volume, blur and noise) but only over the lesion's bounding sphere and a margin of
/// three voxels in-plane and one slice, and without the site's calibration offset (a reader
/// that knows the scanner removes it). Returns the HU region and the lesion mask on the
/// region's grid. Why: the generator's reference for the modality shares can then credit the
/// image with what its CT shows, not with the latent factors themselves
/// ([`oracle::modality_shares_reading_ct`]).
pub fn render_lesion(
    latent: &truth::Latent,
    config: &SynthConfig,
    site: &SiteProfile,
    rng: &mut impl Rng,
) -> Result<(Volume<f32>, LabelMap), SynthError> {
    let ph = phantom::Phantom::new(latent, config.z_extent_mm / 2.0, rng);
    let grid = site_grid(config, site)?;
    let reach = ph.lesion.bounding_radius_mm();
    let c = ph.lesion.center_mm;
    let margin = [3.0, 3.0, 1.0];
    let region: Region = std::array::from_fn(|a| {
        let to_index = |mm: f64| (mm - grid.origin_mm[a]) / grid.spacing_mm[a];
        let lo = (to_index(c[a] - reach) - margin[a]).floor().max(0.0) as usize;
        let hi = ((to_index(c[a] + reach) + margin[a]).ceil() as usize + 1).min(grid.size[a]);
        lo.min(hi)..hi
    });
    let seed = rng.random::<u64>();
    let (hu, lesion, _) = render_region(&grid, &region, site, &ph, seed, false);
    let origin = grid.index_to_physical(region.clone().map(|r| r.start as f64));
    let size = region.clone().map(|r| r.len());
    let sub = Geometry::new(size, grid.spacing_mm, origin, grid.direction)
        .map_err(|e| SynthError::Config(e.to_string()))?;
    Ok((volume_on(&sub, hu)?, labels_on(&sub, lesion)?))
}

/// `[z, y, x]` voxels of a grid's size as an array of that shape.
fn array_on<T>(grid: &Geometry, data: Vec<T>) -> Result<Array3<T>, SynthError> {
    let [nx, ny, nz] = grid.size;
    Array3::from_shape_vec((nz, ny, nx), data).map_err(|e| SynthError::Config(e.to_string()))
}

fn volume_on(grid: &Geometry, hu: Vec<f32>) -> Result<Volume<f32>, SynthError> {
    Volume::new(array_on(grid, hu)?, grid.clone()).map_err(|e| SynthError::Config(e.to_string()))
}

fn labels_on(grid: &Geometry, labels: Vec<u16>) -> Result<LabelMap, SynthError> {
    LabelMap::new(array_on(grid, labels)?, grid.clone())
        .map_err(|e| SynthError::Config(e.to_string()))
}

fn write_patient(
    config: &SynthConfig,
    site: &SiteProfile,
    p: &Plan,
    out: &Path,
    baselines: &[(f64, f64)],
    batch: &[f64],
) -> Result<PatientOutput, SynthError> {
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
    let l = &p.latent;
    let dir = out.join(&site.id).join(&p.case_id);
    std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;

    // Identity and dates (synthetic, but shaped like hospital data so de-identification is tested).
    let given = GIVEN[rng.random_range(0..GIVEN.len())];
    let family = FAMILY[rng.random_range(0..FAMILY.len())];
    let mrn = format!("SYN{:07}", rng.random_range(0..10_000_000u32));
    let fhir_id: String = format!("{:016x}", rng.random::<u64>());
    let study = NaiveDate::from_ymd_opt(2024, 1, 1)
        .and_then(|d| d.checked_add_days(Days::new(rng.random_range(0..700))))
        .ok_or_else(|| SynthError::Config("date arithmetic".into()))?;
    let birth = study
        .checked_sub_months(Months::new(l.age_years as u32 * 12))
        .and_then(|d| d.checked_sub_days(Days::new(rng.random_range(1..300))))
        .ok_or_else(|| SynthError::Config("date arithmetic".into()))?;
    let study_uid = uid(&mut rng);
    let series_uid = uid(&mut rng);
    let for_uid = uid(&mut rng);

    let z_half = config.z_extent_mm / 2.0;
    let ph = phantom::Phantom::new(l, z_half, &mut rng);
    let necrosis = report::shows_necrosis(l);
    let kc = ph.lesion_kidney_center();
    let dz = ph.lesion.center_mm[2] - kc[2];
    let pole = if dz > 15.0 {
        "upper"
    } else if dz < -15.0 {
        "lower"
    } else {
        "interpolar"
    };
    let reading = report::read_lesion(l, necrosis, &mut rng);

    let mut n_dicom = 0;
    let mut lesion_volume_ml = f64::NAN;
    if p.has[0] {
        let r = render(config, site, &ph, p.seed)?;
        lesion_volume_ml = r.lesion.volume_mm3(1) / 1000.0;
        let nz = r.volume.size()[2];
        let sop_uids: Vec<String> = (0..nz).map(|_| uid(&mut rng)).collect();
        let meta = CtSeriesMeta {
            patient_name: format!("{}^{}", family.to_uppercase(), given.to_uppercase()),
            patient_id: mrn.clone(),
            patient_birth_date: Some(birth.format("%Y%m%d").to_string()),
            patient_sex: Some(if l.male { "M" } else { "F" }.into()),
            patient_age: Some(format!("{:03}Y", l.age_years as u32)),
            study_instance_uid: study_uid.clone(),
            series_instance_uid: series_uid,
            frame_of_reference_uid: for_uid,
            study_date: study.format("%Y%m%d").to_string(),
            study_time: format!(
                "{:02}{:02}00",
                rng.random_range(7..18),
                rng.random_range(0..60)
            ),
            accession_number: format!("ACC{:08}", rng.random_range(0..100_000_000u32)),
            study_description: "CT ABDOMEN WITH CONTRAST".into(),
            series_description: format!(
                "Abdomen PV {} mm {}",
                site.slice_thickness_mm, site.convolution_kernel
            ),
            series_number: 3,
            institution_name: site.institution.clone(),
            manufacturer: site.manufacturer.clone(),
            manufacturer_model_name: site.model.clone(),
            convolution_kernel: site.convolution_kernel.clone(),
            kvp: 120.0,
            slice_thickness_mm: site.slice_thickness_mm,
            window_center: 40.0,
            window_width: 400.0,
            encoding: site.encoding,
        };
        n_dicom = write_ct_series(&dir.join("ct"), &r.volume, &meta, &sop_uids)?.len();
        for (name, mask) in [
            ("lesion_mask.nii.gz", &r.lesion),
            ("kidney_mask.nii.gz", &r.kidney),
        ] {
            let path = dir.join(name);
            oncolens_nifti::write_label_map(&path, mask).map_err(|e| SynthError::Nifti {
                path: path.clone(),
                message: e.to_string(),
            })?;
        }
    }
    if p.has[1] {
        let inputs = fhir::BundleInputs {
            patient_resource_id: &fhir_id,
            mrn: &mrn,
            family,
            given,
            birth_date: &birth.format("%Y-%m-%d").to_string(),
            study_date: &study.format("%Y-%m-%d").to_string(),
            study_uid: &study_uid,
            n_slices: p.has[0].then_some(n_dicom),
            has_ldh: rng.random::<f64>() >= LDH_MISSING_RATE,
            weight_kg: (if l.male { 84.0 } else { 70.0 })
                + 12.0 * Normal::new(0.0, 1.0).expect("unit normal").sample(&mut rng),
        };
        let bundle = fhir::bundle(l, &inputs);
        let text = serde_json::to_string_pretty(&bundle)
            .map_err(|e| SynthError::Config(format!("FHIR serialisation: {e}")))?;
        let path = dir.join("fhir.json");
        oncolens_core::fs::write_atomic(&path, text.as_bytes()).map_err(io_err(&path))?;
    }
    if p.has[2] {
        let text = report::render(
            &reading,
            l,
            pole,
            &format!("{given} {family}"),
            &mrn,
            &study.format("%Y-%m-%d").to_string(),
            site.slice_thickness_mm,
            &mut rng,
        );
        let path = dir.join("report.txt");
        oncolens_core::fs::write_atomic(&path, text.as_bytes()).map_err(io_err(&path))?;
    }
    let omics_values = p.has[3].then(|| {
        let factors = [
            ("size", p.contrib.size / truth::COEFFICIENTS.size),
            (
                "irregularity",
                p.contrib.irregularity / truth::COEFFICIENTS.irregularity,
            ),
            (
                "heterogeneity",
                p.contrib.heterogeneity / truth::COEFFICIENTS.heterogeneity,
            ),
            (
                "enhancement",
                p.contrib.enhancement / truth::COEFFICIENTS.enhancement,
            ),
        ];
        omics::profile(&factors, baselines, batch, &mut rng)
    });
    let c = &p.contrib;
    let row = TruthRow {
        case_id: p.case_id.clone(),
        site: site.id.clone(),
        split: p.split.clone(),
        malignant: u8::from(p.malignant),
        p_malignant: truth::sigmoid(p.logit),
        logit: p.logit,
        contrib_size: c.size,
        contrib_irregularity: c.irregularity,
        contrib_heterogeneity: c.heterogeneity,
        contrib_enhancement: c.enhancement,
        contrib_age: c.age,
        contrib_ldh: c.ldh,
        contrib_site: c.site,
        diameter_mm: l.diameter_mm,
        irregularity: l.irregularity,
        heterogeneity: l.heterogeneity,
        enhancement_hu: l.enhancement_hu,
        age_years: l.age_years,
        sex: if l.male { "male" } else { "female" }.into(),
        ldh_u_per_l: l.ldh_u_per_l,
        hemoglobin_g_per_dl: l.hemoglobin_g_per_dl,
        creatinine_mg_per_dl: l.creatinine_mg_per_dl,
        lesion_side: if l.right_kidney { "right" } else { "left" }.into(),
        lesion_center_x_mm: ph.lesion.center_mm[0],
        lesion_center_y_mm: ph.lesion.center_mm[1],
        lesion_center_z_mm: ph.lesion.center_mm[2],
        lesion_volume_ml,
        report_impression: reading.impression.into(),
        has_image: u8::from(p.has[0]),
        has_clinical: u8::from(p.has[1]),
        has_text: u8::from(p.has[2]),
        has_omics: u8::from(p.has[3]),
    };
    Ok(PatientOutput {
        row,
        omics: omics_values,
        dicom_files: n_dicom,
    })
}

fn write_tables(
    out: &Path,
    rows: &[TruthRow],
    expression: &[(String, Vec<f64>)],
) -> Result<(), SynthError> {
    let csv_err = |path: &Path| {
        let path = path.to_path_buf();
        move |e: csv::Error| SynthError::Io {
            path: path.clone(),
            source: std::io::Error::other(e.to_string()),
        }
    };
    // labels.csv: what a trainer needs.
    let path = out.join("labels.csv");
    let mut buf = Vec::new();
    {
        let mut w = csv::Writer::from_writer(&mut buf);
        w.write_record(["case_id", "site", "malignant", "split"])
            .map_err(csv_err(&path))?;
        for r in rows {
            w.write_record([
                r.case_id.as_str(),
                &r.site,
                &r.malignant.to_string(),
                &r.split,
            ])
            .map_err(csv_err(&path))?;
        }
        w.flush().map_err(io_err(&path))?;
    }
    oncolens_core::fs::write_atomic(&path, &buf).map_err(io_err(&path))?;
    // ground_truth.csv: the generative model's latent values and log-odds contributions.
    let path = out.join("ground_truth.csv");
    let mut buf = Vec::new();
    {
        let mut w = csv::Writer::from_writer(&mut buf);
        for r in rows {
            w.serialize(r).map_err(csv_err(&path))?;
        }
        w.flush().map_err(io_err(&path))?;
    }
    oncolens_core::fs::write_atomic(&path, &buf).map_err(io_err(&path))?;
    // omics/expression.tsv: genes x patients, log2 expression.
    let dir = out.join("omics");
    std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    let path = dir.join("expression.tsv");
    let mut text = String::from("gene");
    for (case, _) in expression {
        text.push('\t');
        text.push_str(case);
    }
    text.push('\n');
    for (g, gene) in omics::genes().iter().enumerate() {
        text.push_str(gene);
        for (_, values) in expression {
            text.push_str(&format!("\t{:.4}", values[g]));
        }
        text.push('\n');
    }
    oncolens_core::fs::write_atomic(&path, text.as_bytes()).map_err(io_err(&path))?;
    Ok(())
}

#[derive(Serialize)]
struct Manifest<'a> {
    generator: &'static str,
    version: &'static str,
    config: &'a SynthConfig,
    sites: &'a [SiteProfile],
    coefficients: truth::Coefficients,
    gene_links: &'static [omics::GeneLink],
    missing_rates: serde_json::Value,
    layout: serde_json::Value,
}

fn write_manifest(
    out: &Path,
    config: &SynthConfig,
    profiles: &[SiteProfile],
) -> Result<(), SynthError> {
    let manifest = Manifest {
        generator: "oncolens-synth",
        version: env!("CARGO_PKG_VERSION"),
        config,
        sites: profiles,
        coefficients: truth::COEFFICIENTS,
        gene_links: omics::LINKS,
        missing_rates: serde_json::json!({
            "image": IMAGE_MISSING_RATE,
            "clinical": CLINICAL_MISSING_RATE,
            "text": TEXT_MISSING_RATE,
            "ldh_within_clinical": LDH_MISSING_RATE,
            "omics": profiles.iter().map(|p| (p.id.clone(), p.omics_missing_rate)).collect::<std::collections::BTreeMap<_, _>>(),
        }),
        layout: serde_json::json!({
            "case_dir": "<site>/<case_id>/",
            "image": "ct/IM*.dcm (one CT slice per file)",
            "lesion_mask": "lesion_mask.nii.gz (1 = lesion)",
            "kidney_mask": "kidney_mask.nii.gz (1 = kidney parenchyma and sinus, lesion excluded)",
            "clinical": "fhir.json (FHIR R4 Bundle)",
            "text": "report.txt (radiology report, UTF-8)",
            "omics": "omics/expression.tsv (genes x cases, log2)",
            "labels": "labels.csv (case_id, site, malignant, split)",
            "ground_truth": "ground_truth.csv",
        }),
    };
    let path = out.join("cohort.json");
    let text = serde_json::to_string_pretty(&manifest)
        .map_err(|e| SynthError::Config(format!("manifest: {e}")))?;
    oncolens_core::fs::write_atomic(&path, text.as_bytes()).map_err(io_err(&path))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lesion's neighbourhood rendered alone is the cohort's own rendering of it: the same
    /// grid, the whole lesion inside the region, the same mask voxel for voxel, and HU that
    /// differ only by their noise draw (and the calibration offset, removed).
    #[test]
    fn lesion_region_matches_the_whole_render() {
        let config = SynthConfig::default();
        for (i, site) in site_profiles(3).iter().enumerate() {
            let mut rng = ChaCha8Rng::seed_from_u64(40 + i as u64);
            let latent = truth::draw_latent(&mut rng);
            let mut twin = rng.clone();
            let (ct, mask) = render_lesion(&latent, &config, site, &mut rng).unwrap();
            let ph = phantom::Phantom::new(&latent, config.z_extent_mm / 2.0, &mut twin);
            let whole = render(&config, site, &ph, 1).unwrap();
            let g = mask.geometry();
            let start = whole
                .lesion
                .geometry()
                .physical_to_index(g.origin_mm)
                .map(|v| v.round() as usize);
            let [nx, ny, nz] = g.size;
            let (mut inside, mut sum_region, mut sum_whole) = (0usize, 0.0, 0.0);
            for k in 0..nz {
                for j in 0..ny {
                    for ii in 0..nx {
                        let w = [k + start[2], j + start[1], ii + start[0]];
                        assert_eq!(mask.data()[[k, j, ii]], whole.lesion.data()[w]);
                        if mask.data()[[k, j, ii]] == 1 {
                            inside += 1;
                            sum_region += f64::from(ct.data()[[k, j, ii]]);
                            sum_whole += f64::from(whole.volume.data()[w]) - site.hu_offset;
                        }
                    }
                }
            }
            let total = whole.lesion.data().iter().filter(|&&l| l == 1).count();
            assert!(
                inside > 20 && inside == total,
                "{inside} of {total} lesion voxels"
            );
            let (a, b) = (sum_region / inside as f64, sum_whole / inside as f64);
            // Means of `inside` noisy voxels: well within 4 noise standard errors.
            let tol = 4.0 * site.noise_hu * 2.0 / (inside as f64).sqrt() + 1.0;
            assert!((a - b).abs() < tol, "site {}: {a} vs {b}", site.id);
        }
    }

    #[test]
    fn site_sizes_sum_to_patients_and_are_unequal() {
        let s = site_sizes(60, 3);
        assert_eq!(s.iter().sum::<usize>(), 60);
        assert!(s[0] > s[2]);
        assert_eq!(site_sizes(3, 3), vec![1, 1, 1]);
    }

    #[test]
    fn plans_are_reproducible_and_have_a_test_split() {
        let config = SynthConfig {
            patients: 20,
            sites: 2,
            ..SynthConfig::default()
        };
        let profiles = site_profiles(2);
        let a = plan(&config, &profiles);
        let b = plan(&config, &profiles);
        assert_eq!(a.len(), 20);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.malignant, y.malignant);
            assert_eq!(x.latent.diameter_mm, y.latent.diameter_mm);
            assert_eq!(x.split, y.split);
        }
        assert!(a.iter().any(|p| p.split == "test"));
        assert!(a.iter().all(|p| p.has.iter().any(|h| *h)));
    }

    #[test]
    fn uids_are_valid() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..100 {
            let u = uid(&mut rng);
            assert!(u.len() <= 64);
            assert!(u.starts_with("2.25."));
            assert!(!u[5..].starts_with('0'));
        }
    }
}
