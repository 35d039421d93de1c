//! H&E pathology images: RGB tiles and stain normalisation.
//!
//! Slides from different laboratories differ in stain: the haematoxylin (nuclei, blue-purple)
//! and eosin (stroma and cytoplasm, pink) of one scanner and protocol are not another's, and a
//! patch model learns the laboratory along with the tissue. Stain normalisation maps a tile's
//! colours onto a reference tile's before a model sees it:
//!
//! - [`macenko`]: Macenko et al. (ISBI 2009): the two stain vectors are estimated in optical
//!   density space (the plane of the two largest principal directions, robust extreme angles),
//!   each pixel unmixed into stain concentrations, and re-mixed with the reference's stain
//!   vectors and concentration range. Also gives the separated haematoxylin and eosin images.
//! - [`reinhard`]: Reinhard et al. (2001): each LAB channel standardised to the reference's
//!   mean and standard deviation.
//!
//! - [`slide`]: whole-slide images (tiled pyramidal TIFF, Aperio SVS): levels, pixel size,
//!   associated images, regions as OpenSlide reads them, tissue tiles at a chosen resolution.
//!
//! The normalisers equal torchstain 1.3 (numpy backend, the HistomicsTK/StainTools formulations) on real
//! CRC-VAL-HE-7K tiles (`fixtures/pathology/`).

use std::path::Path;

use thiserror::Error;

pub mod macenko;
pub mod reinhard;
pub mod slide;

#[derive(Debug, Error)]
pub enum PathologyError {
    #[error("{path}: {message}")]
    Image { path: String, message: String },
    #[error("{0}")]
    Stain(String),
}

/// An 8-bit RGB image, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<[u8; 3]>,
}

impl RgbImage {
    /// Reads a PNG, JPEG or TIFF file (the format from its content), converted to 8-bit RGB.
    pub fn read(path: &Path) -> Result<Self, PathologyError> {
        let err = |message: String| PathologyError::Image {
            path: path.display().to_string(),
            message,
        };
        let decoded = image::ImageReader::open(path)
            .map_err(|e| err(e.to_string()))?
            .with_guessed_format()
            .map_err(|e| err(e.to_string()))?
            .decode()
            .map_err(|e| err(e.to_string()))?
            .into_rgb8();
        let (width, height) = decoded.dimensions();
        let pixels = decoded.pixels().map(|p| p.0).collect();
        Ok(Self {
            width,
            height,
            pixels,
        })
    }

    /// Writes the image as PNG.
    pub fn write_png(&self, path: &Path) -> Result<(), PathologyError> {
        let bytes: Vec<u8> = self.pixels.iter().flatten().copied().collect();
        let buffer =
            image::RgbImage::from_raw(self.width, self.height, bytes).ok_or_else(|| {
                PathologyError::Image {
                    path: path.display().to_string(),
                    message: "pixel count does not match the size".into(),
                }
            })?;
        buffer
            .save_with_format(path, image::ImageFormat::Png)
            .map_err(|e| PathologyError::Image {
                path: path.display().to_string(),
                message: e.to_string(),
            })
    }

    fn with_pixels(&self, pixels: Vec<[u8; 3]>) -> Self {
        Self {
            width: self.width,
            height: self.height,
            pixels,
        }
    }
}

/// numpy's default (linear) percentile of `values` (`p` in 0..=100), which it computes as
/// `a + (b - a) t` below the midpoint and `b - (b - a)(1 - t)` from it.
pub(crate) fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let position = p / 100.0 * (n - 1) as f64;
    let low = (position.floor() as usize).min(n - 1);
    let high = (low + 1).min(n - 1);
    let t = position - low as f64;
    let (a, b) = (sorted[low], sorted[high]);
    if t >= 0.5 {
        b - (b - a) * (1.0 - t)
    } else {
        a + (b - a) * t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_like_numpy() {
        let v = [3.0, 1.0, 4.0, 1.5, 9.0];
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&v, 100.0), 9.0);
        assert_eq!(percentile(&v, 50.0), 3.0);
        // position 0.04 * 4 = 0.16 between 1.0 and 1.5
        assert!((percentile(&v, 4.0) - 1.08).abs() < 1e-12);
    }
}
