//! Omics encoder: the same tabular perceptron as the clinical encoder, over per-gene z-scores.
//! Expression profiles here are tens to hundreds of genes, so a dense first layer with dropout is
//! the right size; a sparse pathway prior would be the next step for genome-wide tables.

pub use crate::clinical::TabularEncoder as OmicsEncoder;
