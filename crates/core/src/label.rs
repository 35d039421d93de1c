//! Label masks that cannot be detached from their image grid.

use ndarray::Array3;

use crate::{CoreError, Geometry, Volume};

/// Tolerance in millimetres under which two grids are treated as the same grid.
pub const GRID_TOLERANCE_MM: f64 = 1e-3;

/// An integer label per voxel (0 = background), on a known grid.
///
/// A mask can only be paired with an image through [`LabelMap::check_matches`] or
/// [`LabelMap::for_image`], so a mask on another grid is an error, never a silent misalignment.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelMap {
    labels: Volume<u16>,
}

impl LabelMap {
    /// A label map with its own geometry (as read from a file).
    pub fn new(labels: Array3<u16>, geometry: Geometry) -> Result<Self, CoreError> {
        Ok(LabelMap {
            labels: Volume::new(labels, geometry)?,
        })
    }

    /// The labels in `ranges_zyx` on their own sub-grid ([`Geometry::region`]).
    pub fn region(&self, ranges_zyx: &[std::ops::Range<usize>; 3]) -> Result<Self, CoreError> {
        Ok(LabelMap {
            labels: self.labels.region(ranges_zyx)?,
        })
    }

    /// A label map for `image`: fails unless the array has the image's shape.
    pub fn for_image<T>(labels: Array3<u16>, image: &Volume<T>) -> Result<Self, CoreError> {
        Self::new(labels, image.geometry().clone())
    }

    /// Errors unless this mask lies on the image's grid (same size, spacing, placement).
    pub fn check_matches<T>(&self, image: &Volume<T>) -> Result<(), CoreError> {
        let (a, b) = (self.labels.geometry(), image.geometry());
        if a.same_grid(b, GRID_TOLERANCE_MM) {
            Ok(())
        } else {
            Err(CoreError::GridMismatch(a.describe_difference(b)))
        }
    }

    pub fn volume(&self) -> &Volume<u16> {
        &self.labels
    }

    pub fn data(&self) -> &Array3<u16> {
        self.labels.data()
    }

    pub fn geometry(&self) -> &Geometry {
        self.labels.geometry()
    }

    /// Number of voxels carrying `label`.
    pub fn count(&self, label: u16) -> usize {
        self.labels.data().iter().filter(|v| **v == label).count()
    }

    /// Volume in mm³ of the voxels carrying `label`.
    pub fn volume_mm3(&self, label: u16) -> f64 {
        self.count(label) as f64 * self.geometry().voxel_volume_mm3()
    }

    /// The distinct non-zero labels, sorted.
    pub fn labels_present(&self) -> Vec<u16> {
        let mut seen: Vec<u16> = self
            .labels
            .data()
            .iter()
            .copied()
            .filter(|v| *v != 0)
            .collect();
        seen.sort_unstable();
        seen.dedup();
        seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Direction;

    #[test]
    fn mask_on_other_grid_is_rejected() {
        let g = Geometry::new([2, 2, 2], [1.0; 3], [0.0; 3], Direction::identity()).unwrap();
        let img = Volume::new(Array3::<f32>::zeros((2, 2, 2)), g.clone()).unwrap();
        let mut shifted = g.clone();
        shifted.origin_mm[0] = 5.0;
        let mask = LabelMap::new(Array3::zeros((2, 2, 2)), shifted).unwrap();
        let err = mask.check_matches(&img).unwrap_err();
        assert!(err.to_string().contains("origin"), "{err}");
        let ok = LabelMap::for_image(Array3::from_elem((2, 2, 2), 1), &img).unwrap();
        ok.check_matches(&img).unwrap();
        assert_eq!(ok.count(1), 8);
        assert_eq!(ok.labels_present(), vec![1]);
        assert!(LabelMap::for_image(Array3::zeros((1, 2, 2)), &img).is_err());
    }
}
