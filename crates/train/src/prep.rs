//! Preprocessing fitted on training patients: intensity window, clinical feature schema with
//! standardisation, report vocabulary, gene scaling. Saved in the model folder so prediction
//! applies exactly what training saw.

use oncolens_core::{ClinicalRecord, Sex};
use oncolens_nn::Tokenizer;
use oncolens_nn::batch::Sample;
use oncolens_transforms::HuWindow;
use serde::{Deserialize, Serialize};

use crate::cases::{ImageInput, PreparedCase};

/// What one clinical input measures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClinicalSource {
    Age,
    /// 1 for male, 0 for female; other and unknown count as missing.
    SexMale,
    /// A laboratory or vital measurement by LOINC code.
    Marker {
        code: String,
    },
    /// 1 when the record lists this condition or primary site code.
    Condition {
        code: String,
    },
}

/// One standardised clinical input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClinicalFeature {
    /// Readable name for explanations (`age`, `ldh`, `condition:38341003`).
    pub name: String,
    pub source: ClinicalSource,
    pub mean: f64,
    pub std: f64,
}

impl ClinicalFeature {
    fn raw(&self, r: &ClinicalRecord) -> Option<f64> {
        match &self.source {
            ClinicalSource::Age => r.age_years,
            ClinicalSource::SexMale => match r.sex {
                Some(Sex::Male) => Some(1.0),
                Some(Sex::Female) => Some(0.0),
                _ => None,
            },
            ClinicalSource::Marker { code } => r
                .markers
                .iter()
                .find(|m| m.code.code == *code)
                .map(|m| m.value)
                .filter(|v| v.is_finite()),
            ClinicalSource::Condition { code } => Some(f64::from(u8::from(
                r.conditions.iter().any(|c| c.code == *code)
                    || r.primary_site.as_ref().is_some_and(|c| c.code == *code),
            ))),
        }
    }
}

/// Per-gene standardisation of the expression profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OmicsScaling {
    pub genes: Vec<String>,
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
}

/// Standardisation of the lesion's radiomic features ([`crate::cases::LESION_FEATURES`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LesionScaling {
    pub features: Vec<String>,
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
}

impl LesionScaling {
    /// Fitted on the feature vectors of the training patients that have them; `None` when
    /// none does (no lesion masks): the model then takes no lesion features.
    pub(crate) fn fit<'a>(rows: impl Iterator<Item = &'a Vec<f64>>) -> Option<Self> {
        let rows: Vec<&Vec<f64>> = rows.collect();
        let width = crate::cases::LESION_FEATURES.len();
        if rows.is_empty() || rows.iter().any(|r| r.len() != width) {
            return None;
        }
        let (mean, std) = (0..width)
            .map(|k| mean_std(&rows.iter().map(|r| r[k]).collect::<Vec<_>>()))
            .unzip();
        Some(Self {
            features: crate::cases::LESION_FEATURES.map(String::from).to_vec(),
            mean,
            std,
        })
    }

    fn apply(&self, values: &[f64]) -> Option<Vec<f32>> {
        (values.len() == self.mean.len()).then(|| {
            values
                .iter()
                .zip(self.mean.iter().zip(&self.std))
                .map(|(v, (m, s))| ((v - m) / s).clamp(-6.0, 6.0) as f32)
                .collect()
        })
    }
}

/// Everything fitted on the training patients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocessor {
    pub image_input: ImageInput,
    /// Intensities are mapped through this window to [0, 1].
    pub window: HuWindow,
    /// Whether the lesion mask is a second image channel (when every training image has one).
    #[serde(default)]
    pub mask_channel: bool,
    pub clinical: Vec<ClinicalFeature>,
    pub tokenizer: Option<Tokenizer>,
    pub omics: Option<OmicsScaling>,
    /// Lesion radiomics for the image encoder (absent in models saved before they existed).
    #[serde(default)]
    pub lesion: Option<LesionScaling>,
}

fn mean_std(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 1.0);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let std = var.sqrt();
    (mean, if std > 1e-9 { std } else { 1.0 })
}

/// Smallest share of training records that must carry a measurement or code for it to become
/// an input: rarer ones cannot be learned from and mostly add missing indicators.
pub(crate) const MIN_SHARE: f64 = 0.1;

/// Report vocabulary: tokens in at least this many training reports, at most this many tokens,
/// reports truncated to this many tokens.
pub(crate) const TOKEN_MIN_COUNT: usize = 2;
pub(crate) const TOKEN_MAX_VOCAB: usize = 4000;
pub(crate) const TOKEN_MAX_LEN: usize = 256;

impl Preprocessor {
    /// Fits on `train` cases only.
    pub fn fit(train: &[&PreparedCase], image_input: ImageInput) -> Self {
        // Intensity: CT (values below -500 seen) uses the abdominal HU window; other images
        // (MedMNIST shape masks, MR) the 0.5-99.5 percentile range of the training crops.
        let mut sample_values: Vec<f32> = train
            .iter()
            .filter_map(|c| c.image.as_ref())
            .flat_map(|v| v.iter().step_by(7).copied())
            .filter(|v| v.is_finite())
            .collect();
        let window = if sample_values.iter().any(|v| *v < -500.0) || sample_values.is_empty() {
            HuWindow::ABDOMEN
        } else {
            sample_values.sort_by(f32::total_cmp);
            let q = |p: f64| sample_values[((sample_values.len() - 1) as f64 * p) as usize];
            let (low, high) = (q(0.005), q(0.995));
            HuWindow {
                low_hu: low,
                high_hu: if high > low { high } else { low + 1.0 },
            }
        };

        let with_image: Vec<&&PreparedCase> = train.iter().filter(|c| c.image.is_some()).collect();
        let mask_channel = !with_image.is_empty() && with_image.iter().all(|c| c.lesion.is_some());

        let records: Vec<&ClinicalRecord> =
            train.iter().filter_map(|c| c.clinical.as_ref()).collect();
        let n_rec = records.len().max(1) as f64;
        let mut sources: Vec<(String, ClinicalSource)> = Vec::new();
        if records.iter().any(|r| r.age_years.is_some()) {
            sources.push(("age".into(), ClinicalSource::Age));
        }
        if records
            .iter()
            .any(|r| matches!(r.sex, Some(Sex::Male | Sex::Female)))
        {
            sources.push(("sex_male".into(), ClinicalSource::SexMale));
        }
        let mut marker_codes: Vec<(String, String)> = Vec::new();
        for r in &records {
            for m in &r.markers {
                if !marker_codes.iter().any(|(c, _)| *c == m.code.code) {
                    let name = m.name.clone().unwrap_or_else(|| m.code.code.clone());
                    marker_codes.push((m.code.code.clone(), name));
                }
            }
        }
        marker_codes.sort();
        for (code, name) in marker_codes {
            let share = records
                .iter()
                .filter(|r| r.markers.iter().any(|m| m.code.code == code))
                .count() as f64
                / n_rec;
            if share >= MIN_SHARE {
                sources.push((name, ClinicalSource::Marker { code }));
            }
        }
        let mut condition_codes: Vec<String> = records
            .iter()
            .flat_map(|r| {
                r.conditions
                    .iter()
                    .map(|c| c.code.clone())
                    .chain(r.primary_site.iter().map(|c| c.code.clone()))
            })
            .collect();
        condition_codes.sort();
        condition_codes.dedup();
        for code in condition_codes {
            let f = ClinicalFeature {
                name: String::new(),
                source: ClinicalSource::Condition { code: code.clone() },
                mean: 0.0,
                std: 1.0,
            };
            let share = records.iter().filter_map(|r| f.raw(r)).sum::<f64>() / n_rec;
            // A code every patient has (the primary site of a single-organ cohort) carries
            // nothing; one nobody has neither.
            if (MIN_SHARE..=1.0 - MIN_SHARE).contains(&share) {
                sources.push((
                    format!("condition:{code}"),
                    ClinicalSource::Condition { code },
                ));
            }
        }
        let clinical = sources
            .into_iter()
            .map(|(name, source)| {
                let probe = ClinicalFeature {
                    name: name.clone(),
                    source: source.clone(),
                    mean: 0.0,
                    std: 1.0,
                };
                let values: Vec<f64> = records.iter().filter_map(|r| probe.raw(r)).collect();
                let (mean, std) = mean_std(&values);
                ClinicalFeature {
                    name,
                    source,
                    mean,
                    std,
                }
            })
            .collect();

        let texts: Vec<&str> = train.iter().filter_map(|c| c.report.as_deref()).collect();
        let tokenizer = (!texts.is_empty()).then(|| {
            Tokenizer::fit(
                texts.iter().copied(),
                TOKEN_MIN_COUNT,
                TOKEN_MAX_VOCAB,
                TOKEN_MAX_LEN,
            )
        });

        let omics = train.iter().find_map(|c| c.omics.as_ref()).map(|first| {
            let genes = first.genes.clone();
            let mut mean = Vec::with_capacity(genes.len());
            let mut std = Vec::with_capacity(genes.len());
            for g in 0..genes.len() {
                let v: Vec<f64> = train
                    .iter()
                    .filter_map(|c| c.omics.as_ref())
                    .filter_map(|p| p.values.get(g).copied())
                    .filter(|v| v.is_finite())
                    .collect();
                let (m, s) = mean_std(&v);
                mean.push(m);
                std.push(s);
            }
            OmicsScaling { genes, mean, std }
        });

        let lesion = LesionScaling::fit(
            train
                .iter()
                .filter(|c| c.image.is_some())
                .filter_map(|c| c.lesion_radiomics.as_ref()),
        );

        Self {
            image_input,
            window,
            mask_channel,
            clinical,
            tokenizer,
            omics,
            lesion,
        }
    }

    /// The model-input value of the bottom of the intensity window (air and fat for CT): the
    /// natural "no signal" baseline of Integrated Gradients.
    pub const WINDOW_BOTTOM: f32 = -1.0;

    /// Channels of the image input.
    pub fn image_channels(&self) -> usize {
        if self.mask_channel { 2 } else { 1 }
    }

    pub fn clinical_features(&self) -> usize {
        self.clinical.len()
    }

    pub fn text_vocab(&self) -> usize {
        self.tokenizer.as_ref().map_or(0, Tokenizer::vocab_size)
    }

    /// Lesion radiomic features the image encoder takes (0: none).
    pub fn lesion_features(&self) -> usize {
        self.lesion.as_ref().map_or(0, |l| l.features.len())
    }

    pub fn omics_genes(&self) -> usize {
        self.omics.as_ref().map_or(0, |o| o.genes.len())
    }

    /// The model inputs of one case.
    pub fn sample(&self, case: &PreparedCase) -> Sample {
        let image = case.image.as_ref().map(|v| {
            let mut v = v.clone();
            oncolens_transforms::window_to_unit(&mut v, self.window);
            // Centred on zero: [0, 1] window units become [-1, 1].
            for x in &mut v {
                *x = 2.0 * *x - 1.0;
            }
            if self.mask_channel {
                let n = v.len();
                match &case.lesion {
                    Some(m) => v.extend_from_slice(m),
                    // A case without a mask: an empty second channel.
                    None => v.extend(std::iter::repeat_n(0.0, n)),
                }
            }
            v
        });
        let clinical = case
            .clinical
            .as_ref()
            .filter(|_| !self.clinical.is_empty())
            .map(|r| {
                let n = self.clinical.len();
                let mut x = vec![0.0f32; 2 * n];
                for (i, f) in self.clinical.iter().enumerate() {
                    match f.raw(r) {
                        Some(v) => x[i] = ((v - f.mean) / f.std).clamp(-6.0, 6.0) as f32,
                        None => x[n + i] = 1.0,
                    }
                }
                x
            });
        let tokens = match (&self.tokenizer, &case.report) {
            (Some(t), Some(text)) => Some(t.encode(text)).filter(|ids| !ids.is_empty()),
            _ => None,
        };
        let omics = match (&self.omics, &case.omics) {
            (Some(s), Some(p)) => Some(
                s.genes
                    .iter()
                    .enumerate()
                    .map(|(g, name)| {
                        let idx = if p.genes.get(g) == Some(name) {
                            Some(g)
                        } else {
                            p.genes.iter().position(|x| x == name)
                        };
                        match idx.and_then(|i| p.values.get(i)).filter(|v| v.is_finite()) {
                            Some(v) => ((v - s.mean[g]) / s.std[g]).clamp(-6.0, 6.0) as f32,
                            None => 0.0,
                        }
                    })
                    .collect(),
            ),
            _ => None,
        };
        let lesion_features = match (&image, &self.lesion, &case.lesion_radiomics) {
            (Some(_), Some(s), Some(v)) => s.apply(v),
            _ => None,
        };
        Sample {
            image,
            clinical,
            tokens,
            omics,
            lesion_features,
            label: case.label.map(|l| l.min(1)),
        }
    }
}
