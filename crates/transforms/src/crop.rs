//! Lesion-centred crops on a fixed physical grid.

use oncolens_core::{Geometry, LabelMap, Volume};
use serde::{Deserialize, Serialize};

use crate::{TransformError, grid_centered_at, resample_to_grid};

/// A cubic crop: `side` voxels of `spacing_mm` along each axis of the scan's own direction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CropSpec {
    pub side: usize,
    pub spacing_mm: f64,
}

impl CropSpec {
    /// Field of view of the crop in millimetres.
    pub fn fov_mm(&self) -> f64 {
        self.side as f64 * self.spacing_mm
    }
}

/// Physical centroid of the voxels with a non-zero label, or `None` for an empty mask.
pub fn centroid_mm(mask: &LabelMap) -> Option<[f64; 3]> {
    let mut sum = [0.0f64; 3];
    let mut n = 0usize;
    for ((z, y, x), &l) in mask.data().indexed_iter() {
        if l != 0 {
            sum[0] += x as f64;
            sum[1] += y as f64;
            sum[2] += z as f64;
            n += 1;
        }
    }
    (n > 0).then(|| {
        let ijk = sum.map(|s| s / n as f64);
        mask.geometry().index_to_physical(ijk)
    })
}

/// The crop of `image` centred at `center_mm`, resampled trilinearly; outside the scan gets
/// `fill` (air, -1000 HU, for CT).
pub fn crop_around(
    image: &Volume<f32>,
    center_mm: [f64; 3],
    spec: &CropSpec,
    fill: f32,
) -> Result<Volume<f32>, TransformError> {
    if spec.side == 0 || !(spec.spacing_mm.is_finite() && spec.spacing_mm > 0.0) {
        return Err(TransformError::Parameter(format!(
            "crop of {} voxels of {} mm",
            spec.side, spec.spacing_mm
        )));
    }
    let grid: Geometry = grid_centered_at(
        image.geometry(),
        center_mm,
        [spec.side; 3],
        [spec.spacing_mm; 3],
    )?;
    resample_to_grid(image, &grid, fill)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;
    use oncolens_core::Direction;

    #[test]
    fn crop_is_centred_on_the_lesion_centroid() {
        let g = Geometry::new(
            [40, 40, 20],
            [1.0, 1.0, 2.0],
            [0.0; 3],
            Direction::default(),
        )
        .unwrap();
        let labels = Array3::from_shape_fn((20, 40, 40), |(z, y, x)| {
            u16::from((28..32).contains(&x) && (8..12).contains(&y) && (10..12).contains(&z))
        });
        let mask = LabelMap::new(labels.clone(), g.clone()).unwrap();
        let c = centroid_mm(&mask).unwrap();
        assert_eq!(c, [29.5, 9.5, 21.0]);
        let image = Volume::new(labels.mapv(|l| f32::from(l) * 100.0), g).unwrap();
        let crop = crop_around(
            &image,
            c,
            &CropSpec {
                side: 9,
                spacing_mm: 1.0,
            },
            -1000.0,
        )
        .unwrap();
        // The crop's centre voxel is inside the lesion; its corners are outside the scan or
        // background.
        assert!(crop.data()[[4, 4, 4]] > 50.0);
        assert!(crop.data()[[0, 0, 0]] < 1.0);
        let empty = LabelMap::new(Array3::zeros((20, 40, 40)), mask.geometry().clone()).unwrap();
        assert!(centroid_mm(&empty).is_none());
    }
}
