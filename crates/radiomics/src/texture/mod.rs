//! Texture families computed from a [`crate::DiscretisedRoi`]: GLCM, GLRLM, GLSZM, GLDZM,
//! NGTDM, NGLDM, each with the IBSI aggregation methods (2D, 2.5D, 3D; averaged or merged).
//!
//! One file per family; `aggregation` merges/averages matrices, `naming` names features by IBSI
//! tag, code and PyRadiomics counterpart, `grid` holds the flat voxel buffer and neighbourhoods,
//! `size_matrix` the features shared by the run/zone/dependence matrices, `zones` the zone
//! labelling and edge distances.
//! Matrices are built in one pass over the voxels and in parallel over slices or directions.

mod aggregation;
mod glcm;
mod gldzm;
mod glrlm;
mod glszm;
mod grid;
mod mcc;
mod naming;
mod ngldm;
mod ngtdm;
mod size_matrix;
mod zones;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use aggregation::{DirectionalAggregation, SliceAggregation};
pub use mcc::pyradiomics_mcc;

use crate::{DiscretisedRoi, Feature};
use grid::Grid;

/// The six IBSI texture families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextureFamily {
    Glcm,
    Glrlm,
    Glszm,
    Gldzm,
    Ngtdm,
    Ngldm,
}

impl TextureFamily {
    pub const ALL: [TextureFamily; 6] = [
        Self::Glcm,
        Self::Glrlm,
        Self::Glszm,
        Self::Gldzm,
        Self::Ngtdm,
        Self::Ngldm,
    ];
}

/// Norm used for the GLDZM distance of a voxel to the ROI edge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DistanceMetric {
    /// IBSI default: erosion with the 4 (2D) / 6 (3D) connected element.
    #[default]
    Manhattan,
    /// Erosion with the 8 (2D) / 26 (3D) connected element.
    Chebyshev,
}

/// Settings of the texture families (distances, NGLDM coarseness, which aggregations).
///
/// Every field has a serde default so a config file may leave the section out; the defaults are
/// the IBSI 1 defaults, which the digital-phantom reference values use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TextureSettings {
    /// Families to compute (default: all six).
    pub families: Vec<TextureFamily>,
    /// Aggregations of GLCM and GLRLM (default: all six IBSI methods).
    pub directional_aggregations: Vec<DirectionalAggregation>,
    /// Aggregations of GLSZM, GLDZM, NGTDM and NGLDM (default: 2D, 2.5D, 3D).
    pub slice_aggregations: Vec<SliceAggregation>,
    /// GLCM neighbour distance (Chebyshev, voxels); 0 is treated as 1 and distances beyond the
    /// image extent as the extent (the matrices are then empty).
    pub glcm_distance_voxels: u32,
    /// Count each pair in both directions (IBSI: `M_m+ + M_m-`); false gives Haralick's
    /// one-sided matrix.
    pub glcm_symmetric: bool,
    /// NGTDM neighbourhood radius (Chebyshev, voxels); 0 is treated as 1, and radii beyond the
    /// image extent as the extent (no further voxels exist). Cost grows as `(2r + 1)^3`.
    pub ngtdm_distance_voxels: u32,
    /// NGLDM neighbourhood radius (Chebyshev, voxels); clamped like `ngtdm_distance_voxels`.
    pub ngldm_distance_voxels: u32,
    /// NGLDM coarseness `alpha`: neighbours within this many grey levels are dependent.
    pub ngldm_coarseness_alpha: u32,
    /// Norm of the GLDZM distance to the ROI edge.
    pub gldzm_distance_metric: DistanceMetric,
}

impl Default for TextureSettings {
    fn default() -> Self {
        TextureSettings {
            families: TextureFamily::ALL.to_vec(),
            directional_aggregations: DirectionalAggregation::ALL.to_vec(),
            slice_aggregations: SliceAggregation::ALL.to_vec(),
            glcm_distance_voxels: 1,
            glcm_symmetric: true,
            ngtdm_distance_voxels: 1,
            ngldm_distance_voxels: 1,
            ngldm_coarseness_alpha: 0,
            gldzm_distance_metric: DistanceMetric::Manhattan,
        }
    }
}

impl TextureSettings {
    /// The settings with repeated aggregations removed (first occurrence kept), so a config
    /// listing one twice cannot produce duplicate feature names.
    fn deduplicated(&self) -> TextureSettings {
        fn unique<T: PartialEq + Copy>(items: &[T]) -> Vec<T> {
            let mut out: Vec<T> = Vec::with_capacity(items.len());
            for &item in items {
                if !out.contains(&item) {
                    out.push(item);
                }
            }
            out
        }
        TextureSettings {
            directional_aggregations: unique(&self.directional_aggregations),
            slice_aggregations: unique(&self.slice_aggregations),
            ..self.clone()
        }
    }
}

/// Computes every texture family of `roi` under `settings`.
///
/// Families are returned in IBSI order (GLCM, GLRLM, GLSZM, GLDZM, NGTDM, NGLDM), each in the
/// order of the requested aggregations. Undefined values are NaN with a note; nothing panics on
/// an empty, single-voxel or constant ROI.
pub fn compute_all(roi: &DiscretisedRoi, settings: &TextureSettings) -> Vec<Feature> {
    compute_with(roi, settings, |_, _| ()).0
}

/// [`compute_all`] and PyRadiomics' MCC ([`pyradiomics_mcc`]) together: one grid, and the 3D
/// co-occurrence matrices the two share built once.
pub fn compute_all_with_mcc(
    roi: &DiscretisedRoi,
    settings: &TextureSettings,
) -> (Vec<Feature>, Feature) {
    compute_with(roi, settings, mcc::from_matrices)
}

/// The texture families, and `extra` on the same grid and shared 3D co-occurrence matrices,
/// run beside them.
fn compute_with<T: Send>(
    roi: &DiscretisedRoi,
    settings: &TextureSettings,
    extra: impl FnOnce(&Grid, &glcm::Volume3dPairs) -> T + Send,
) -> (Vec<Feature>, T) {
    let settings = &settings.deduplicated();
    // The border covers the widest neighbourhood a family reads.
    let (nz, ny, nx) = roi.levels.dim();
    let pad = [
        settings.ngtdm_distance_voxels,
        settings.ngldm_distance_voxels,
    ]
    .into_iter()
    .map(|d| grid::clamp_distance([nz, ny, nx], d))
    .max()
    .unwrap_or(1);
    let grid = Grid::from_roi(roi, pad);
    let wanted: Vec<TextureFamily> = TextureFamily::ALL
        .into_iter()
        .filter(|f| settings.families.contains(f))
        .collect();
    let is_zone_family =
        |f: &TextureFamily| matches!(f, TextureFamily::Glszm | TextureFamily::Gldzm);
    let zone_families = wanted.iter().any(is_zone_family);
    let shared = glcm::Volume3dPairs::new();
    // Zone labelling (sequential per volume) overlaps with the matrix-based families and MCC.
    type PerFamily = Vec<(TextureFamily, Vec<Feature>)>;
    let (zones, (mut per_family, extra)): (Option<ZoneSets>, (PerFamily, T)) = rayon::join(
        || zone_families.then(|| ZoneSets::new(&grid, settings)),
        || {
            rayon::join(
                || {
                    wanted
                        .par_iter()
                        .filter(|f| !is_zone_family(f))
                        .map(|&f| (f, compute_family(f, &grid, settings, None, &shared)))
                        .collect()
                },
                || extra(&grid, &shared),
            )
        },
    );
    per_family.extend(wanted.iter().filter(|f| is_zone_family(f)).map(|&f| {
        (
            f,
            compute_family(f, &grid, settings, zones.as_ref(), &shared),
        )
    }));
    // Back to IBSI family order.
    per_family.sort_by_key(|(f, _)| TextureFamily::ALL.iter().position(|g| g == f));
    (per_family.into_iter().flat_map(|(_, v)| v).collect(), extra)
}

fn compute_family(
    family: TextureFamily,
    grid: &Grid,
    settings: &TextureSettings,
    zones: Option<&ZoneSets>,
    shared: &glcm::Volume3dPairs,
) -> Vec<Feature> {
    let methods = &settings.slice_aggregations;
    match (family, zones) {
        (TextureFamily::Glcm, _) => glcm::compute(grid, settings, shared),
        (TextureFamily::Glrlm, _) => glrlm::compute(grid, settings),
        (TextureFamily::Glszm, Some(z)) => glszm::compute(
            &z.slices,
            &z.slice_voxels,
            z.volume.as_deref(),
            z.volume_voxels,
            methods,
        ),
        (TextureFamily::Gldzm, Some(z)) => gldzm::compute(
            &z.slices,
            &z.slice_voxels,
            z.volume.as_deref(),
            z.volume_voxels,
            methods,
        ),
        (TextureFamily::Ngtdm, _) => ngtdm::compute(
            grid,
            grid.clamp_distance(settings.ngtdm_distance_voxels),
            methods,
        ),
        (TextureFamily::Ngldm, _) => ngldm::compute(
            grid,
            grid.clamp_distance(settings.ngldm_distance_voxels),
            settings.ngldm_coarseness_alpha,
            methods,
        ),
        // Zones are always built when a zone family is wanted.
        (TextureFamily::Glszm | TextureFamily::Gldzm, None) => Vec::new(),
    }
}

/// Zones of the occupied slices (8-connected) and of the volume (26-connected), with their
/// GLDZM edge distances, shared by GLSZM and GLDZM.
struct ZoneSets {
    slices: Vec<Vec<zones::Zone>>,
    slice_voxels: Vec<usize>,
    volume: Option<Vec<zones::Zone>>,
    volume_voxels: usize,
}

impl ZoneSets {
    fn new(grid: &Grid, settings: &TextureSettings) -> Self {
        let methods = &settings.slice_aggregations;
        let metric = settings.gldzm_distance_metric;
        let want_2d = methods.iter().any(|m| *m != SliceAggregation::ThreeD);
        let want_3d = methods.contains(&SliceAggregation::ThreeD);
        // Edge distances only serve GLDZM (GLSZM's zones need none).
        let want_distance = settings.families.contains(&TextureFamily::Gldzm);
        let in_plane = || {
            if !want_2d {
                return (Vec::new(), Vec::new());
            }
            let occupied = grid.occupied_slices();
            let dist = want_distance.then(|| zones::edge_distance(grid, metric, true));
            let voxels = occupied
                .iter()
                .map(|&z| grid.count_voxels(z..z + 1))
                .collect();
            (
                zones::label_slices(grid, &occupied, dist.as_deref()),
                voxels,
            )
        };
        let volume = || {
            want_3d.then(|| {
                let dist = want_distance.then(|| zones::edge_distance(grid, metric, false));
                zones::label(grid, 0..grid.nz, false, dist.as_deref())
            })
        };
        let ((slices, slice_voxels), volume) = rayon::join(in_plane, volume);
        ZoneSets {
            slices,
            slice_voxels,
            volume,
            volume_voxels: grid.count_voxels(0..grid.nz),
        }
    }
}
