//! Where a 3D convolution's training time goes in burn's CPU backend: for three layers of the
//! image encoder, the median time of the forward pass alone, of forward + weight gradient, and of
//! forward + input gradient (5 runs each). Backs the analysis in `bench/train/results.md`.
//!
//! Usage: RAYON_NUM_THREADS=2 cargo run --release -p oncolens-nn --example conv_probe
#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::time::Instant;

use burn::module::Module;
use burn::nn::PaddingConfig3d;
use burn::nn::conv::Conv3dConfig;
use burn::tensor::{Distribution, Tensor};

fn main() {
    let device = oncolens_nn::default_device().autodiff();
    for (cin, cout, side, stride, batch) in
        [(1, 8, 32, 1, 8), (8, 16, 32, 2, 8), (16, 16, 16, 1, 8)]
    {
        let conv = Conv3dConfig::new([cin, cout], [3; 3])
            .with_stride([stride; 3])
            .with_padding(PaddingConfig3d::Explicit(1, 1, 1))
            .init(&device);
        let x = Tensor::<5>::random(
            [batch, cin, side, side, side],
            Distribution::Default,
            &device,
        );
        let mut fwd = Vec::new();
        let mut wonly = Vec::new();
        let mut xonly = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let y = conv.valid().forward(x.clone().inner());
            let _ = y.into_data();
            fwd.push(t.elapsed().as_secs_f64());
            // weight gradient only
            let t = Instant::now();
            let y = conv.forward(x.clone());
            let g = y.sum().backward();
            let _ = conv.weight.grad(&g).unwrap().into_data();
            wonly.push(t.elapsed().as_secs_f64());
            // input gradient only
            let c2 = conv.clone().no_grad();
            let xg = x.clone().require_grad();
            let t = Instant::now();
            let y = c2.forward(xg.clone());
            let g = y.sum().backward();
            let _ = xg.grad(&g).unwrap().into_data();
            xonly.push(t.elapsed().as_secs_f64());
        }
        let med = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2] * 1e3
        };
        println!(
            "{cin}->{cout} side {side} stride {stride} batch {batch}: forward {:.1} ms, fwd+weight-grad {:.1} ms, fwd+input-grad {:.1} ms",
            med(fwd),
            med(wonly),
            med(xonly)
        );
    }
}
