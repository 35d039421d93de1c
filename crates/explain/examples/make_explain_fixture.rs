//! Writes the Captum parity fixture's oncolens side into `fixtures/explain/`: a small seeded
//! image-only model (weights as SafeTensors, configuration as JSON) and a fixed 16^3 input
//! (`.npy`). `fixtures/explain/make_fixture.py` loads them into a PyTorch twin and writes
//! Captum's attributions; `tests/captum_parity.rs` compares.
//!
//! `cargo run -p oncolens-explain --example make_explain_fixture [out_dir]`

use std::path::PathBuf;

use anyhow::Result;
use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::Tensor;
use oncolens_nn::{
    Device, FusionKind, ImageEncoderConfig, ImageNorm, ModalitySet, ModelConfig, MultimodalModel,
};

const SIDE: usize = 16;

/// Multiplies every weight matrix and kernel (not the biases) by a gain: the freshly initialised
/// network barely depends on its input (its logit is mostly biases), so the logit differences
/// that occlusion measures would sit at float32's resolution of the logit; with gain 3 they are
/// large and the comparison with Captum meaningful.
struct Gain(f32);

impl ModuleMapper for Gain {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if D >= 2 {
            let g = self.0;
            param.map(|t| t * g)
        } else {
            param
        }
    }
}

fn write_npy(path: &std::path::Path, shape: &[usize], data: &[f32]) -> Result<()> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({},), }}",
        dims.join(", ")
    );
    // Magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of
    // 64 and ended by a newline.
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, bytes)?;
    Ok(())
}

fn main() -> Result<()> {
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("fixtures/explain"));
    std::fs::create_dir_all(&out)?;
    let device = Device::flex();
    device.seed(2024);
    let config = ModelConfig {
        modalities: ModalitySet::only(0),
        // The demo's fusion: with the image alone the gate's weight is exactly 1.
        fusion: FusionKind::GatedAttention,
        embed_dim: 8,
        image: ImageEncoderConfig {
            in_channels: 1,
            stem_channels: 4,
            norm: ImageNorm::None,
            stem_stride: 1,
            block_channels: vec![8, 8],
            lesion_features: 0,
        },
        clinical_features: 0,
        text_vocab: 0,
        text_token_dim: 4,
        omics_genes: 0,
        hidden: 8,
        dropout: 0.0,
        tabular: Default::default(),
        pattern_fusion: false,
    };
    let model = MultimodalModel::new(&config, &device)?.map(&mut Gain(3.0));
    oncolens_nn::store::save_weights(&model, &out.join("weights.safetensors"))?;
    std::fs::write(
        out.join("config.json"),
        serde_json::to_string_pretty(&config)?,
    )?;
    // A bright off-centre ellipsoid (a "lesion") on a textured background, in window units.
    let c = (SIDE as f32 - 1.0) / 2.0;
    let image: Vec<f32> = (0..SIDE.pow(3))
        .map(|i| {
            let (z, y, x) = (
                (i / (SIDE * SIDE)) as f32,
                ((i / SIDE) % SIDE) as f32,
                (i % SIDE) as f32,
            );
            let r2 = ((z - c - 2.0) / 4.0).powi(2)
                + ((y - c + 1.0) / 3.0).powi(2)
                + ((x - c) / 5.0).powi(2);
            let lesion = if r2 < 1.0 { 1.5 * (1.0 - r2) } else { 0.0 };
            let texture = 0.3 * (0.7 * x + 0.3 * y).sin() * (0.5 * z).cos() + 0.1 * (1.3 * y).sin();
            0.2 + lesion + texture
        })
        .collect();
    write_npy(&out.join("input.npy"), &[1, 1, SIDE, SIDE, SIDE], &image)?;
    println!("wrote {}", out.display());
    Ok(())
}
