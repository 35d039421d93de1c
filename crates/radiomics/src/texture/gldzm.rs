//! Grey level distance zone matrix (GLDZM) features, IBSI 1 section 3.9 (VMDZ).
//!
//! Zones come from the intensity mask (as for GLSZM); each zone's distance is the smallest
//! distance to the edge of the morphological mask among its voxels (see
//! [`super::zones::edge_distance`]).

use super::aggregation::SliceAggregation;
use super::naming::{FamilySpec, FeatureDef, def};
use super::size_matrix;
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

/// GLDZM features from zones whose `distance` was filled from the edge-distance maps (2D maps
/// for `slice_zones`, the 3D map for `volume_zones`).
pub(crate) fn compute(
    slice_zones: &[Vec<Zone>],
    slice_voxels: &[usize],
    volume_zones: Option<&[Zone]>,
    volume_voxels: usize,
    methods: &[SliceAggregation],
) -> Vec<Feature> {
    size_matrix::zone_family(
        &SPEC,
        |z| z.distance,
        slice_zones,
        slice_voxels,
        volume_zones,
        volume_voxels,
        methods,
    )
}
