//! Reinhard colour transfer (Reinhard et al., 2001) in CIE LAB, as torchstain's numpy backend
//! computes it (sRGB, D65 white, the same constants).

use serde::{Deserialize, Serialize};

use crate::{PathologyError, RgbImage};

const RGB_TO_XYZ: [[f64; 3]; 3] = [
    [0.412453, 0.357580, 0.180423],
    [0.212671, 0.715160, 0.072169],
    [0.019334, 0.119193, 0.950227],
];
const WHITE: [f64; 3] = [0.95047, 1.0, 1.08883];

fn rgb_to_lab(p: [u8; 3]) -> [f64; 3] {
    let linear = p.map(|v| {
        let c = f64::from(v) / 255.0;
        if c > 0.04045 {
            ((c + 0.055) / 1.055).powf(2.4)
        } else {
            c / 12.92
        }
    });
    let f: [f64; 3] = std::array::from_fn(|r| {
        let xyz = (0..3).map(|c| RGB_TO_XYZ[r][c] * linear[c]).sum::<f64>() / WHITE[r];
        if xyz > 0.008856 {
            xyz.cbrt()
        } else {
            7.787 * xyz + 16.0 / 116.0
        }
    });
    [
        116.0 * f[1] - 16.0,
        500.0 * (f[0] - f[1]),
        200.0 * (f[1] - f[2]),
    ]
}

/// Inverse of the 3x3 matrix by cofactors.
fn inverse(m: [[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let c = |r: usize, k: usize| {
        let (r1, r2) = ((r + 1) % 3, (r + 2) % 3);
        let (k1, k2) = ((k + 1) % 3, (k + 2) % 3);
        m[r1][k1] * m[r2][k2] - m[r1][k2] * m[r2][k1]
    };
    let det: f64 = (0..3).map(|k| m[0][k] * c(0, k)).sum();
    std::array::from_fn(|r| std::array::from_fn(|k| c(k, r) / det))
}

fn lab_to_rgb(lab: [f64; 3], xyz_to_rgb: &[[f64; 3]; 3]) -> [u8; 3] {
    let y = (lab[0] + 16.0) / 116.0;
    let f = [lab[1] / 500.0 + y, y, y - lab[2] / 200.0];
    let xyz: [f64; 3] = std::array::from_fn(|r| {
        let v = if f[r] > 0.2068966 {
            f[r].powi(3)
        } else {
            (f[r] - 16.0 / 116.0) / 7.787
        };
        v * WHITE[r]
    });
    std::array::from_fn(|r| {
        let lin: f64 = (0..3).map(|c| xyz_to_rgb[r][c] * xyz[c]).sum();
        let v = if lin > 0.0031308 {
            1.055 * lin.powf(1.0 / 2.4) - 0.055
        } else {
            lin * 12.92
        };
        (v.clamp(0.0, 1.0) * 255.0) as u8
    })
}

/// Mean and (population) standard deviation of each LAB channel of a tile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LabStatistics {
    pub means: [f64; 3],
    pub stds: [f64; 3],
}

/// The LAB statistics of `image` (the reference of [`normalise`]).
pub fn fit(image: &RgbImage) -> Result<LabStatistics, PathologyError> {
    if image.pixels.is_empty() {
        return Err(PathologyError::Stain(
            "an empty image has no colours".into(),
        ));
    }
    let lab: Vec<[f64; 3]> = image.pixels.iter().map(|&p| rgb_to_lab(p)).collect();
    let n = lab.len() as f64;
    let means: [f64; 3] = std::array::from_fn(|c| lab.iter().map(|p| p[c]).sum::<f64>() / n);
    let stds: [f64; 3] = std::array::from_fn(|c| {
        (lab.iter().map(|p| (p[c] - means[c]).powi(2)).sum::<f64>() / n).sqrt()
    });
    Ok(LabStatistics { means, stds })
}

/// `image` with each LAB channel standardised and given `reference`'s mean and spread.
pub fn normalise(image: &RgbImage, reference: &LabStatistics) -> Result<RgbImage, PathologyError> {
    let own = fit(image)?;
    if own.stds.contains(&0.0) {
        return Err(PathologyError::Stain(
            "a channel of the image is constant: nothing to standardise".into(),
        ));
    }
    let xyz_to_rgb = inverse(RGB_TO_XYZ);
    let pixels = image
        .pixels
        .iter()
        .map(|&p| {
            let lab = rgb_to_lab(p);
            let moved: [f64; 3] = std::array::from_fn(|c| {
                (lab[c] - own.means[c]) / own.stds[c] * reference.stds[c] + reference.means[c]
            });
            lab_to_rgb(moved, &xyz_to_rgb)
        })
        .collect();
    Ok(image.with_pixels(pixels))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lab_round_trip_is_close() {
        let inv = inverse(RGB_TO_XYZ);
        for p in [[10u8, 200, 30], [255, 255, 255], [128, 64, 200], [1, 2, 3]] {
            let back = lab_to_rgb(rgb_to_lab(p), &inv);
            for c in 0..3 {
                // truncation to u8 loses at most one level
                assert!(
                    (i32::from(back[c]) - i32::from(p[c])).abs() <= 1,
                    "{p:?} -> {back:?}"
                );
            }
        }
    }
}
