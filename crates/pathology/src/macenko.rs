//! Macenko stain normalisation (Macenko et al., ISBI 2009), as torchstain's numpy backend
//! computes it.

use serde::{Deserialize, Serialize};

use crate::{PathologyError, RgbImage, percentile};

/// Settings: transmitted light `io` (the brightest background), the extreme-angle percentile
/// `alpha` (robust min/max), and the optical density `beta` below which a pixel is background.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MacenkoOptions {
    pub io: f64,
    pub alpha: f64,
    pub beta: f64,
}

impl Default for MacenkoOptions {
    fn default() -> Self {
        Self {
            io: 240.0,
            alpha: 1.0,
            beta: 0.15,
        }
    }
}

/// A tile's stains: the haematoxylin and eosin vectors in optical density (unit length), and
/// the 99th percentile of each stain's concentration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StainFit {
    pub hematoxylin: [f64; 3],
    pub eosin: [f64; 3],
    pub max_concentration: [f64; 2],
}

impl StainFit {
    /// torchstain's default reference (its `HERef` and `maxCRef`).
    pub const DEFAULT_REFERENCE: StainFit = StainFit {
        hematoxylin: [0.5626, 0.7201, 0.4062],
        eosin: [0.2159, 0.8012, 0.5581],
        max_concentration: [1.9705, 1.0308],
    };
}

fn optical_density(pixels: &[[u8; 3]], io: f64) -> Vec<[f64; 3]> {
    pixels
        .iter()
        .map(|p| p.map(|v| -((f64::from(v) + 1.0) / io).ln()))
        .collect()
}

/// Concentrations `[h, e]` of every pixel: the least-squares unmixing of its optical density.
fn concentrations(od: &[[f64; 3]], h: &[f64; 3], e: &[f64; 3]) -> Vec<[f64; 2]> {
    let dot = |a: &[f64; 3], b: &[f64; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    let (hh, he, ee) = (dot(h, h), dot(h, e), dot(e, e));
    let det = hh * ee - he * he;
    od.iter()
        .map(|y| {
            let (hy, ey) = (dot(h, y), dot(e, y));
            [(ee * hy - he * ey) / det, (hh * ey - he * hy) / det]
        })
        .collect()
}

/// The tile's stain vectors and concentrations.
fn estimate(
    image: &RgbImage,
    options: &MacenkoOptions,
) -> Result<(StainFit, Vec<[f64; 2]>), PathologyError> {
    let od = optical_density(&image.pixels, options.io);
    let tissue: Vec<[f64; 3]> = od
        .iter()
        .filter(|p| p.iter().all(|&v| v >= options.beta))
        .copied()
        .collect();
    if tissue.len() < 3 {
        return Err(PathologyError::Stain(format!(
            "only {} pixels with optical density >= {} in every channel: no stained tissue to estimate stains from",
            tissue.len(),
            options.beta
        )));
    }
    let n = tissue.len() as f64;
    let mean: [f64; 3] = std::array::from_fn(|c| tissue.iter().map(|p| p[c]).sum::<f64>() / n);
    let mut cov = [[0.0; 3]; 3];
    for p in &tissue {
        for r in 0..3 {
            for c in 0..3 {
                cov[r][c] += (p[r] - mean[r]) * (p[c] - mean[c]);
            }
        }
    }
    for row in &mut cov {
        for v in row.iter_mut() {
            *v /= n - 1.0;
        }
    }
    let (_, vectors) = oncolens_core::linalg::symmetric_eigen3(cov);
    // The plane of the two largest principal directions; the largest oriented along the
    // tissue (optical densities are positive), which makes the angles sign-independent.
    let mut v1: [f64; 3] = std::array::from_fn(|r| vectors[r][1]);
    let mut v2: [f64; 3] = std::array::from_fn(|r| vectors[r][2]);
    let dot = |a: &[f64; 3], b: &[f64; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    if dot(&v2, &mean) < 0.0 {
        v2 = v2.map(|x| -x);
    }
    if dot(&v1, &mean) < 0.0 {
        v1 = v1.map(|x| -x);
    }
    let phi: Vec<f64> = tissue
        .iter()
        .map(|p| dot(p, &v2).atan2(dot(p, &v1)))
        .collect();
    let (min_phi, max_phi) = (
        percentile(&phi, options.alpha),
        percentile(&phi, 100.0 - options.alpha),
    );
    let along = |angle: f64| -> [f64; 3] {
        std::array::from_fn(|r| v1[r] * angle.cos() + v2[r] * angle.sin())
    };
    let (v_min, v_max) = (along(min_phi), along(max_phi));
    // Haematoxylin first: the vector with the larger red optical density.
    let (hematoxylin, eosin) = if v_min[0] > v_max[0] {
        (v_min, v_max)
    } else {
        (v_max, v_min)
    };
    let c = concentrations(&od, &hematoxylin, &eosin);
    let h: Vec<f64> = c.iter().map(|x| x[0]).collect();
    let e: Vec<f64> = c.iter().map(|x| x[1]).collect();
    let fit = StainFit {
        hematoxylin,
        eosin,
        max_concentration: [percentile(&h, 99.0), percentile(&e, 99.0)],
    };
    Ok((fit, c))
}

/// The stains of `image` (to use it as the reference of [`normalise`]).
pub fn fit(image: &RgbImage, options: &MacenkoOptions) -> Result<StainFit, PathologyError> {
    estimate(image, options).map(|(fit, _)| fit)
}

/// A normalised tile and its separated stains.
#[derive(Debug, Clone)]
pub struct Normalised {
    pub image: RgbImage,
    pub hematoxylin: RgbImage,
    pub eosin: RgbImage,
    /// The source tile's own stains.
    pub source: StainFit,
}

/// `image` re-mixed with `reference`'s stain vectors, its concentrations scaled to the
/// reference's range.
pub fn normalise(
    image: &RgbImage,
    reference: &StainFit,
    options: &MacenkoOptions,
) -> Result<Normalised, PathologyError> {
    let (source, c) = estimate(image, options)?;
    let ratio = [
        source.max_concentration[0] / reference.max_concentration[0],
        source.max_concentration[1] / reference.max_concentration[1],
    ];
    // Light through `stains` at concentrations `c`, clipped at 255 and truncated like numpy's
    // `astype(uint8)`.
    let render = |weights: [f64; 2]| -> RgbImage {
        let pixels = c
            .iter()
            .map(|x| {
                let (ch, ce) = (x[0] / ratio[0] * weights[0], x[1] / ratio[1] * weights[1]);
                std::array::from_fn(|r| {
                    let od = reference.hematoxylin[r] * ch + reference.eosin[r] * ce;
                    (options.io * (-od).exp()).min(255.0) as u8
                })
            })
            .collect();
        image.with_pixels(pixels)
    };
    Ok(Normalised {
        image: render([1.0, 1.0]),
        hematoxylin: render([1.0, 0.0]),
        eosin: render([0.0, 1.0]),
        source,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_blank_tile_is_refused() {
        let blank = RgbImage {
            width: 4,
            height: 4,
            pixels: vec![[245, 245, 245]; 16],
        };
        let e = fit(&blank, &MacenkoOptions::default()).unwrap_err();
        assert!(e.to_string().contains("no stained tissue"), "{e}");
    }
}
