//! Timing of Integrated Gradients (50 steps), occlusion and Grad-CAM on the demo-size 3D CNN
//! (the demo's 32^3 crop and image encoder, image modality only, seeded random weights), for
//! `bench/explain/run.sh`, which runs Captum on the same weights and input.
//!
//! `cargo run --release -p oncolens-explain --example bench_explain -- [out_dir] [reps]`
//! writes `weights.safetensors`, `config.json`, `input.npy` and the maps (`oncolens.npy`) into
//! `out_dir` (default `target/bench-explain`) and prints one JSON line of median times. The
//! thread count is rayon's (`RAYON_NUM_THREADS`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use oncolens_explain::{IgMethod, grad_cam, integrated_gradients, occlusion};
use oncolens_nn::batch::Sample;
use oncolens_nn::{
    Device, FusionKind, ImageEncoderConfig, ModalitySet, ModelConfig, MultimodalModel,
};

const SIDE: usize = 32;

fn write_npy(path: &Path, shape: &[usize], data: &[f32]) -> Result<()> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({},), }}",
        dims.join(", ")
    );
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

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time<T>(reps: usize, mut f: impl FnMut() -> Result<T>) -> Result<(f64, T)> {
    let mut times = Vec::new();
    let mut last = f()?; // warm-up
    for _ in 0..reps {
        let t = Instant::now();
        last = f()?;
        times.push(t.elapsed().as_secs_f64());
    }
    Ok((median(times), last))
}

fn time_once<T>(f: impl FnOnce() -> Result<T>) -> Result<(f64, T)> {
    let t = Instant::now();
    let out = f()?;
    Ok((t.elapsed().as_secs_f64(), out))
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/bench-explain"));
    let reps: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(3);
    std::fs::create_dir_all(&out)?;
    let device = Device::flex();
    device.seed(7);
    // TrainConfig::default()'s image path: gated fusion, embed 16, hidden 32, stem stride 2,
    // blocks [16, 32, 32], 32^3 crop.
    let config = ModelConfig {
        modalities: ModalitySet::only(0),
        fusion: FusionKind::GatedAttention,
        embed_dim: 16,
        image: ImageEncoderConfig {
            stem_stride: 2,
            ..ImageEncoderConfig::default()
        },
        clinical_features: 0,
        text_vocab: 0,
        text_token_dim: 16,
        omics_genes: 0,
        hidden: 32,
        dropout: 0.2,
        tabular: Default::default(),
        pattern_fusion: false,
    };
    let model = MultimodalModel::new(&config, &device)?;
    oncolens_nn::store::save_weights(&model, &out.join("weights.safetensors"))?;
    std::fs::write(
        out.join("config.json"),
        serde_json::to_string_pretty(&config)?,
    )?;
    let c = (SIDE as f32 - 1.0) / 2.0;
    let image: Vec<f32> = (0..SIDE.pow(3))
        .map(|i| {
            let (z, y, x) = (
                (i / (SIDE * SIDE)) as f32,
                ((i / SIDE) % SIDE) as f32,
                (i % SIDE) as f32,
            );
            let r2 = ((z - c) / 7.0).powi(2) + ((y - c) / 6.0).powi(2) + ((x - c) / 8.0).powi(2);
            let lesion = if r2 < 1.0 { 1.5 * (1.0 - r2) } else { 0.0 };
            0.2 + lesion + 0.3 * (0.7 * x + 0.3 * y).sin() * (0.5 * z).cos()
        })
        .collect();
    write_npy(&out.join("input.npy"), &[1, 1, SIDE, SIDE, SIDE], &image)?;
    let sample = Sample {
        image: Some(image),
        ..Sample::default()
    };
    let (t_ig, ig) = time(reps, || {
        Ok(integrated_gradients(
            &model,
            &config,
            &sample,
            SIDE,
            0.0,
            50,
            IgMethod::GaussLegendre,
            &device,
        )?)
    })?;
    // Occluded copies per forward pass (Captum's perturbations_per_eval): 16, or BENCH_OCC_BATCH.
    let occ_batch: usize = std::env::var("BENCH_OCC_BATCH")
        .ok()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(16);
    // One run of the 3375 forward passes (already amortising any first-call cost).
    let (t_occ, occ) = time_once(|| {
        Ok(occlusion(
            &model, &config, &sample, SIDE, 4, 2, 0.0, occ_batch, &device,
        )?)
    })?;
    let (t_cam, cam) = time(reps, || {
        Ok(grad_cam(&model, &config, &sample, SIDE, Some(1), &device)?)
    })?;
    let mut maps = ig.values.clone();
    maps.extend_from_slice(&occ.values);
    maps.extend_from_slice(&cam.values);
    write_npy(&out.join("oncolens.npy"), &[3, SIDE.pow(3)], &maps)?;
    let threads = rayon::current_num_threads();
    println!(
        "{}",
        serde_json::json!({
            "tool": "oncolens (burn flex CPU)",
            "threads": threads,
            "side": SIDE,
            "logit": ig.logit,
            "ig_50_s": t_ig,
            "occlusion_s": t_occ,
            "occlusion_windows": 15usize.pow(3),
            "grad_cam_s": t_cam,
        })
    );
    Ok(())
}
