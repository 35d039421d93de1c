//! Grey level size zone matrix (GLSZM) features, IBSI 1 section 3.8 (9SAK).

use super::aggregation::SliceAggregation;
use super::naming::{FamilySpec, FeatureDef, def};
use super::size_matrix;
use super::zones::Zone;
use crate::{Family, Feature};

const DEFS: [FeatureDef; 16] = [
    def("sze", "5QRC", Some("SmallAreaEmphasis")),
    def("lze", "48P8", Some("LargeAreaEmphasis")),
    def("lgze", "XMSY", Some("LowGrayLevelZoneEmphasis")),
    def("hgze", "5GN9", Some("HighGrayLevelZoneEmphasis")),
    def("szlge", "5RAI", Some("SmallAreaLowGrayLevelEmphasis")),
    def("szhge", "HW1V", Some("SmallAreaHighGrayLevelEmphasis")),
    def("lzlge", "YH51", Some("LargeAreaLowGrayLevelEmphasis")),
    def("lzhge", "J17V", Some("LargeAreaHighGrayLevelEmphasis")),
    def("glnu", "JNSA", Some("GrayLevelNonUniformity")),
    def(
        "glnu_norm",
        "Y1RO",
        Some("GrayLevelNonUniformityNormalized"),
    ),
    def("zsnu", "4JP3", Some("SizeZoneNonUniformity")),
    def("zsnu_norm", "VB3A", Some("SizeZoneNonUniformityNormalized")),
    def("z_perc", "P30P", Some("ZonePercentage")),
    def("gl_var", "BYLV", Some("GrayLevelVariance")),
    def("zs_var", "3NSA", Some("ZoneVariance")),
    def("zs_entr", "GU8N", Some("ZoneEntropy")),
];

/// PyRadiomics' glszm is the 3D (26-connected) matrix.
const SPEC: FamilySpec = FamilySpec {
    prefix: "szm",
    family: Family::Glszm,
    defs: &DEFS,
    pyradiomics_class: "glszm",
    pyradiomics_suffix: "3D",
    empty_note: "the ROI is empty: no zones",
};

/// GLSZM features from precomputed zones: `slice_zones[s]` with `slice_voxels[s]` ROI voxels for
/// 2D / 2.5D, `volume_zones` (26-connected) for 3D.
pub(crate) fn compute(
    slice_zones: &[Vec<Zone>],
    slice_voxels: &[usize],
    volume_zones: Option<&[Zone]>,
    volume_voxels: usize,
    methods: &[SliceAggregation],
) -> Vec<Feature> {
    size_matrix::zone_family(
        &SPEC,
        |z| z.size,
        slice_zones,
        slice_voxels,
        volume_zones,
        volume_voxels,
        methods,
    )
}
