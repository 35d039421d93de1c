//! L2-regularised logistic regression and concept activation vectors (Kim et al. 2018, §3.1).
//!
//! Activations are long vectors (a flattened feature map has thousands to tens of thousands of
//! values) and examples are few (tens), so the model is fitted in its dual form: by the
//! representer theorem the L2-regularised weight vector is a combination of the (centred)
//! training vectors, `w = Xcᵀ α`, and Newton's method runs on the `n + 1` unknowns `(α, b)` with
//! the `n × n` Gram matrix. The fit is exact (to 1e-10 in the gradient), deterministic, and
//! costs `O(n² d)` once plus `O(n³)` per Newton step.

use oncolens_core::linalg::solve;
use rand::Rng;
use rand::seq::SliceRandom;

use crate::ConceptError;

/// A fitted binary logistic regression: `P(y = 1 | x) = σ(w · (x - mean) + b)`.
///
/// It minimises `(1/n) Σ [log(1 + e^{f_i}) - y_i f_i] + (l2 / 2) ‖w‖²`, `f_i = w · (x_i - mean) + b`
/// (the bias is not penalised). This is scikit-learn's `LogisticRegression(C = 1 / (n · l2))`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticRegression {
    pub weights: Vec<f64>,
    pub bias: f64,
    /// Mean of the training vectors (the weights act on centred vectors).
    pub mean: Vec<f64>,
    /// Newton steps taken.
    pub iterations: usize,
    /// Whether the gradient norm fell below 1e-10 (else the iteration cap was reached).
    pub converged: bool,
}

fn softplus(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

impl LogisticRegression {
    /// Fits on vectors `x` (all of one length) with labels `y`; `l2 > 0`.
    pub fn fit(x: &[&[f64]], y: &[bool], l2: f64) -> Result<Self, ConceptError> {
        let n = x.len();
        if n == 0 || n != y.len() {
            return Err(ConceptError::Setting(format!(
                "logistic regression needs as many labels as vectors (got {n} and {})",
                y.len()
            )));
        }
        if l2.is_nan() || l2 <= 0.0 {
            return Err(ConceptError::Setting(format!(
                "the L2 penalty must be positive (got {l2})"
            )));
        }
        let d = x[0].len();
        if x.iter().any(|v| v.len() != d) {
            return Err(ConceptError::Setting("vectors of different lengths".into()));
        }
        let n_pos = y.iter().filter(|v| **v).count();
        if n_pos == 0 || n_pos == n {
            return Err(ConceptError::Setting(
                "logistic regression needs examples of both classes".into(),
            ));
        }
        let mut mean = vec![0.0; d];
        for v in x {
            for (m, a) in mean.iter_mut().zip(v.iter()) {
                *m += a;
            }
        }
        for m in &mut mean {
            *m /= n as f64;
        }
        let centred: Vec<Vec<f64>> = x
            .iter()
            .map(|v| v.iter().zip(&mean).map(|(a, m)| a - m).collect())
            .collect();
        let mut k = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..=i {
                let s: f64 = centred[i].iter().zip(&centred[j]).map(|(a, b)| a * b).sum();
                k[i * n + j] = s;
                k[j * n + i] = s;
            }
        }
        let yf: Vec<f64> = y.iter().map(|&v| if v { 1.0 } else { 0.0 }).collect();
        let nf = n as f64;
        let objective = |alpha: &[f64], b: f64| -> (f64, Vec<f64>) {
            let f: Vec<f64> = (0..n)
                .map(|i| (0..n).map(|j| k[i * n + j] * alpha[j]).sum::<f64>() + b)
                .collect();
            let loss: f64 = f
                .iter()
                .zip(&yf)
                .map(|(fi, yi)| softplus(*fi) - yi * fi)
                .sum::<f64>()
                / nf;
            // αᵀ K α = Σ α_i (f_i - b)
            let penalty: f64 = alpha.iter().zip(&f).map(|(a, fi)| a * (fi - b)).sum();
            (loss + 0.5 * l2 * penalty, f)
        };
        let prior = n_pos as f64 / nf;
        let mut alpha = vec![0.0; n];
        let mut b = (prior / (1.0 - prior)).ln();
        let (mut value, mut f) = objective(&alpha, b);
        let mut iterations = 0;
        let mut converged = false;
        for _ in 0..200 {
            let p: Vec<f64> = f.iter().map(|&z| sigmoid(z)).collect();
            let g: Vec<f64> = p.iter().zip(&yf).map(|(p, y)| (p - y) / nf).collect();
            let w: Vec<f64> = p.iter().map(|p| p * (1.0 - p) / nf).collect();
            let r: Vec<f64> = g.iter().zip(&alpha).map(|(g, a)| g + l2 * a).collect();
            let rb: f64 = g.iter().sum();
            // The primal gradient: Xcᵀ r with respect to w, rb with respect to b.
            let kr: Vec<f64> = (0..n)
                .map(|i| (0..n).map(|j| k[i * n + j] * r[j]).sum())
                .collect();
            let grad_w2: f64 = r.iter().zip(&kr).map(|(a, b)| a * b).sum::<f64>().max(0.0);
            if grad_w2.sqrt() + rb.abs() < 1e-10 {
                converged = true;
                break;
            }
            // Newton system restricted to the span of the training vectors:
            // [W K + l2 I, W 1; 1ᵀ W K, 1ᵀ W 1] [δα; δb] = -[r; rb].
            let m = n + 1;
            let mut a = vec![0.0; m * m];
            for i in 0..n {
                for j in 0..n {
                    a[i * m + j] = w[i] * k[i * n + j];
                }
                a[i * m + i] += l2;
                a[i * m + n] = w[i];
            }
            for j in 0..n {
                a[n * m + j] = (0..n).map(|i| w[i] * k[i * n + j]).sum();
            }
            a[n * m + n] = w.iter().sum();
            let mut rhs: Vec<f64> = r.iter().map(|v| -v).collect();
            rhs.push(-rb);
            let Some(step) = solve(a, rhs, m) else {
                break;
            };
            // Directional derivative of the objective along the step (for Armijo).
            let kstep: Vec<f64> = (0..n)
                .map(|i| (0..n).map(|j| k[i * n + j] * step[j]).sum())
                .collect();
            let slope: f64 = r.iter().zip(&kstep).map(|(a, b)| a * b).sum::<f64>() + rb * step[n];
            let mut t = 1.0;
            let mut accepted = false;
            while t > 1e-12 {
                let trial: Vec<f64> = alpha.iter().zip(&step).map(|(a, s)| a + t * s).collect();
                let tb = b + t * step[n];
                let (v, tf) = objective(&trial, tb);
                if v <= value + 1e-4 * t * slope.min(0.0) {
                    alpha = trial;
                    b = tb;
                    value = v;
                    f = tf;
                    accepted = true;
                    break;
                }
                t *= 0.5;
            }
            iterations += 1;
            if !accepted {
                // No decrease is possible at machine precision: at the optimum.
                converged = grad_w2.sqrt() + rb.abs() < 1e-6;
                break;
            }
        }
        let mut weights = vec![0.0; d];
        for (a, v) in alpha.iter().zip(&centred) {
            for (w, x) in weights.iter_mut().zip(v) {
                *w += a * x;
            }
        }
        Ok(Self {
            weights,
            bias: b,
            mean,
            iterations,
            converged,
        })
    }

    /// The decision value `w · (x - mean) + b` (log-odds of class 1).
    pub fn decision(&self, x: &[f64]) -> f64 {
        self.weights
            .iter()
            .zip(x.iter().zip(&self.mean))
            .map(|(w, (a, m))| w * (a - m))
            .sum::<f64>()
            + self.bias
    }

    /// `P(y = 1 | x)`.
    pub fn probability(&self, x: &[f64]) -> f64 {
        sigmoid(self.decision(x))
    }

    /// Fraction of `x` classified as `y` (threshold 0.5).
    pub fn accuracy(&self, x: &[&[f64]], y: &[bool]) -> f64 {
        if x.is_empty() {
            return f64::NAN;
        }
        let right = x
            .iter()
            .zip(y)
            .filter(|(v, y)| (self.decision(v) > 0.0) == **y)
            .count();
        right as f64 / x.len() as f64
    }
}

/// A concept activation vector: the unit normal of the logistic-regression boundary between
/// concept (class 1) and random (class 0) activations, pointing towards the concept.
#[derive(Debug, Clone, PartialEq)]
pub struct Cav {
    pub direction: Vec<f64>,
    /// Accuracy on the held-out examples (training accuracy when nothing is held out).
    pub accuracy: f64,
    pub train_accuracy: f64,
    /// Held-out examples (concept + random).
    pub n_test: usize,
}

/// Splits indices `0..n` into (train, test) with `round(n · test_fraction)` in test, at least
/// one on each side when `test_fraction > 0` and `n >= 2`.
fn split<R: Rng>(n: usize, test_fraction: f64, rng: &mut R) -> (Vec<usize>, Vec<usize>) {
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(rng);
    let mut n_test = (n as f64 * test_fraction).round() as usize;
    if test_fraction > 0.0 && n >= 2 {
        n_test = n_test.clamp(1, n - 1);
    } else {
        n_test = 0;
    }
    let test = idx.split_off(n - n_test);
    (idx, test)
}

/// Fits a CAV separating `concept` from `random` activation vectors.
///
/// A stratified `test_fraction` of each set is held out (TCAV's code holds out a third) and the
/// CAV's accuracy there is reported: a CAV that does not separate held-out examples better than
/// chance does not describe a concept the layer encodes, and its TCAV score means little.
pub fn fit_cav<R: Rng>(
    concept: &[&[f64]],
    random: &[&[f64]],
    l2: f64,
    test_fraction: f64,
    rng: &mut R,
) -> Result<Cav, ConceptError> {
    if concept.len() < 2 || random.len() < 2 {
        return Err(ConceptError::Setting(format!(
            "a CAV needs at least 2 concept and 2 random examples (got {} and {})",
            concept.len(),
            random.len()
        )));
    }
    if !(0.0..1.0).contains(&test_fraction) {
        return Err(ConceptError::Setting(format!(
            "test fraction {test_fraction} is not in [0, 1)"
        )));
    }
    let (c_train, c_test) = split(concept.len(), test_fraction, rng);
    let (r_train, r_test) = split(random.len(), test_fraction, rng);
    let gather = |ci: &[usize], ri: &[usize]| -> (Vec<&[f64]>, Vec<bool>) {
        let mut x: Vec<&[f64]> = ci.iter().map(|&i| concept[i]).collect();
        x.extend(ri.iter().map(|&i| random[i]));
        let mut y = vec![true; ci.len()];
        y.extend(std::iter::repeat_n(false, ri.len()));
        (x, y)
    };
    let (x_train, y_train) = gather(&c_train, &r_train);
    let (x_test, y_test) = gather(&c_test, &r_test);
    let model = LogisticRegression::fit(&x_train, &y_train, l2)?;
    let train_accuracy = model.accuracy(&x_train, &y_train);
    let accuracy = if x_test.is_empty() {
        train_accuracy
    } else {
        model.accuracy(&x_test, &y_test)
    };
    let norm = model.weights.iter().map(|w| w * w).sum::<f64>().sqrt();
    let direction = if norm > 0.0 {
        model.weights.iter().map(|w| w / norm).collect()
    } else {
        model.weights.clone()
    };
    Ok(Cav {
        direction,
        accuracy,
        train_accuracy,
        n_test: x_test.len(),
    })
}
