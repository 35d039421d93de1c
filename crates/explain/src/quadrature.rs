//! Nodes and weights for the path integral of Integrated Gradients on [0, 1].

/// Gauss-Legendre nodes and weights mapped to [0, 1] (Captum's default `gausslegendre`), by
/// Newton iteration on the Legendre polynomial roots.
pub fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut nodes = Vec::with_capacity(n);
    let mut weights = Vec::with_capacity(n);
    for i in 0..n {
        // Initial guess (Tricomi), then Newton on P_n.
        let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
        let mut dp = 1.0;
        for _ in 0..100 {
            let (mut p0, mut p1) = (1.0, x);
            for k in 2..=n {
                let p2 = ((2 * k - 1) as f64 * x * p1 - (k - 1) as f64 * p0) / k as f64;
                p0 = p1;
                p1 = p2;
            }
            let pn = if n == 0 {
                1.0
            } else if n == 1 {
                x
            } else {
                p1
            };
            let pn1 = if n == 1 { 1.0 } else { p0 };
            dp = n as f64 * (x * pn - pn1) / (x * x - 1.0);
            let dx = pn / dp;
            x -= dx;
            if dx.abs() < 1e-15 {
                break;
            }
        }
        let w = 2.0 / ((1.0 - x * x) * dp * dp);
        nodes.push((x + 1.0) / 2.0);
        weights.push(w / 2.0);
    }
    // Ascending order of alpha, as numpy's leggauss returns them.
    let mut pairs: Vec<(f64, f64)> = nodes.into_iter().zip(weights).collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    pairs.into_iter().unzip()
}

/// Trapezoid rule on `n` equally spaced points including both ends (Captum `riemann_trapezoid`).
pub fn riemann_trapezoid(n: usize) -> (Vec<f64>, Vec<f64>) {
    if n < 2 {
        return (vec![1.0], vec![1.0]);
    }
    let step = 1.0 / (n - 1) as f64;
    let nodes = (0..n).map(|i| i as f64 * step).collect();
    let weights = (0..n)
        .map(|i| {
            if i == 0 || i == n - 1 {
                step / 2.0
            } else {
                step
            }
        })
        .collect();
    (nodes, weights)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauss_legendre_integrates_polynomials_exactly() {
        let (x, w) = gauss_legendre(5);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-14);
        // Exact for degree <= 9: integral of t^8 on [0, 1] is 1/9.
        let v: f64 = x.iter().zip(&w).map(|(t, w)| w * t.powi(8)).sum();
        assert!((v - 1.0 / 9.0).abs() < 1e-13);
        // numpy.polynomial.legendre.leggauss(2): nodes +-1/sqrt(3) -> (1 -+ 1/sqrt 3)/2.
        let (x2, _) = gauss_legendre(2);
        assert!((x2[0] - (1.0 - 1.0 / 3f64.sqrt()) / 2.0).abs() < 1e-15);
    }
}
