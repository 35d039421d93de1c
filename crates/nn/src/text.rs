//! Report-text encoder: learned token embeddings (no downloaded weights) pooled over the report
//! by a masked mean and a masked max, then projected. Word and word-pair tokens (see
//! [`crate::tokenizer`]) give it phrases such as "no necrosis" without a recurrent network.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::{Device, Int, Tensor};

#[derive(Module, Debug)]
pub struct TextEncoder {
    embedding: Embedding,
    dropout: Dropout,
    project: Linear,
}

impl TextEncoder {
    pub fn new(
        vocab: usize,
        token_dim: usize,
        embed_dim: usize,
        dropout: f64,
        device: &Device,
    ) -> Self {
        Self {
            embedding: EmbeddingConfig::new(vocab, token_dim).init(device),
            dropout: DropoutConfig::new(dropout).init(),
            project: LinearConfig::new(2 * token_dim, embed_dim).init(device),
        }
    }

    /// `tokens`: `[batch, length]` ids (0 = padding); `mask`: `[batch, length]`, 1 for real tokens.
    pub fn forward(&self, tokens: Tensor<2, Int>, mask: Tensor<2>) -> Tensor<2> {
        let e = self.embedding.forward(tokens); // [b, l, d]
        let m: Tensor<3> = mask.unsqueeze_dim(2); // [b, l, 1]
        let count = m.clone().sum_dim(1).clamp_min(1.0); // [b, 1, 1]
        let mean = (e.clone() * m.clone()).sum_dim(1) / count; // [b, 1, d]
        // Padding positions get a large negative value before the max; an empty report (all
        // padding) gives 0 after the clamp below rather than -inf.
        let neg = (m.clone().neg() + 1.0) * 1.0e4;
        let max = (e - neg).max_dim(1).clamp_min(-1.0e3) * m.max_dim(1);
        let pooled: Tensor<2> = Tensor::cat(vec![mean, max], 2).flatten(1, 2);
        // Linear embedding (see TabularEncoder::forward).
        self.project.forward(self.dropout.forward(pooled))
    }
}
