//! Integrated Gradients (Sundararajan et al., 2017) on the image input, the other modalities
//! held at the patient's values.

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use oncolens_nn::batch::Sample;
use oncolens_nn::{Batch, ModelConfig, MultimodalModel};
use rayon::prelude::*;

use crate::quadrature::{gauss_legendre, riemann_trapezoid};
use crate::{ExplainError, ImageAttribution, to_vec};

/// How the path integral is approximated (Captum's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum IgMethod {
    #[serde(rename = "gausslegendre")]
    GaussLegendre,
    #[serde(rename = "riemann_trapezoid")]
    RiemannTrapezoid,
}

/// Attributes the model's logit to the image voxels along the straight path from a constant
/// `baseline` image (in model input units: 0 is the bottom of the intensity window) to the input.
/// `steps` points, evaluated `chunk` at a time.
#[allow(clippy::too_many_arguments)]
pub fn integrated_gradients(
    model: &MultimodalModel,
    config: &ModelConfig,
    sample: &Sample,
    side: usize,
    baseline: f32,
    steps: usize,
    method: IgMethod,
    device: &Device,
) -> Result<ImageAttribution, ExplainError> {
    let image = sample.image.as_ref().ok_or(ExplainError::NoImage)?;
    // Inference behaviour whatever state the caller's model is in: with batch statistics the
    // points of the path would normalise each other.
    let model = &model.valid();
    if model.image_encoder().is_none() {
        return Err(ExplainError::NoImageEncoder);
    }
    if steps == 0 {
        return Err(ExplainError::Setting("steps must be at least 1".into()));
    }
    let n = side.pow(3);
    let channels = config.image.in_channels;
    if image.len() != channels * n {
        return Err(ExplainError::Setting(format!(
            "image has {} values, expected {channels} x {side}^3",
            image.len()
        )));
    }
    // Only the first channel (the scan) is attributed; further channels (the lesion mask) stay
    // at the patient's values along the path.
    let (scan, fixed) = image.split_at(n);
    let (alphas, weights) = match method {
        IgMethod::GaussLegendre => gauss_legendre(steps),
        IgMethod::RiemannTrapezoid => riemann_trapezoid(steps),
    };
    let ad = device.clone().autodiff();
    // Gradients with respect to the input (or an activation) only: the parameters need none.
    let tracked = model.valid().to_device(&ad).no_grad();
    let encoder = tracked
        .image_encoder()
        .ok_or(ExplainError::NoImageEncoder)?;
    // The stem is affine in the image: along the path its (pre-activation) output is
    // z(a) = (1 - a) z(baseline) + a z(input), so it is evaluated twice, not once per point,
    // and the gradients at the points are taken with respect to z and mapped back through the
    // stem once: sum_k w_k dF/dx(x_k) = W^T (sum_k w_k dF/dz(z_k)), W^T the transposed stem.
    // The same sum as backpropagating every point to the image, with two fewer convolutions
    // of the finest grid per point.
    let mut base_image = vec![baseline; n];
    base_image.extend_from_slice(fixed);
    let ends = Tensor::<5>::from_data(
        TensorData::new(
            [image.as_slice(), base_image.as_slice()].concat(),
            [2, channels, side, side, side],
        ),
        device,
    );
    let z_ends = model
        .image_encoder()
        .ok_or(ExplainError::NoImageEncoder)?
        .stem_linear(ends);
    let z_shape = z_ends.dims();
    let z_ends = to_vec(z_ends.into_data())?;
    let z_len = z_ends.len() / 2;
    let (z_x, z_b) = z_ends.split_at(z_len);
    let one = {
        let mut b = Batch::collate(&[sample], config, side, &ad)?;
        b.image = None;
        b
    };
    // Points of the path per backward pass; the passes run in parallel (burn's kernels use
    // the cores poorly on batches this small), and their sums are added in path order, so the
    // result does not depend on the thread count.
    const CHUNK: usize = 25;
    let parts: Vec<Result<Vec<f64>, ExplainError>> = alphas
        .chunks(CHUNK)
        .zip(weights.chunks(CHUNK))
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|(a_chunk, w_chunk)| -> Result<Vec<f64>, ExplainError> {
            let mut path_grad = vec![0f64; z_len];
            let k = a_chunk.len();
            let batch = one.repeat(k);
            let mut data = Vec::with_capacity(k * z_len);
            for &a in a_chunk {
                let a = a as f32;
                data.extend(z_b.iter().zip(z_x).map(|(&b, &x)| b + a * (x - b)));
            }
            let [_, c, d, h, w] = z_shape;
            let z =
                Tensor::<5>::from_data(TensorData::new(data, [k, c, d, h, w]), &ad).require_grad();
            let features = burn::tensor::activation::relu(z.clone());
            let grads = tracked
                .forward_with_image_features(&batch, Some((features, 0)))
                .logits
                .sum()
                .backward();
            let g = z
                .grad(&grads)
                .ok_or_else(|| ExplainError::Data("no gradient reached the image".into()))?;
            let g = to_vec(g.into_data())?;
            for (j, &w) in w_chunk.iter().enumerate() {
                let start = j * z_len;
                for (acc, &gv) in path_grad.iter_mut().zip(&g[start..start + z_len]) {
                    *acc += w * f64::from(gv);
                }
            }
            Ok(path_grad)
        })
        .collect();
    let mut z_grad = vec![0f64; z_len];
    for p in parts {
        for (a, b) in z_grad.iter_mut().zip(p?) {
            *a += b;
        }
    }
    // W^T (sum of weighted stem gradients): the gradient of <stem(x), G> with respect to x.
    let x = Tensor::<5>::from_data(
        TensorData::new(image.clone(), [1, channels, side, side, side]),
        &ad,
    )
    .require_grad();
    let [_, c, d, h, w] = z_shape;
    let g_sum = Tensor::<5>::from_data(
        TensorData::new(
            z_grad.iter().map(|&v| v as f32).collect::<Vec<f32>>(),
            [1, c, d, h, w],
        ),
        &ad,
    );
    let grads = (encoder.stem_linear(x.clone()) * g_sum).sum().backward();
    let g = x
        .grad(&grads)
        .ok_or_else(|| ExplainError::Data("no gradient reached the image".into()))?;
    let path_grad: Vec<f64> = to_vec(g.into_data())?[..n]
        .iter()
        .map(|&v| f64::from(v))
        .collect();
    let values: Vec<f32> = scan
        .iter()
        .zip(&path_grad)
        .map(|(&v, &g)| (f64::from(v - baseline) * g) as f32)
        .collect();
    // f(input) and f(baseline) for the completeness check.
    let mut base = sample.clone();
    base.image = Some(base_image);
    let pair = [sample, &base];
    let batch = Batch::collate(&pair, config, side, device)?;
    let logits = to_vec(model.forward(&batch).logits.into_data())?;
    let (f_x, f_b) = (f64::from(logits[0]), f64::from(logits[1]));
    let total: f64 = values.iter().map(|&v| f64::from(v)).sum();
    Ok(ImageAttribution {
        method: "integrated-gradients",
        side,
        values,
        logit: f_x,
        convergence_delta: Some(total - (f_x - f_b)),
    })
}
