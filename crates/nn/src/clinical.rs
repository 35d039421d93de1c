//! Clinical encoder: standardised values with one missing-value indicator per feature, so the
//! model can learn that "LDH not measured" differs from "LDH normal".

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// A two-layer perceptron over `[values, missing]` (width `2 * features`).
#[derive(Module, Debug)]
pub struct TabularEncoder {
    hidden: Linear,
    dropout: Dropout,
    out: Linear,
}

impl TabularEncoder {
    pub fn new(
        inputs: usize,
        hidden: usize,
        embed_dim: usize,
        dropout: f64,
        device: &Device,
    ) -> Self {
        Self {
            hidden: LinearConfig::new(inputs, hidden).init(device),
            dropout: DropoutConfig::new(dropout).init(),
            out: LinearConfig::new(hidden, embed_dim).init(device),
        }
    }

    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let h = self.dropout.forward(relu(self.hidden.forward(x)));
        // Linear embedding: a ReLU here can switch the encoder off for every patient (all
        // output units dead) and would clip the sign of the evidence.
        self.out.forward(h)
    }
}
