//! Clinical encoder: standardised values with one missing-value indicator per feature, so the
//! model can learn that "LDH not measured" differs from "LDH normal".

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use crate::config::TabularKind;

/// Two layers over `[values, missing]` (width `2 * features`): a perceptron, or with
/// [`TabularKind::Linear`] a linear map through the same hidden width.
#[derive(Module, Debug)]
pub struct TabularEncoder {
    hidden: Linear,
    dropout: Dropout,
    out: Linear,
    /// `false` = [`TabularKind::Linear`] (no ReLU); a constant, not a parameter.
    relu: bool,
}

impl TabularEncoder {
    pub fn new(
        inputs: usize,
        hidden: usize,
        embed_dim: usize,
        dropout: f64,
        kind: TabularKind,
        device: &Device,
    ) -> Self {
        Self {
            hidden: LinearConfig::new(inputs, hidden).init(device),
            dropout: DropoutConfig::new(dropout).init(),
            out: LinearConfig::new(hidden, embed_dim).init(device),
            relu: kind == TabularKind::Mlp,
        }
    }

    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let h = self.hidden.forward(x);
        let h = self.dropout.forward(if self.relu { relu(h) } else { h });
        // Linear embedding: a ReLU here can switch the encoder off for every patient (all
        // output units dead) and would clip the sign of the evidence.
        self.out.forward(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoder(kind: TabularKind) -> TabularEncoder {
        let device = crate::default_device();
        let _rng = crate::rng::SeededRng::acquire(&device, 3);
        TabularEncoder::new(6, 16, 4, 0.0, kind, &device)
    }

    fn embed(enc: &TabularEncoder, x: [f32; 6]) -> Vec<f32> {
        let device = crate::default_device();
        let t = Tensor::<1>::from_floats(x, &device).reshape([1, 6]);
        enc.forward(t).into_data().try_to_vec::<f32>().unwrap()
    }

    /// The linear form is affine in its input (midpoint in, midpoint out); the perceptron, with
    /// the same weights, is not (its ReLU cuts some hidden unit between the two inputs).
    #[test]
    fn linear_form_is_affine_and_the_perceptron_is_not() {
        let (a, b) = (
            [2.0, -1.0, 0.5, 3.0, -2.0, 1.0],
            [-2.0, 1.5, -0.5, -3.0, 2.0, -1.0],
        );
        let mid: [f32; 6] = std::array::from_fn(|i| 0.5 * (a[i] + b[i]));
        let gap = |enc: &TabularEncoder| {
            let (ea, eb, em) = (embed(enc, a), embed(enc, b), embed(enc, mid));
            (0..ea.len())
                .map(|k| (em[k] - 0.5 * (ea[k] + eb[k])).abs())
                .fold(0.0f32, f32::max)
        };
        assert!(gap(&encoder(TabularKind::Linear)) < 1e-5);
        assert!(gap(&encoder(TabularKind::Mlp)) > 1e-3);
    }
}
