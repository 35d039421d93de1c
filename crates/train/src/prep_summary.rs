//! The preprocessor of a federation, fitted from aggregates that leave each station.
//!
//! [`Preprocessor::fit`] needs every training record in one place. In federated learning each
//! station sends a [`PrepSummary`] instead: counts, sums and sums of squares per clinical input
//! and gene, and report-token document frequencies. Summaries add up ([`PrepSummary::merge`]),
//! and [`PrepSummary::preprocessor`] applies the same rules as `fit` to the pooled sums, so the
//! federated preprocessor equals the one fitted on the pooled patients (tested) without any
//! station revealing a patient's values. Tokens and codes a station sees in fewer than
//! `min_cell` records are withheld there (small-cell suppression): rare words in reports are the
//! likeliest to identify someone.

use std::collections::BTreeMap;

use oncolens_core::{ClinicalRecord, Sex};
use oncolens_nn::Tokenizer;
use oncolens_transforms::HuWindow;
use serde::{Deserialize, Serialize};

use crate::cases::{ImageInput, PreparedCase};
use crate::prep::{ClinicalFeature, ClinicalSource, LesionScaling, OmicsScaling, Preprocessor};

/// Count, sum and sum of squares of one quantity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    pub n: u64,
    pub sum: f64,
    pub sum_sq: f64,
}

impl Moments {
    fn add(&mut self, v: f64) {
        self.n += 1;
        self.sum += v;
        self.sum_sq += v * v;
    }

    fn merge(&mut self, o: &Moments) {
        self.n += o.n;
        self.sum += o.sum;
        self.sum_sq += o.sum_sq;
    }

    /// Mean and population standard deviation (1 when degenerate), as `Preprocessor::fit`.
    fn mean_std(&self) -> (f64, f64) {
        if self.n == 0 {
            return (0.0, 1.0);
        }
        let n = self.n as f64;
        let mean = self.sum / n;
        let var = (self.sum_sq / n - mean * mean).max(0.0);
        let std = var.sqrt();
        (mean, if std > 1e-9 { std } else { 1.0 })
    }
}

/// One laboratory marker across a station's records.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MarkerSummary {
    pub name: String,
    /// Records that carry the marker (with a number or not).
    pub records: u64,
    /// The first finite value of each record that has one.
    pub values: Moments,
}

/// What one station contributes to the federation's preprocessor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PrepSummary {
    /// Training patients with an image, and how many of them have a lesion mask.
    pub images: u64,
    pub images_with_mask: u64,
    /// Whether any image looks like CT (values below -500 HU).
    pub ct_like: bool,
    /// Training patients with a clinical record.
    pub records: u64,
    pub age: Moments,
    pub sex_male: Moments,
    /// Marker LOINC code -> our short name, records carrying it, moments of its values.
    pub markers: BTreeMap<String, MarkerSummary>,
    /// Condition / primary-site code -> records carrying it.
    pub conditions: BTreeMap<String, u64>,
    /// Report token -> reports containing it (tokens under the station's cell size withheld).
    pub token_df: BTreeMap<String, u64>,
    pub reports: u64,
    /// Gene names (the first profile's order) and per-gene moments.
    pub genes: Vec<String>,
    pub gene_moments: Vec<Moments>,
    /// Moments of each lesion radiomic feature over the patients with an image that have them.
    #[serde(default)]
    pub lesion_moments: Vec<Moments>,
}

impl PrepSummary {
    /// The summary of one station's training patients; counts below `min_cell` (tokens, codes)
    /// are withheld.
    pub fn of(train: &[&PreparedCase], min_cell: u64) -> Self {
        let mut s = PrepSummary::default();
        for c in train {
            if let Some(img) = &c.image {
                s.images += 1;
                s.images_with_mask += u64::from(c.lesion.is_some());
                s.ct_like |= img.iter().step_by(7).any(|v| *v < -500.0);
            }
        }
        let records: Vec<&ClinicalRecord> =
            train.iter().filter_map(|c| c.clinical.as_ref()).collect();
        s.records = records.len() as u64;
        for r in &records {
            if let Some(a) = r.age_years {
                s.age.add(a);
            }
            match r.sex {
                Some(Sex::Male) => s.sex_male.add(1.0),
                Some(Sex::Female) => s.sex_male.add(0.0),
                _ => {}
            }
            let mut seen: Vec<&str> = Vec::new();
            for m in &r.markers {
                let code = m.code.code.as_str();
                if seen.contains(&code) {
                    continue;
                }
                seen.push(code);
                let e = s
                    .markers
                    .entry(code.to_owned())
                    .or_insert_with(|| MarkerSummary {
                        name: m.name.clone().unwrap_or_else(|| code.to_owned()),
                        ..MarkerSummary::default()
                    });
                e.records += 1;
                if m.value.is_finite() {
                    e.values.add(m.value);
                }
            }
            let mut codes: Vec<&str> = r
                .conditions
                .iter()
                .map(|c| c.code.as_str())
                .chain(r.primary_site.iter().map(|c| c.code.as_str()))
                .collect();
            codes.sort_unstable();
            codes.dedup();
            for code in codes {
                *s.conditions.entry(code.to_owned()).or_default() += 1;
            }
        }
        s.conditions.retain(|_, n| *n >= min_cell);
        let texts: Vec<&str> = train.iter().filter_map(|c| c.report.as_deref()).collect();
        s.reports = texts.len() as u64;
        s.token_df = Tokenizer::document_frequencies(texts.iter().copied())
            .into_iter()
            .map(|(t, n)| (t, n as u64))
            .filter(|(_, n)| *n >= min_cell)
            .collect();
        for row in train
            .iter()
            .filter(|c| c.image.is_some())
            .filter_map(|c| c.lesion_radiomics.as_ref())
            .filter(|r| r.len() == crate::cases::LESION_FEATURES.len())
        {
            s.lesion_moments.resize(row.len(), Moments::default());
            for (m, &v) in s.lesion_moments.iter_mut().zip(row) {
                m.add(v);
            }
        }
        if let Some(first) = train.iter().find_map(|c| c.omics.as_ref()) {
            s.genes = first.genes.clone();
            s.gene_moments = vec![Moments::default(); s.genes.len()];
            for p in train.iter().filter_map(|c| c.omics.as_ref()) {
                for (g, m) in s.gene_moments.iter_mut().enumerate() {
                    if let Some(v) = p.values.get(g).copied().filter(|v| v.is_finite()) {
                        m.add(v);
                    }
                }
            }
        }
        s
    }

    /// Adds another station's summary. Gene panels must agree (same genes, same order) for the
    /// moments to add; a station with another panel is an error the caller reports.
    pub fn merge(&mut self, o: &PrepSummary) -> Result<(), String> {
        self.images += o.images;
        self.images_with_mask += o.images_with_mask;
        self.ct_like |= o.ct_like;
        self.records += o.records;
        self.age.merge(&o.age);
        self.sex_male.merge(&o.sex_male);
        for (code, m) in &o.markers {
            let e = self
                .markers
                .entry(code.clone())
                .or_insert_with(|| MarkerSummary {
                    name: m.name.clone(),
                    ..MarkerSummary::default()
                });
            e.records += m.records;
            e.values.merge(&m.values);
        }
        for (code, n) in &o.conditions {
            *self.conditions.entry(code.clone()).or_default() += n;
        }
        for (t, n) in &o.token_df {
            *self.token_df.entry(t.clone()).or_default() += n;
        }
        self.reports += o.reports;
        if !o.lesion_moments.is_empty() {
            if self.lesion_moments.is_empty() {
                self.lesion_moments = o.lesion_moments.clone();
            } else if self.lesion_moments.len() != o.lesion_moments.len() {
                return Err("stations compute different lesion radiomic features".into());
            } else {
                for (a, b) in self.lesion_moments.iter_mut().zip(&o.lesion_moments) {
                    a.merge(b);
                }
            }
        }
        if !o.genes.is_empty() {
            if self.genes.is_empty() {
                self.genes = o.genes.clone();
                self.gene_moments = o.gene_moments.clone();
            } else if self.genes != o.genes {
                return Err("stations hold different gene panels".into());
            } else {
                for (a, b) in self.gene_moments.iter_mut().zip(&o.gene_moments) {
                    a.merge(b);
                }
            }
        }
        Ok(())
    }

    /// The preprocessor `Preprocessor::fit` would give on the pooled patients (CT intensity
    /// window; non-CT images need percentiles, which do not pool from moments, and use the
    /// full 0-1 range instead).
    pub fn preprocessor(&self, image_input: ImageInput) -> Preprocessor {
        let window = if self.ct_like || self.images == 0 {
            HuWindow::ABDOMEN
        } else {
            HuWindow {
                low_hu: 0.0,
                high_hu: 1.0,
            }
        };
        let mask_channel = self.images > 0 && self.images_with_mask == self.images;
        let n_rec = self.records.max(1) as f64;
        let mut clinical = Vec::new();
        let mut push = |name: String, source: ClinicalSource, m: &Moments| {
            let (mean, std) = m.mean_std();
            clinical.push(ClinicalFeature {
                name,
                source,
                mean,
                std,
            });
        };
        if self.age.n > 0 {
            push("age".into(), ClinicalSource::Age, &self.age);
        }
        if self.sex_male.n > 0 {
            push("sex_male".into(), ClinicalSource::SexMale, &self.sex_male);
        }
        for (code, m) in &self.markers {
            if m.records as f64 / n_rec >= crate::prep::MIN_SHARE {
                push(
                    m.name.clone(),
                    ClinicalSource::Marker { code: code.clone() },
                    &m.values,
                );
            }
        }
        for (code, &n) in &self.conditions {
            let share = n as f64 / n_rec;
            if (crate::prep::MIN_SHARE..=1.0 - crate::prep::MIN_SHARE).contains(&share) {
                // A 0/1 indicator over every record: n ones among `records` values.
                let m = Moments {
                    n: self.records,
                    sum: n as f64,
                    sum_sq: n as f64,
                };
                push(
                    format!("condition:{code}"),
                    ClinicalSource::Condition { code: code.clone() },
                    &m,
                );
            }
        }
        let tokenizer = (self.reports > 0).then(|| {
            Tokenizer::from_document_frequencies(
                self.token_df.iter().map(|(t, n)| (t.clone(), *n as usize)),
                crate::prep::TOKEN_MIN_COUNT,
                crate::prep::TOKEN_MAX_VOCAB,
                crate::prep::TOKEN_MAX_LEN,
            )
        });
        let omics = (!self.genes.is_empty()).then(|| {
            let (mean, std) = self.gene_moments.iter().map(Moments::mean_std).unzip();
            OmicsScaling {
                genes: self.genes.clone(),
                mean,
                std,
            }
        });
        let lesion = (!self.lesion_moments.is_empty()).then(|| {
            let (mean, std) = self.lesion_moments.iter().map(Moments::mean_std).unzip();
            LesionScaling {
                features: crate::cases::LESION_FEATURES.map(String::from).to_vec(),
                mean,
                std,
            }
        });
        Preprocessor {
            image_input,
            window,
            mask_channel,
            clinical,
            tokenizer,
            omics,
            lesion,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(i: usize, lesion: Option<Vec<f64>>, image: bool) -> PreparedCase {
        PreparedCase {
            id: format!("c{i}"),
            site: "s".into(),
            label: Some((i % 2) as u8),
            split: None,
            dir: Default::default(),
            image: image.then(|| vec![-1000.0, 40.0]),
            lesion: None,
            crop: None,
            lesion_radiomics: lesion,
            clinical: None,
            report: None,
            omics: None,
        }
    }

    /// Lesion radiomics pooled from two stations' moments standardise exactly as a fit on the
    /// pooled patients; a patient without an image does not count.
    #[test]
    fn lesion_scaling_from_summaries_equals_the_pooled_fit() {
        let a: Vec<PreparedCase> = (0..7)
            .map(|i| {
                case(
                    i,
                    Some(vec![8.0 + i as f64 * 0.3, 0.7, 60.0 + i as f64, 12.0]),
                    true,
                )
            })
            .collect();
        let mut b: Vec<PreparedCase> = (0..5)
            .map(|i| {
                case(
                    i,
                    Some(vec![9.5 - i as f64 * 0.2, 0.9, 90.0, 20.0 + i as f64]),
                    true,
                )
            })
            .collect();
        b.push(case(9, Some(vec![100.0; 4]), false));
        let refs_a: Vec<&PreparedCase> = a.iter().collect();
        let refs_b: Vec<&PreparedCase> = b.iter().collect();
        let mut pooled = PrepSummary::of(&refs_a, 1);
        pooled.merge(&PrepSummary::of(&refs_b, 1)).unwrap();
        let fed = pooled
            .preprocessor(ImageInput::DEFAULT_CROP)
            .lesion
            .unwrap();
        let all: Vec<&PreparedCase> = a.iter().chain(&b).collect();
        let fit = Preprocessor::fit(&all, ImageInput::DEFAULT_CROP)
            .lesion
            .unwrap();
        assert_eq!(fed.features, fit.features);
        for k in 0..4 {
            assert!((fed.mean[k] - fit.mean[k]).abs() < 1e-9, "{fed:?} {fit:?}");
            assert!((fed.std[k] - fit.std[k]).abs() < 1e-9, "{fed:?} {fit:?}");
        }
        // A station that computes another feature list cannot merge.
        let mut odd = PrepSummary::of(&refs_a, 1);
        odd.lesion_moments.pop();
        assert!(pooled.merge(&odd).is_err());
    }
}
