//! The 3D CNN of `bench/train`: oncolens' image encoder plus a linear head, trained with AdamW
//! on random crops; prints JSON with the median time per training step, per inference batch,
//! and the peak resident memory. `bench/train/torch_cnn.py` runs the same network in PyTorch.
//!
//! Usage: bench_cnn [--batch 8] [--side 32] [--steps 20] [--stem-stride 1]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Distribution, Tensor, TensorData};
use oncolens_nn::fusion::weighted_bce_with_logits;
use oncolens_nn::image::ImageEncoder;
use oncolens_nn::{Device, ImageEncoderConfig};

#[derive(Module, Debug)]
struct Net {
    encoder: ImageEncoder,
    head: Linear,
}

impl Net {
    fn forward(&self, x: Tensor<5>) -> Tensor<1> {
        self.head.forward(self.encoder.forward(x)).flatten(0, 1)
    }
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn main() {
    let batch = arg("--batch", 8);
    let side = arg("--side", 32);
    let steps = arg("--steps", 20);
    let stem_stride = arg("--stem-stride", 1);
    let base = oncolens_nn::default_device();
    let device: Device = base.clone().autodiff();
    device.seed(1);
    let cfg = ImageEncoderConfig {
        stem_stride,
        ..ImageEncoderConfig::default()
    };
    let mut net = Net {
        encoder: ImageEncoder::new(&cfg, 16, &device),
        head: LinearConfig::new(16, 1).init(&device),
    };
    let mut optim = AdamWConfig::new().with_weight_decay(1e-3).init();
    let x = Tensor::<5>::random([batch, 1, side, side, side], Distribution::Default, &device);
    let labels: Vec<f32> = (0..batch).map(|i| (i % 2) as f32).collect();
    let y = Tensor::<1>::from_data(TensorData::new(labels, [batch]), &device);
    let mut train_times = Vec::new();
    for step in 0..steps + 3 {
        let t = Instant::now();
        let loss = weighted_bce_with_logits(net.forward(x.clone()), y.clone(), 1.0);
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        net = optim.step(1e-3, net, grads);
        // Reading the loss forces the (possibly lazy) backend to finish the step.
        let _: f32 = loss.into_scalar();
        if step >= 3 {
            train_times.push(t.elapsed().as_secs_f64());
        }
    }
    let eval = net.valid();
    let xi = Tensor::<5>::random([batch, 1, side, side, side], Distribution::Default, &base);
    let mut infer_times = Vec::new();
    for step in 0..steps + 3 {
        let t = Instant::now();
        let out: Vec<f32> = eval
            .forward(xi.clone())
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(out.len(), batch);
        if step >= 3 {
            infer_times.push(t.elapsed().as_secs_f64());
        }
    }
    println!(
        "{}",
        serde_json::json!({
            "tool": "oncolens (burn flex)",
            "batch": batch,
            "side": side,
            "threads": std::env::var("RAYON_NUM_THREADS").unwrap_or_default(),
            "params": net.num_params(),
            "train_step_s": median(train_times),
            "infer_batch_s": median(infer_times),
            "peak_rss_kib": peak_rss_kib(),
        })
    );
}
