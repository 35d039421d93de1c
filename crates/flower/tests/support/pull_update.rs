//! The deterministic "training" of `fixtures/flower/app`'s NumPy ClientApp, shared by the
//! interop test and the `flower_station` bench example so both sides of every comparison do the
//! same work: `new = old + lr * (target - old)` in each array's dtype; the loss is the mean
//! squared distance to `target`.

use oncolens_flower::{ClientError, DType, NdArray};

/// Every array moved a step `lr` towards `target`.
pub fn pull_towards(
    parameters: Vec<NdArray>,
    lr: f64,
    target: f64,
) -> Result<Vec<NdArray>, ClientError> {
    let mut out = Vec::with_capacity(parameters.len());
    for a in parameters {
        out.push(match a.dtype {
            DType::Float32 => {
                let (lr, t) = (lr as f32, target as f32);
                let v: Vec<f32> = a.to_f32().iter().map(|x| x + lr * (t - x)).collect();
                NdArray::from_f32(a.shape.clone(), &v)?
            }
            _ => {
                let v: Vec<f64> = a.to_f64().iter().map(|x| x + lr * (target - x)).collect();
                a.with_values_f64(&v)?
            }
        });
    }
    Ok(out)
}

/// Mean squared distance of every value to `target`.
pub fn squared_distance(parameters: &[NdArray], target: f64) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for a in parameters {
        for x in a.to_f64() {
            sum += (x - target).powi(2);
            n += 1;
        }
    }
    sum / n.max(1) as f64
}
