//! Cohort size and the per-site acquisition profiles that create domain shift.

use oncolens_dicom::write::PixelEncoding;
use serde::Serialize;

/// What to generate.
#[derive(Debug, Clone, Serialize)]
pub struct SynthConfig {
    pub patients: usize,
    pub sites: usize,
    pub seed: u64,
    /// In-plane matrix (rows = columns). 128 keeps the demo fast; 512 is clinical size.
    pub matrix: usize,
    /// Cranio-caudal extent covered by the series, millimetres.
    pub z_extent_mm: f64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            patients: 60,
            sites: 3,
            seed: 7,
            matrix: 128,
            z_extent_mm: 120.0,
        }
    }
}

/// How one site's scanner and population differ from the others.
#[derive(Debug, Clone, Serialize)]
pub struct SiteProfile {
    /// Folder name, e.g. `site_a`.
    pub id: String,
    pub institution: String,
    pub manufacturer: String,
    pub model: String,
    pub convolution_kernel: String,
    /// Standard deviation of image noise, HU.
    pub noise_hu: f64,
    /// Calibration offset added to every voxel, HU.
    pub hu_offset: f64,
    /// Slice thickness = slice spacing, mm.
    pub slice_thickness_mm: f64,
    /// In-plane Gaussian blur of the reconstruction kernel (sigma, mm): smaller is sharper.
    pub blur_sigma_mm: f64,
    /// Reconstruction field of view, mm (sets pixel spacing).
    pub fov_mm: f64,
    /// How HU are stored in the DICOM files.
    #[serde(skip)]
    pub encoding: PixelEncoding,
    /// Shift of the malignancy log-odds (case mix: referral centres see more cancers).
    pub logit_offset: f64,
    /// Probability that a patient of this site has no omics profile.
    pub omics_missing_rate: f64,
}

const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyz";

/// The site profiles for `n` sites. The first three are fixed and deliberately different
/// (sharp/low-noise, standard, soft/noisy thick-slice); further sites interpolate between them.
pub fn site_profiles(n: usize) -> Vec<SiteProfile> {
    let base = [
        SiteProfile {
            id: "site_a".into(),
            institution: "Synthetic University Hospital A".into(),
            manufacturer: "Helix Imaging".into(),
            model: "HX-64".into(),
            convolution_kernel: "B30f".into(),
            noise_hu: 10.0,
            hu_offset: 0.0,
            slice_thickness_mm: 2.5,
            blur_sigma_mm: 0.6,
            fov_mm: 350.0,
            encoding: PixelEncoding::SIGNED_16,
            logit_offset: 0.0,
            omics_missing_rate: 0.15,
        },
        SiteProfile {
            id: "site_b".into(),
            institution: "Synthetic Regional Hospital B".into(),
            manufacturer: "Meridian Medical".into(),
            model: "Aquila 128".into(),
            convolution_kernel: "STANDARD".into(),
            noise_hu: 18.0,
            hu_offset: 12.0,
            slice_thickness_mm: 3.0,
            blur_sigma_mm: 1.0,
            fov_mm: 370.0,
            encoding: PixelEncoding::UNSIGNED_12,
            logit_offset: 0.4,
            omics_missing_rate: 0.25,
        },
        SiteProfile {
            id: "site_c".into(),
            institution: "Synthetic Community Hospital C".into(),
            manufacturer: "Norland Systems".into(),
            model: "Vista 16".into(),
            convolution_kernel: "SOFT".into(),
            noise_hu: 28.0,
            hu_offset: -15.0,
            slice_thickness_mm: 5.0,
            blur_sigma_mm: 1.6,
            fov_mm: 390.0,
            encoding: PixelEncoding::UNSIGNED_12,
            logit_offset: -0.4,
            omics_missing_rate: 0.6,
        },
    ];
    (0..n)
        .map(|i| {
            if i < base.len() {
                return base[i].clone();
            }
            // Deterministic blend of two base profiles for extra sites.
            let a = &base[i % 3];
            let b = &base[(i + 1) % 3];
            let t = ((i * 37) % 10) as f64 / 10.0;
            let mix = |x: f64, y: f64| x + (y - x) * t;
            let letter = LETTERS.get(i).map(|c| *c as char).unwrap_or('z');
            SiteProfile {
                id: format!("site_{letter}"),
                institution: format!("Synthetic Hospital {}", letter.to_ascii_uppercase()),
                manufacturer: a.manufacturer.clone(),
                model: b.model.clone(),
                convolution_kernel: a.convolution_kernel.clone(),
                noise_hu: mix(a.noise_hu, b.noise_hu),
                hu_offset: mix(a.hu_offset, b.hu_offset),
                slice_thickness_mm: if t < 0.5 {
                    a.slice_thickness_mm
                } else {
                    b.slice_thickness_mm
                },
                blur_sigma_mm: mix(a.blur_sigma_mm, b.blur_sigma_mm),
                fov_mm: mix(a.fov_mm, b.fov_mm),
                encoding: a.encoding,
                logit_offset: mix(a.logit_offset, b.logit_offset),
                omics_missing_rate: mix(a.omics_missing_rate, b.omics_missing_rate),
            }
        })
        .collect()
}
