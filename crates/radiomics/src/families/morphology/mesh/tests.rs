use super::*;

const STYLES: [MeshTriangulation; 2] = [MeshTriangulation::Ibsi, MeshTriangulation::Pyradiomics];

/// Area and signed volume (tetrahedra from the cube's corner 0) of one cube's surface patch,
/// spacing 1.
fn cube_patch(case: usize, style: MeshTriangulation) -> (f64, f64) {
    let (mut area2, mut volume6) = (0.0, 0.0);
    for t in &table(style)[case] {
        let (a, b, c) = (midpoint(t[0]), midpoint(t[1]), midpoint(t[2]));
        volume6 += dot(a, cross(b, c));
        area2 += norm(cross(sub(b, a), sub(c, a)));
    }
    (area2 / 2.0, volume6 / 6.0)
}

/// The 2×2×2 mask `[z, y, x]` of configuration `case` (bit k = voxel (k & 1, k >> 1 & 1, k >> 2 & 1)).
fn block(case: usize) -> Array3<bool> {
    Array3::from_shape_fn((2, 2, 2), |(z, y, x)| case >> (x + 2 * y + 4 * z) & 1 == 1)
}

#[test]
fn single_voxel_is_an_octahedron() {
    for style in STYLES {
        let mask = Array3::from_elem((1, 1, 1), true);
        let m = marching_cubes(&mask, [1.0, 1.0, 1.0], style);
        // Octahedron with "radius" 0.5: volume 4/3 * 0.5^3, area 8 * sqrt(3)/4 * (0.5 √2)^2.
        assert!(
            (m.volume_mm3 - 4.0 / 3.0 * 0.125).abs() < 1e-12,
            "{}",
            m.volume_mm3
        );
        assert!(
            (m.area_mm2 - 8.0 * 3f64.sqrt() / 4.0 * 0.5).abs() < 1e-12,
            "{}",
            m.area_mm2
        );
        assert_eq!(m.vertices.len(), 6);
    }
}

#[test]
fn block_volume_scales_with_spacing() {
    for style in STYLES {
        let mask = Array3::from_elem((3, 3, 3), true);
        let a = marching_cubes(&mask, [1.0, 1.0, 1.0], style).volume_mm3;
        let b = marching_cubes(&mask, [2.0, 1.0, 3.0], style).volume_mm3;
        assert!((b - 6.0 * a).abs() < 1e-9);
    }
}

/// PyRadiomics triangulates a configuration and its complement identically, reversed.
#[test]
fn pyradiomics_complements_are_reversed_patches() {
    for case in 1..255 {
        let (a, v) = cube_patch(case, MeshTriangulation::Pyradiomics);
        let (ac, vc) = cube_patch(255 - case, MeshTriangulation::Pyradiomics);
        assert!((a - ac).abs() < 1e-12, "case {case}");
        assert!((v + vc).abs() < 1e-12, "case {case}");
    }
}

/// Every one of the 254 non-trivial 2×2×2 configurations against PyRadiomics' own numbers
/// (`fixtures/radiomics/pyradiomics/mesh_configurations.json`, written by `make_fixture.py`
/// with `radiomics.cShape`): the single-cube patch, and the closed surface of the isolated
/// block (area, volume, 3D and axial diameters) for two spacings.
#[test]
fn pyradiomics_triangulation_matches_every_configuration() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/radiomics/pyradiomics/mesh_configurations.json"
    );
    let text = std::fs::read_to_string(path).expect("mesh_configurations.json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let spacings: Vec<[f64; 3]> = json["spacings_xyz"]
        .as_array()
        .expect("spacings")
        .iter()
        .map(|s| [0, 1, 2].map(|i| s[i].as_f64().expect("number")))
        .collect();
    let cases = json["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 254);
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * (1.0 + b.abs());
    let mut failures = Vec::new();
    for c in cases {
        let case = c["case"].as_u64().expect("case") as usize;
        let (area, volume) = cube_patch(case, MeshTriangulation::Pyradiomics);
        let want_a = c["single_cube"]["area"].as_f64().expect("area");
        let want_v = c["single_cube"]["signed_volume"].as_f64().expect("volume");
        if !close(area, want_a) || !close(volume, want_v) {
            failures.push(format!(
                "case {case} cube: {area}/{volume} vs {want_a}/{want_v}"
            ));
        }
        for (s, want) in spacings
            .iter()
            .zip(c["isolated_block"].as_array().expect("blocks"))
        {
            let m = marching_cubes(&block(case), *s, MeshTriangulation::Pyradiomics);
            let d3 = super::super::hull::max_diameter(&m.vertices);
            let d2 = planar_diameters(&m.vertex_keys, *s)[0];
            let got = [m.area_mm2, m.volume_mm3, d3, d2];
            let keys = ["area", "volume", "max_3d_diameter", "max_2d_diameter_slice"];
            for (g, k) in got.iter().zip(keys) {
                let w = want[k].as_f64().expect("number");
                if !close(*g, w) {
                    failures.push(format!("case {case} spacing {s:?} {k}: {g} vs {w}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The IBSI mesh is watertight for every configuration: each isolated block's surface
/// encloses a volume that does not depend on where the block sits (a leaking surface would
/// change its signed volume when translated).
#[test]
fn ibsi_mesh_is_translation_invariant() {
    for case in 1..255 {
        let small = block(case);
        let mut shifted = Array3::from_elem((4, 5, 6), false);
        for ((z, y, x), v) in small.indexed_iter() {
            shifted[[z + 2, y + 3, x + 1]] = *v;
        }
        let a = marching_cubes(&small, [1.0, 1.0, 1.0], MeshTriangulation::Ibsi);
        let b = marching_cubes(&shifted, [1.0, 1.0, 1.0], MeshTriangulation::Ibsi);
        assert!((a.volume_mm3 - b.volume_mm3).abs() < 1e-9, "case {case}");
        assert!((a.area_mm2 - b.area_mm2).abs() < 1e-9, "case {case}");
    }
}
