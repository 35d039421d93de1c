//! A 3D image: voxels plus the geometry that places them in the patient.

use ndarray::Array3;
use serde::{Deserialize, Serialize};

use crate::{CoreError, Geometry};

/// Voxels in z, y, x (slice, row, column) order together with their physical geometry.
///
/// CT volumes hold Hounsfield units as `f32` (`Volume<f32>`); label maps use [`crate::LabelMap`].
#[derive(Debug, Clone, PartialEq)]
pub struct Volume<T> {
    data: Array3<T>,
    geometry: Geometry,
}

impl<T> Volume<T> {
    /// Ties a voxel array (shape `[z, y, x]`) to a geometry whose `size` is `[x, y, z]`.
    pub fn new(data: Array3<T>, geometry: Geometry) -> Result<Self, CoreError> {
        let (z, y, x) = data.dim();
        if [x, y, z] != geometry.size {
            return Err(CoreError::ShapeMismatch {
                array: [z, y, x],
                size: geometry.size,
            });
        }
        Ok(Volume { data, geometry })
    }

    pub fn data(&self) -> &Array3<T> {
        &self.data
    }

    pub fn data_mut(&mut self) -> &mut Array3<T> {
        &mut self.data
    }

    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// Size `[x, y, z]`.
    pub fn size(&self) -> [usize; 3] {
        self.geometry.size
    }

    pub fn spacing_mm(&self) -> [f64; 3] {
        self.geometry.spacing_mm
    }

    pub fn origin_mm(&self) -> [f64; 3] {
        self.geometry.origin_mm
    }

    /// Splits the volume into its array and geometry.
    pub fn into_parts(self) -> (Array3<T>, Geometry) {
        (self.data, self.geometry)
    }

    /// Voxel at column `x`, row `y`, slice `z`, if inside.
    pub fn get(&self, x: usize, y: usize, z: usize) -> Option<&T> {
        self.data.get([z, y, x])
    }

    /// The voxels in `ranges_zyx` (index ranges per axis `[z, y, x]`) on their own sub-grid
    /// ([`Geometry::region`]).
    pub fn region(&self, ranges_zyx: &[std::ops::Range<usize>; 3]) -> Result<Volume<T>, CoreError>
    where
        T: Clone,
    {
        let geometry = self.geometry.region(ranges_zyx)?;
        let data = self
            .data
            .slice_each_axis(|ax| ndarray::Slice::from(ranges_zyx[ax.axis.index()].clone()))
            .to_owned();
        Volume::new(data, geometry)
    }

    /// Applies `f` to every voxel, keeping the geometry.
    pub fn map<U>(&self, f: impl FnMut(&T) -> U) -> Volume<U> {
        Volume {
            data: self.data.map(f),
            geometry: self.geometry.clone(),
        }
    }
}

/// Summary statistics of a volume's intensities (population standard deviation).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IntensityStats {
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub std: f64,
}

impl<T: Copy + Into<f64>> Volume<T> {
    /// Min, max, mean and population standard deviation of all voxels; `None` for an empty volume.
    pub fn stats(&self) -> Option<IntensityStats> {
        let n = self.data.len();
        if n == 0 {
            return None;
        }
        let mut min = f64::INFINITY;
        let mut max = f64::NEG_INFINITY;
        let mut sum = 0.0f64;
        for v in self.data.iter() {
            let v: f64 = (*v).into();
            min = min.min(v);
            max = max.max(v);
            sum += v;
        }
        let mean = sum / n as f64;
        let var = self
            .data
            .iter()
            .map(|v| {
                let d = (*v).into() - mean;
                d * d
            })
            .sum::<f64>()
            / n as f64;
        Some(IntensityStats {
            min,
            max,
            mean,
            std: var.sqrt(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Direction;

    #[test]
    fn shape_must_match_geometry() {
        let g = Geometry::new([3, 2, 1], [1.0; 3], [0.0; 3], Direction::identity()).unwrap();
        assert!(Volume::new(Array3::<f32>::zeros((1, 2, 3)), g.clone()).is_ok());
        let err = Volume::new(Array3::<f32>::zeros((3, 2, 1)), g).unwrap_err();
        assert!(matches!(err, CoreError::ShapeMismatch { .. }));
    }

    #[test]
    fn stats_are_population_statistics() {
        let g = Geometry::new([4, 1, 1], [1.0; 3], [0.0; 3], Direction::identity()).unwrap();
        let data = Array3::from_shape_vec((1, 1, 4), vec![1.0f32, 2.0, 3.0, 4.0]).unwrap();
        let s = Volume::new(data, g).unwrap().stats().unwrap();
        assert_eq!((s.min, s.max, s.mean), (1.0, 4.0, 2.5));
        assert!((s.std - 1.118_033_988_749_895).abs() < 1e-12);
    }
}
