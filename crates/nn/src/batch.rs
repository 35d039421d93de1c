//! Host-side samples and their collation into device tensors.

use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::{ModelConfig, NnError};

/// One patient's model inputs, prepared on the host (see `oncolens-train` for how each is made).
/// A missing modality is `None`; the model then sees zeros and a 0 in the presence mask.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Sample {
    /// Image crop, `in_channels * side^3` values (channel, z, y, x order): the CT crop, then the
    /// lesion mask on the same grid when the model takes two channels.
    pub image: Option<Vec<f32>>,
    /// Standardised clinical values followed by missing indicators (`2 * features`).
    pub clinical: Option<Vec<f32>>,
    /// Report token ids (no padding).
    pub tokens: Option<Vec<u32>>,
    /// Standardised expression values, one per gene.
    pub omics: Option<Vec<f32>>,
    /// Standardised radiomic features of the lesion (part of the image modality: used only
    /// with the image, and absent with it). `None` with an image: every feature at its mean.
    pub lesion_features: Option<Vec<f32>>,
    /// 1 = positive class (malignant), 0 = negative; `None` at prediction time.
    pub label: Option<u8>,
}

impl Sample {
    /// Which modalities this sample has, in [`crate::MODALITIES`] order.
    pub fn present(&self) -> [bool; 4] {
        [
            self.image.is_some(),
            self.clinical.is_some(),
            self.tokens.as_ref().is_some_and(|t| !t.is_empty()),
            self.omics.is_some(),
        ]
    }

    /// A copy with the modalities where `keep[i]` is false removed (modality ablation, modality
    /// dropout during training, and Shapley modality shares).
    pub fn with_only(&self, keep: [bool; 4]) -> Sample {
        Sample {
            image: self.image.clone().filter(|_| keep[0]),
            clinical: self.clinical.clone().filter(|_| keep[1]),
            tokens: self.tokens.clone().filter(|_| keep[2]),
            omics: self.omics.clone().filter(|_| keep[3]),
            lesion_features: self.lesion_features.clone().filter(|_| keep[0]),
            label: self.label,
        }
    }
}

/// A batch on a device. Tensors exist only for the modalities the model has.
#[derive(Debug, Clone)]
pub struct Batch {
    pub image: Option<Tensor<5>>,
    pub clinical: Option<Tensor<2>>,
    pub tokens: Option<(Tensor<2, Int>, Tensor<2>)>,
    pub omics: Option<Tensor<2>>,
    /// `[batch, lesion_features]` when the image encoder takes lesion radiomics.
    pub lesion_features: Option<Tensor<2>>,
    /// `[batch, 4]`, 1 where the modality is present and the model has an encoder for it.
    pub present: Tensor<2>,
    /// `[batch]` labels as 0/1 floats, when every sample has one.
    pub labels: Option<Tensor<1>>,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.present.dims()[0]
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The batch repeated `times` times along the batch axis (`times` copies of each sample, the
    /// copies of the whole batch one after another): for many forward passes of variants of one
    /// patient without collating the patient again.
    pub fn repeat(&self, times: usize) -> Batch {
        let rep2 = |t: &Tensor<2>| t.clone().repeat_dim(0, times);
        Batch {
            image: self.image.as_ref().map(|t| t.clone().repeat_dim(0, times)),
            clinical: self.clinical.as_ref().map(rep2),
            tokens: self
                .tokens
                .as_ref()
                .map(|(ids, mask)| (ids.clone().repeat_dim(0, times), rep2(mask))),
            omics: self.omics.as_ref().map(rep2),
            lesion_features: self.lesion_features.as_ref().map(rep2),
            present: rep2(&self.present),
            labels: self.labels.as_ref().map(|t| t.clone().repeat_dim(0, times)),
        }
    }

    /// Collates samples for a model with `config`; `image_side` is the crop edge in voxels.
    pub fn collate(
        samples: &[&Sample],
        config: &ModelConfig,
        image_side: usize,
        device: &Device,
    ) -> Result<Batch, NnError> {
        let b = samples.len();
        if b == 0 {
            return Err(NnError::Batch("empty batch".into()));
        }
        let on = config.modalities.as_array();
        let mut present = Vec::with_capacity(b * 4);
        for s in samples {
            let p = s.present();
            present.extend((0..4).map(|i| if p[i] && on[i] { 1.0f32 } else { 0.0 }));
        }
        let dense = |width: usize,
                     name: &str,
                     get: &dyn Fn(&Sample) -> Option<&Vec<f32>>|
         -> Result<Tensor<2>, NnError> {
            let mut v = Vec::with_capacity(b * width);
            for (k, s) in samples.iter().enumerate() {
                match get(s) {
                    Some(x) if x.len() == width => v.extend_from_slice(x),
                    Some(x) => {
                        return Err(NnError::Batch(format!(
                            "sample {k}: {name} has {} values, the model expects {width}",
                            x.len()
                        )));
                    }
                    None => v.extend(std::iter::repeat_n(0.0, width)),
                }
            }
            Ok(Tensor::from_data(TensorData::new(v, [b, width]), device))
        };
        let image = if on[0] {
            let c = config.image.in_channels;
            let n = c * image_side.pow(3);
            let t = dense(n, "image", &|s| s.image.as_ref())?;
            Some(t.reshape([b, c, image_side, image_side, image_side]))
        } else {
            None
        };
        let lesion_features = if on[0] && config.image.lesion_features > 0 {
            Some(dense(
                config.image.lesion_features,
                "lesion features",
                &|s| s.lesion_features.as_ref().filter(|_| s.image.is_some()),
            )?)
        } else {
            None
        };
        let clinical = if on[1] {
            Some(dense(2 * config.clinical_features, "clinical", &|s| {
                s.clinical.as_ref()
            })?)
        } else {
            None
        };
        let omics = if on[3] {
            Some(dense(config.omics_genes, "omics", &|s| s.omics.as_ref())?)
        } else {
            None
        };
        let tokens = if on[2] {
            let len = samples
                .iter()
                .filter_map(|s| s.tokens.as_ref().map(Vec::len))
                .max()
                .unwrap_or(0)
                .max(1);
            let mut ids = vec![0i64; b * len];
            let mut mask = vec![0f32; b * len];
            for (k, s) in samples.iter().enumerate() {
                for (j, &t) in s.tokens.iter().flatten().enumerate() {
                    if t as usize >= config.text_vocab {
                        return Err(NnError::Batch(format!(
                            "sample {k}: token id {t} outside the vocabulary of {}",
                            config.text_vocab
                        )));
                    }
                    ids[k * len + j] = i64::from(t);
                    mask[k * len + j] = 1.0;
                }
            }
            Some((
                Tensor::<2, Int>::from_data(TensorData::new(ids, [b, len]), device),
                Tensor::from_data(TensorData::new(mask, [b, len]), device),
            ))
        } else {
            None
        };
        let labels = if samples.iter().all(|s| s.label.is_some()) {
            let v: Vec<f32> = samples
                .iter()
                .map(|s| f32::from(s.label.unwrap_or(0).min(1)))
                .collect();
            Some(Tensor::from_data(TensorData::new(v, [b]), device))
        } else {
            None
        };
        Ok(Batch {
            image,
            clinical,
            tokens,
            omics,
            lesion_features,
            present: Tensor::from_data(TensorData::new(present, [b, 4]), device),
            labels,
        })
    }
}
