//! A model's float parameters as one flat vector, in a fixed traversal order.
//!
//! Federated learning averages models coordinate by coordinate, secure aggregation masks them
//! as one vector, and differential privacy clips the norm of the whole update: all three want
//! the weights flat. The order is burn's module traversal order, which depends only on the
//! model's configuration, so two models built from the same [`crate::ModelConfig`] agree on what
//! coordinate `i` means.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Tensor, TensorData};

use crate::{MultimodalModel, NnError};

struct Flatten {
    out: Vec<f32>,
    shapes: Vec<Vec<usize>>,
    error: Option<String>,
}

impl ModuleVisitor for Flatten {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val();
        self.shapes.push(t.dims().to_vec());
        match t.into_data().convert::<f32>().try_to_vec::<f32>() {
            Ok(v) => self.out.extend(v),
            Err(e) => self.error = Some(format!("{e:?}")),
        }
    }
}

/// All float parameters of `model`, concatenated.
pub fn flatten(model: &MultimodalModel) -> Result<Vec<f32>, NnError> {
    let mut v = Flatten {
        out: Vec::new(),
        shapes: Vec::new(),
        error: None,
    };
    model.visit(&mut v);
    match v.error {
        Some(e) => Err(NnError::Config(format!("cannot read a parameter: {e}"))),
        None => Ok(v.out),
    }
}

/// Number of float parameters (the length of [`flatten`]'s vector).
pub fn count(model: &MultimodalModel) -> usize {
    model.num_params()
}

struct Unflatten<'a> {
    values: &'a [f32],
    offset: usize,
    error: Option<String>,
}

impl ModuleMapper for Unflatten<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let values = self.values;
        let offset = self.offset;
        let mut error = None;
        let mut used = 0;
        let param = param.map(|t| {
            let dims = t.dims();
            let n: usize = dims.iter().product();
            used = n;
            match values.get(offset..offset + n) {
                Some(slice) => {
                    let device = t.device();
                    let replaced = Tensor::<D>::from_data(
                        TensorData::new(slice.to_vec(), dims.to_vec()),
                        &device,
                    );
                    if t.is_require_grad() {
                        replaced.require_grad()
                    } else {
                        replaced
                    }
                }
                None => {
                    error = Some(format!(
                        "the vector has {} values, the model needs more (a parameter of shape \
                         {dims:?} starts at {offset})",
                        values.len()
                    ));
                    t
                }
            }
        });
        self.offset += used;
        if self.error.is_none() {
            self.error = error;
        }
        param
    }
}

/// `model` with its float parameters replaced by `values` (as produced by [`flatten`] on a
/// model of the same configuration). The length must match exactly.
pub fn unflatten(model: MultimodalModel, values: &[f32]) -> Result<MultimodalModel, NnError> {
    let mut m = Unflatten {
        values,
        offset: 0,
        error: None,
    };
    let model = model.map(&mut m);
    if let Some(e) = m.error {
        return Err(NnError::Config(e));
    }
    if m.offset != values.len() {
        return Err(NnError::Config(format!(
            "the vector has {} values but the model has {} parameters",
            values.len(),
            m.offset
        )));
    }
    Ok(model)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{FusionKind, ImageEncoderConfig, ModalitySet, ModelConfig};

    fn config() -> ModelConfig {
        ModelConfig {
            modalities: ModalitySet {
                image: false,
                clinical: true,
                text: true,
                omics: false,
            },
            fusion: FusionKind::GatedAttention,
            embed_dim: 4,
            image: ImageEncoderConfig::default(),
            clinical_features: 3,
            text_vocab: 10,
            text_token_dim: 4,
            omics_genes: 0,
            hidden: 5,
            dropout: 0.0,
            tabular: Default::default(),
            pattern_fusion: false,
        }
    }

    #[test]
    fn round_trip_is_exact_and_order_is_stable() {
        let device = burn::tensor::Device::flex();
        let a = MultimodalModel::new(&config(), &device).unwrap();
        let b = MultimodalModel::new(&config(), &device).unwrap();
        let va = flatten(&a).unwrap();
        let vb = flatten(&b).unwrap();
        assert_eq!(va.len(), count(&a));
        assert_eq!(va.len(), vb.len());
        assert_ne!(va, vb, "two random initialisations should differ");
        // b takes a's weights: both now flatten to the same vector and predict the same.
        let b = unflatten(b, &va).unwrap();
        assert_eq!(flatten(&b).unwrap(), va);
        let shifted: Vec<f32> = va.iter().map(|x| x + 1.0).collect();
        let c = unflatten(b, &shifted).unwrap();
        assert_eq!(flatten(&c).unwrap(), shifted);
    }

    #[test]
    fn wrong_length_is_an_error() {
        let device = burn::tensor::Device::flex();
        let a = MultimodalModel::new(&config(), &device).unwrap();
        let n = count(&a);
        let err = unflatten(a.clone(), &vec![0.0; n - 1]).unwrap_err();
        assert!(err.to_string().contains("the model needs more"), "{err}");
        let err = unflatten(a, &vec![0.0; n + 1]).unwrap_err();
        assert!(err.to_string().contains("parameters"), "{err}");
    }
}
