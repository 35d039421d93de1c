//! Morphological features (IBSI 1 section 3.1): mesh-based size and shape, PCA axes, bounding
//! volumes, and the spatial autocorrelation of intensities.

pub mod autocorrelation;
pub mod hull;
pub mod mesh;

use std::f64::consts::PI;

use ndarray::Array3;

use crate::util::{FeatureBuilder, symmetric_eigenvalues};
use crate::{Family, Feature};

/// Calls `f(position_mm, in_morph_mask, intensity_if_in_int_mask)` for every voxel in
/// row-major `[z, y, x]` order; positions are voxel centres `[x, y, z]` in mm.
fn for_each_voxel(input: &MorphologyInput<'_>, mut f: impl FnMut([f64; 3], bool, Option<f64>)) {
    let s = input.spacing_mm;
    let (nz, ny, nx) = input.morph_mask.dim();
    let morph = input.morph_mask.as_standard_layout();
    let int = input.int_mask.as_standard_layout();
    let image = input.image.as_standard_layout();
    let mut voxels = morph.iter().zip(int.iter()).zip(image.iter());
    for z in 0..nz {
        for y in 0..ny {
            for x in 0..nx {
                let Some(((&m, &i), &v)) = voxels.next() else {
                    return;
                };
                if m || i {
                    let p = [x as f64 * s[0], y as f64 * s[1], z as f64 * s[2]];
                    f(p, m, i.then_some(v));
                }
            }
        }
    }
}

/// Inputs of the morphology family.
pub struct MorphologyInput<'a> {
    pub image: &'a Array3<f64>,
    pub morph_mask: &'a Array3<bool>,
    pub int_mask: &'a Array3<bool>,
    pub spacing_mm: [f64; 3],
    pub autocorrelation_max_voxels: usize,
    /// PCA covariance divided by `n` (PyRadiomics) instead of `n − 1` (IBSI).
    pub pca_population_covariance: bool,
    /// Triangulation of the marching-cubes mesh.
    pub mesh: mesh::MeshTriangulation,
}

/// All morphological features.
pub fn compute(input: &MorphologyInput<'_>) -> Vec<Feature> {
    let s = input.spacing_mm;
    // Meshing the bounding box alone is cheaper, and it is PyRadiomics' frame (see
    // `mesh::marching_cubes`); positions only shift, which no feature depends on.
    let m = mesh::marching_cubes(&crop_to_bounding_box(input.morph_mask), s, input.mesh);
    let [diam_slice, diam_column, diam_row] = mesh::planar_diameters(&m.vertex_keys, s);
    let (v, a) = (m.volume_mm3, m.area_mm2);
    let voxel_volume = s[0] * s[1] * s[2];

    // Centre-of-mass shift: geometric centre of the morphological mask vs intensity-weighted
    // centre of the intensity mask. Sums in row-major order over the masks, no position lists.
    let mut n_morph = 0usize;
    let mut morph_sum = [0.0; 3];
    let (mut n_int, mut int_total) = (0usize, 0.0f64);
    let mut int_weighted = [0.0; 3];
    for_each_voxel(input, |p, in_morph, int_value| {
        if in_morph {
            n_morph += 1;
            for c in 0..3 {
                morph_sum[c] += p[c];
            }
        }
        if let Some(w) = int_value {
            n_int += 1;
            int_total += w;
            for c in 0..3 {
                int_weighted[c] += p[c] * w;
            }
        }
    });
    let com_geo = morph_sum.map(|v| v / n_morph as f64);
    let com_int = int_weighted.map(|v| v / int_total);
    let com_shift = mesh::norm(mesh::sub(com_geo, com_int));

    // PCA of voxel positions: population covariance of the morphological mask.
    let mut cov = [[0.0; 3]; 3];
    for_each_voxel(input, |p, in_morph, _| {
        if in_morph {
            let d = mesh::sub(p, com_geo);
            for (r, row) in cov.iter_mut().enumerate() {
                for (c, cell) in row.iter_mut().enumerate() {
                    *cell += d[r] * d[c];
                }
            }
        }
    });
    // Sample covariance (n − 1) as the IBSI reference values use, or population covariance (n)
    // as PyRadiomics does.
    let nf = if input.pca_population_covariance {
        n_morph.max(1) as f64
    } else {
        (n_morph.max(2) - 1) as f64
    };
    for row in &mut cov {
        for cell in row.iter_mut() {
            *cell /= nf;
        }
    }
    let [l_major, l_minor, l_least] = symmetric_eigenvalues(cov).map(|l| l.max(0.0));
    let flat = "undefined for a flat or single-voxel ROI (a PCA eigenvalue is 0)";

    // Axis-aligned bounding box of the mesh.
    let (lo, hi) = m.vertices.iter().fold(
        ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]),
        |(lo, hi), p| {
            (
                [0, 1, 2].map(|c| lo[c].min(p[c])),
                [0, 1, 2].map(|c| hi[c].max(p[c])),
            )
        },
    );
    let e = [0, 1, 2].map(|c| hi[c] - lo[c]);
    let aabb_volume = e[0] * e[1] * e[2];
    let aabb_area = 2.0 * (e[0] * e[1] + e[1] * e[2] + e[0] * e[2]);

    // Approximate enclosing ellipsoid with semi-axes 2√λ.
    let (ea, eb, ec) = (
        2.0 * l_major.sqrt(),
        2.0 * l_minor.sqrt(),
        2.0 * l_least.sqrt(),
    );
    let aee_volume = 4.0 * PI / 3.0 * ea * eb * ec;
    let aee_area = ellipsoid_area(ea, eb, ec);

    let candidates = hull::reduce_lattice_points(&m.vertices, &m.vertex_keys);
    let hull = hull::hull_of_candidates(candidates.clone());
    let (hull_volume, hull_area, diameter) = match &hull {
        Some(h) => (h.volume_mm3, h.area_mm2, hull::max_diameter(&h.vertices)),
        None => (f64::NAN, f64::NAN, hull::max_diameter(&candidates)),
    };
    let degenerate_hull =
        "undefined: the mesh vertices are coplanar, the convex hull has no volume";

    let mean_int = int_total / n_int.max(1) as f64;
    let undefined_autocorr = "undefined for fewer than two voxels or a constant intensity";
    let (moran, geary, autocorr_note) = if input.autocorrelation_max_voxels == 0 {
        let note = "not computed: morphology.autocorrelation_max_voxels = 0".to_string();
        (f64::NAN, f64::NAN, note)
    } else if n_int > input.autocorrelation_max_voxels {
        let note = format!(
            "skipped: {} ROI voxels exceed morphology.autocorrelation_max_voxels = {}",
            n_int, input.autocorrelation_max_voxels
        );
        (f64::NAN, f64::NAN, note)
    } else {
        match autocorrelation::moran_geary(input.image, input.int_mask, s) {
            Ok((i, c)) => (i, c, undefined_autocorr.to_string()),
            Err(note) => (f64::NAN, f64::NAN, note),
        }
    };

    let not_impl = "not implemented (IBSI gives no reference value for this feature)";
    let mut b = FeatureBuilder::new(Family::Morphology);
    b.push("morph_volume", "RNU0", Some("shape_MeshVolume"), v, None);
    b.push(
        "morph_vol_approx",
        "YEKZ",
        Some("shape_VoxelVolume"),
        n_morph as f64 * voxel_volume,
        None,
    );
    b.push(
        "morph_area_mesh",
        "C0JK",
        Some("shape_SurfaceArea"),
        a,
        None,
    );
    b.push(
        "morph_av",
        "2PR5",
        Some("shape_SurfaceVolumeRatio"),
        a / v,
        None,
    );
    b.push(
        "morph_comp_1",
        "SKGS",
        Some("shape_Compactness1"),
        v / (PI.sqrt() * a.powf(1.5)),
        None,
    );
    b.push(
        "morph_comp_2",
        "BQWJ",
        Some("shape_Compactness2"),
        36.0 * PI * v * v / a.powi(3),
        None,
    );
    b.push(
        "morph_sph_dispr",
        "KRCK",
        Some("shape_SphericalDisproportion"),
        a / (36.0 * PI * v * v).cbrt(),
        None,
    );
    b.push(
        "morph_sphericity",
        "QCFX",
        Some("shape_Sphericity"),
        (36.0 * PI * v * v).cbrt() / a,
        None,
    );
    b.push(
        "morph_asphericity",
        "25C7",
        None,
        (a.powi(3) / (36.0 * PI * v * v)).cbrt() - 1.0,
        None,
    );
    b.push(
        "morph_com",
        "KLMA",
        None,
        com_shift,
        Some("undefined when the intensities sum to 0"),
    );
    b.push(
        "morph_diam",
        "L0JK",
        Some("shape_Maximum3DDiameter"),
        diameter,
        None,
    );
    b.push(
        "morph_pca_maj_axis",
        "TDIC",
        Some("shape_MajorAxisLength"),
        4.0 * l_major.sqrt(),
        None,
    );
    b.push(
        "morph_pca_min_axis",
        "P9VJ",
        Some("shape_MinorAxisLength"),
        4.0 * l_minor.sqrt(),
        None,
    );
    b.push(
        "morph_pca_least_axis",
        "7J51",
        Some("shape_LeastAxisLength"),
        4.0 * l_least.sqrt(),
        None,
    );
    b.push(
        "morph_pca_elongation",
        "Q3CK",
        Some("shape_Elongation"),
        (l_minor / l_major).sqrt(),
        Some(flat),
    );
    b.push(
        "morph_pca_flatness",
        "N17B",
        Some("shape_Flatness"),
        (l_least / l_major).sqrt(),
        Some(flat),
    );
    b.push("morph_vol_dens_aabb", "PBX1", None, v / aabb_volume, None);
    b.push("morph_area_dens_aabb", "R59B", None, a / aabb_area, None);
    b.push(
        "morph_vol_dens_ombb",
        "ZH1A",
        None,
        f64::NAN,
        Some(not_impl),
    );
    b.push(
        "morph_area_dens_ombb",
        "IQYR",
        None,
        f64::NAN,
        Some(not_impl),
    );
    b.push(
        "morph_vol_dens_aee",
        "6BDE",
        None,
        v / aee_volume,
        Some(flat),
    );
    b.push(
        "morph_area_dens_aee",
        "RDD2",
        None,
        a / aee_area,
        Some(flat),
    );
    b.push(
        "morph_vol_dens_mvee",
        "SWZ1",
        None,
        f64::NAN,
        Some(not_impl),
    );
    b.push(
        "morph_area_dens_mvee",
        "BRI8",
        None,
        f64::NAN,
        Some(not_impl),
    );
    b.push(
        "morph_vol_dens_conv_hull",
        "R3ER",
        None,
        v / hull_volume,
        Some(degenerate_hull),
    );
    b.push(
        "morph_area_dens_conv_hull",
        "7T7F",
        None,
        a / hull_area,
        Some(degenerate_hull),
    );
    b.push("morph_integ_int", "99N0", None, mean_int * v, None);
    b.push("morph_moran_i", "N365", None, moran, Some(&autocorr_note));
    b.push("morph_geary_c", "NPT7", None, geary, Some(&autocorr_note));
    // PyRadiomics' in-plane diameters (no IBSI definition, hence no IBSI code): the largest
    // distance between mesh vertices in the same axial, coronal and sagittal plane.
    for (tag, name, value) in [
        (
            "pyrad_shape_Maximum2DDiameterSlice",
            "shape_Maximum2DDiameterSlice",
            diam_slice,
        ),
        (
            "pyrad_shape_Maximum2DDiameterColumn",
            "shape_Maximum2DDiameterColumn",
            diam_column,
        ),
        (
            "pyrad_shape_Maximum2DDiameterRow",
            "shape_Maximum2DDiameterRow",
            diam_row,
        ),
    ] {
        b.push(tag, "", Some(name), value, None);
    }
    b.finish()
}

/// Copy of `mask` restricted to the bounding box of its `true` voxels (unchanged if empty).
fn crop_to_bounding_box(mask: &Array3<bool>) -> Array3<bool> {
    let mut lo = [usize::MAX; 3];
    let mut hi = [0usize; 3];
    for ((z, y, x), v) in mask.indexed_iter() {
        if *v {
            for (a, i) in [z, y, x].into_iter().enumerate() {
                lo[a] = lo[a].min(i);
                hi[a] = hi[a].max(i);
            }
        }
    }
    if lo[0] == usize::MAX {
        return mask.clone();
    }
    mask.slice_each_axis(|ax| {
        let a = ax.axis.index();
        ndarray::Slice::from(lo[a]..hi[a] + 1)
    })
    .to_owned()
}

/// Surface area of an ellipsoid with semi-axes `a ≥ b ≥ c` by IBSI's Legendre series (20
/// terms): `4πab Σ (αβ)^ν / (1 - 4ν²) P_ν((α² + β²) / (2αβ))`, `α² = 1 - b²/a²`,
/// `β² = 1 - c²/a²`. The product `(αβ)^ν P_ν(...)` is evaluated by a scaled three-term
/// recurrence so that a sphere (α = β = 0) needs no special case.
pub fn ellipsoid_area(a: f64, b: f64, c: f64) -> f64 {
    if a <= 0.0 {
        return f64::NAN;
    }
    let alpha2 = 1.0 - (b / a).powi(2);
    let beta2 = 1.0 - (c / a).powi(2);
    let half_sum = (alpha2 + beta2) / 2.0;
    let prod2 = alpha2 * beta2;
    // q_ν = (αβ)^ν P_ν(x), x = (α²+β²)/(2αβ): q_{ν+1} = ((2ν+1) x αβ q_ν − ν (αβ)² q_{ν−1}) / (ν+1).
    let (mut q_prev, mut q) = (1.0, half_sum);
    let mut sum = 1.0 + q / (1.0 - 4.0);
    for nu in 1..20 {
        let nf = f64::from(nu);
        let q_next = ((2.0 * nf + 1.0) * half_sum * q - nf * prod2 * q_prev) / (nf + 1.0);
        q_prev = q;
        q = q_next;
        let k = nf + 1.0;
        sum += q / (1.0 - 4.0 * k * k);
    }
    4.0 * PI * a * b * sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ellipsoid_area_of_sphere() {
        assert!((ellipsoid_area(2.0, 2.0, 2.0) - 4.0 * PI * 4.0).abs() < 1e-9);
    }

    #[test]
    fn ellipsoid_series_matches_hand_evaluation() {
        // a = 2, b = c = 1: α = β = √0.75, argument of P_ν is 1 so P_ν = 1 and the series is
        // Σ 0.75^ν / (1 − 4ν²). (IBSI's series, which its reference values use; it is not the
        // closed-form spheroid area.)
        let series: f64 = (0..=20)
            .map(|nu| 0.75f64.powi(nu) / (1.0 - 4.0 * f64::from(nu * nu)))
            .sum();
        assert!((ellipsoid_area(2.0, 1.0, 1.0) - 8.0 * PI * series).abs() < 1e-9);
    }
}
