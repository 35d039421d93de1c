//! Grey level distance zone matrix (GLDZM) features, IBSI 1 section 3.9 (VMDZ).
//!
//! Zones come from the intensity mask (as for GLSZM); each zone's distance is the smallest
//! distance to the edge of the morphological mask among its voxels (see
//! [`super::zones::edge_distance`]).

use super::aggregation::{self, SliceAggregation};
use super::naming::{self, FamilySpec, FeatureDef, def};
use super::size_matrix::{self, SizeMatrix};
use super::zones::Zone;
use crate::{Family, Feature};

/// PyRadiomics has no GLDZM, hence no PyRadiomics names.
const DEFS: [FeatureDef; 16] = [
    def("sde", "0GBI", None),
    def("lde", "MB4I", None),
    def("lgze", "S1RA", None),
    def("hgze", "K26C", None),
    def("sdlge", "RUVG", None),
    def("sdhge", "DKNJ", None),
    def("ldlge", "A7WM", None),
    def("ldhge", "KLTH", None),
    def("glnu", "VFT7", None),
    def("glnu_norm", "7HP3", None),
    def("zdnu", "V294", None),
    def("zdnu_norm", "IATH", None),
    def("z_perc", "VIWW", None),
    def("gl_var", "QK93", None),
    def("zd_var", "7WT1", None),
    def("zd_entr", "GBDU", None),
];

const SPEC: FamilySpec = FamilySpec {
    prefix: "dzm",
    family: Family::Gldzm,
    defs: &DEFS,
    pyradiomics_class: "gldzm",
    pyradiomics_suffix: "",
    empty_note: "the ROI is empty: no zones",
};

/// Zone counts by (grey level, distance to edge).
fn matrix(zones: &[Zone], n_voxels: usize) -> SizeMatrix {
    SizeMatrix::from_triples(
        zones.iter().map(|z| (z.level, z.distance, 1.0)).collect(),
        n_voxels as f64,
    )
}

fn features(m: &SizeMatrix) -> Vec<f64> {
    size_matrix::features(m, false)
}

/// GLDZM features from zones whose `distance` was filled from the edge-distance maps (2D maps
/// for `slice_zones`, the 3D map for `volume_zones`).
pub(crate) fn compute(
    slice_zones: &[Vec<Zone>],
    slice_voxels: &[usize],
    volume_zones: Option<&[Zone]>,
    volume_voxels: usize,
    methods: &[SliceAggregation],
) -> Vec<Feature> {
    let per_slice: Vec<SizeMatrix> = slice_zones
        .iter()
        .zip(slice_voxels)
        .map(|(z, &n)| matrix(z, n))
        .collect();
    let volume = volume_zones.map(|z| matrix(z, volume_voxels));
    methods
        .iter()
        .flat_map(|&method| {
            let agg = aggregation::slice_based(
                &per_slice,
                volume.as_ref(),
                method,
                DEFS.len(),
                &features,
            );
            naming::emit(&SPEC, method.tag_suffix(), &agg)
        })
        .collect()
}
