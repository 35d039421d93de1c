//! Attributions equal Captum's on the same weights and input.
//!
//! The fixture (`fixtures/explain/`): a small seeded image-only model exported by
//! `cargo run -p oncolens-explain --example make_explain_fixture` (SafeTensors + config JSON +
//! a 16^3 input), and Captum's attributions of the same model's logit computed by
//! `fixtures/explain/make_fixture.py` on a PyTorch twin that loads those weights.
//!
//! Agreement: every voxel within 1e-4 relative, `|ours - captum| <= 1e-4 * max(|captum|,
//! floor)`, with the absolute floor at 1e-2 of the map's largest magnitude (values a hundred
//! times below the map's peak are compared at 1e-6 of the peak: float32 sums of a few thousand
//! terms, accumulated in a different order, differ by about that much). Occlusion values are
//! differences of two float32 logits, resolved only to about 1e-7 of the logit, so its floor is
//! 1e-2 of the larger of the map's peak and |f(x)| (an absolute tolerance of 1e-6 |f(x)|).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use oncolens_explain::{
    IgMethod, grad_cam, input_x_gradient, integrated_gradients, occlusion, saliency,
};
use oncolens_nn::batch::Sample;
use oncolens_nn::{Device, ModelConfig, MultimodalModel};

const REL: f64 = 1e-4;
const FLOOR: f64 = 1e-2;

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/explain")
}

/// A little-endian float32 `.npy` file: (shape, values).
fn read_npy(path: &std::path::Path) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    let (len, start) = if bytes[6] == 1 {
        (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10)
    } else {
        (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        )
    };
    let header = std::str::from_utf8(&bytes[start..start + len]).unwrap();
    assert!(header.contains("'descr': '<f4'"), "{header}");
    assert!(header.contains("'fortran_order': False"), "{header}");
    let shape_txt = header.split("'shape': (").nth(1).unwrap();
    let shape_txt = &shape_txt[..shape_txt.find(')').unwrap()];
    let shape: Vec<usize> = shape_txt
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    let values: Vec<f32> = bytes[start + len..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(values.len(), shape.iter().product::<usize>());
    (shape, values)
}

/// Largest `|ours - captum| / max(|captum|, FLOOR * max(max|captum|, scale))`.
fn max_rel_error(ours: &[f32], captum: &[f32], scale: f64) -> f64 {
    assert_eq!(ours.len(), captum.len());
    let peak = captum.iter().fold(0f64, |m, v| m.max(f64::from(v.abs())));
    let reach = peak.max(scale);
    assert!(peak > 0.0, "an all-zero reference proves nothing");
    ours.iter()
        .zip(captum)
        .map(|(a, b)| {
            let (a, b) = (f64::from(*a), f64::from(*b));
            (a - b).abs() / b.abs().max(FLOOR * reach)
        })
        .fold(0.0, f64::max)
}

#[test]
fn attributions_equal_captum() {
    let dir = fixture_dir();
    let config: ModelConfig =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    let device = Device::flex();
    let model = MultimodalModel::new(&config, &device).unwrap();
    let model = oncolens_nn::store::load_weights(model, &dir.join("weights.safetensors")).unwrap();
    let (shape, image) = read_npy(&dir.join("input.npy"));
    let side = shape[4];
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("captum.json")).unwrap()).unwrap();
    let names: Vec<String> = meta["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let (cshape, captum) = read_npy(&dir.join("captum.npy"));
    assert_eq!(cshape, vec![names.len(), side.pow(3)]);
    let reference = |name: &str| {
        let i = names.iter().position(|n| n == name).unwrap();
        &captum[i * side.pow(3)..(i + 1) * side.pow(3)]
    };
    let sample = Sample {
        image: Some(image),
        ..Sample::default()
    };
    let settings = &meta["settings"];
    let baseline = settings["baseline"].as_f64().unwrap() as f32;
    let steps = settings["ig_steps"].as_u64().unwrap() as usize;
    let window = settings["occlusion_window"].as_u64().unwrap() as usize;
    let stride = settings["occlusion_stride"].as_u64().unwrap() as usize;

    let mut report = Vec::new();
    let mut check = |name: &str, ours: &[f32], scale: f64| {
        let err = max_rel_error(ours, reference(name), scale);
        report.push(format!("{name}: max relative error {err:.2e}"));
        err
    };
    let sal = saliency(&model, &config, &sample, side, &device).unwrap();
    // The twin's logit equals oncolens' (the weights were mapped right).
    let twin_logit = meta["logit"].as_f64().unwrap();
    assert!(
        (sal.logit - twin_logit).abs() <= 1e-5 * twin_logit.abs().max(1.0),
        "logit {} vs the PyTorch twin's {twin_logit}",
        sal.logit
    );
    let mut errors = vec![("saliency", check("saliency", &sal.values, 0.0))];
    let ixg = input_x_gradient(&model, &config, &sample, side, &device).unwrap();
    errors.push((
        "input-x-gradient",
        check("input-x-gradient", &ixg.values, 0.0),
    ));
    let ig = integrated_gradients(
        &model,
        &config,
        &sample,
        side,
        baseline,
        steps,
        IgMethod::GaussLegendre,
        &device,
    )
    .unwrap();
    errors.push((
        "integrated-gradients",
        check("integrated-gradients", &ig.values, 0.0),
    ));
    let encoder_blocks = config.image.block_channels.len();
    for after in 0..=encoder_blocks {
        let cam = grad_cam(&model, &config, &sample, side, Some(after), &device).unwrap();
        let name = format!("grad-cam-{after}");
        let err = check(&name, &cam.values, 0.0);
        errors.push((if after == 0 { "grad-cam-0" } else { "grad-cam" }, err));
    }
    let occ = occlusion(
        &model, &config, &sample, side, window, stride, baseline, 16, &device,
    )
    .unwrap();
    errors.push((
        "occlusion",
        check("occlusion", &occ.values, occ.logit.abs()),
    ));
    // Captum's convergence delta and ours measure the same quadrature error.
    let delta_captum = meta["ig_convergence_delta"].as_f64().unwrap();
    let delta = ig.convergence_delta.unwrap();
    report.push(format!(
        "IG convergence delta: ours {delta:.3e}, Captum {delta_captum:.3e}"
    ));
    println!("{}", report.join("\n"));
    assert!(delta.abs() < 1e-3 && delta_captum.abs() < 1e-3);
    for (name, err) in errors {
        assert!(
            err <= REL,
            "{name}: max relative error {err:.3e}\n{report:?}"
        );
    }
}
