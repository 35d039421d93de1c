//! Marching-cubes surface of a binary mask (IBSI 1 section 3.1.1).
//!
//! The mask is padded with background so the mesh is closed, and iso-level 0.5 puts every
//! vertex at an edge midpoint. The vertex set (every grid edge whose two voxels differ) does not
//! depend on the triangulation; how each cube is triangulated does, and comes in two flavours
//! ([`MeshTriangulation`]): the IBSI one derived in [`ibsi`], and PyRadiomics' classic per-cube
//! lookup behaviour in [`pyradiomics`].

mod diameter;
mod ibsi;
mod pyradiomics;

use ndarray::Array3;
use rayon::prelude::*;

pub use crate::settings::MeshTriangulation;
pub use diameter::planar_diameters;

/// Cube corner `k` sits at offset `(k & 1, (k >> 1) & 1, (k >> 2) & 1)` in `(x, y, z)`.
fn corner(k: usize) -> [f64; 3] {
    [(k & 1) as f64, ((k >> 1) & 1) as f64, ((k >> 2) & 1) as f64]
}

/// The 12 cube edges as corner pairs.
const EDGES: [(usize, usize); 12] = [
    (0, 1),
    (2, 3),
    (4, 5),
    (6, 7),
    (0, 2),
    (1, 3),
    (4, 6),
    (5, 7),
    (0, 4),
    (1, 5),
    (2, 6),
    (3, 7),
];

fn midpoint(e: usize) -> [f64; 3] {
    let (a, b) = EDGES[e];
    let (p, q) = (corner(a), corner(b));
    [0, 1, 2].map(|i| (p[i] + q[i]) / 2.0)
}

/// A triangle mesh in millimetres.
#[derive(Debug, Clone, Default)]
pub struct Mesh {
    /// Distinct vertex positions `[x, y, z]` in mm, sorted by their grid position.
    pub vertices: Vec<[f64; 3]>,
    /// Vertex positions in half-voxel units `[2x, 2y, 2z]` (same order as `vertices`), exact,
    /// so that "same slice / row / column" comparisons need no float equality.
    pub vertex_keys: Vec<[i64; 3]>,
    /// Volume enclosed by the mesh, mm³ (sum of signed tetrahedra: its magnitude for the IBSI
    /// mesh, the signed sum as PyRadiomics reports it for its mesh).
    pub volume_mm3: f64,
    /// Surface area, mm².
    pub area_mm2: f64,
}

/// Triangles of each of the 256 cube configurations under `style`.
fn table(style: MeshTriangulation) -> &'static Vec<Vec<[usize; 3]>> {
    match style {
        MeshTriangulation::Ibsi => ibsi::triangle_table(),
        MeshTriangulation::Pyradiomics => pyradiomics::triangle_table(),
    }
}

/// Builds the iso-0.5 surface of `mask` (`[z, y, x]`) with voxel spacing `[x, y, z]` mm.
///
/// Vertex positions are relative to voxel index 0 of `mask`. To reproduce PyRadiomics' volume
/// with [`MeshTriangulation::Pyradiomics`], pass the mask cropped to its bounding box (the
/// volume is summed from array index (-1, -1, -1), PyRadiomics' origin).
///
/// Slabs of cubes are processed in parallel; the per-slab sums are added in slab order so the
/// result does not depend on the thread count.
pub fn marching_cubes(mask: &Array3<bool>, spacing_mm: [f64; 3], style: MeshTriangulation) -> Mesh {
    let (nz, ny, nx) = mask.dim();
    let table = table(style);
    let padded = Padded::of(mask);
    // Flat steps to the eight corners of a cube, bit k of the case being corner
    // (k & 1, (k >> 1) & 1, (k >> 2) & 1) in (x, y, z).
    let corner: [usize; 8] =
        std::array::from_fn(|k| padded.offset(k & 1, (k >> 1) & 1, (k >> 2) & 1));
    // Precomputed vertex offsets (mm, relative to the cube origin) of every edge.
    let edge_mm: [[f64; 3]; 12] =
        std::array::from_fn(|e| [0, 1, 2].map(|i| midpoint(e)[i] * spacing_mm[i]));
    // Cube (x, y, z) spans voxel centres x..x+1 etc.; starting at -1 pads the mask.
    let slabs: Vec<(f64, f64)> = (-1..nz as isize)
        .into_par_iter()
        .map(|z| {
            let (mut volume6, mut area2) = (0.0f64, 0.0f64);
            for y in -1..ny as isize {
                // Cube (x, y, z) has its lowest corner at padded voxel (x + 1, y + 1, z + 1).
                let row = padded.index(0, (y + 1) as usize, (z + 1) as usize);
                for x in -1..nx as isize {
                    let first = row + (x + 1) as usize;
                    let mut case = 0usize;
                    for (k, step) in corner.iter().enumerate() {
                        case |= usize::from(padded.data[first + step]) << k;
                    }
                    if case == 0 || case == 255 {
                        continue;
                    }
                    // Positions relative to array index (-1, -1, -1), where PyRadiomics puts
                    // its origin (its mask is the bounding box padded by one voxel). A
                    // watertight mesh's volume does not depend on the origin; PyRadiomics'
                    // per-cube surface need not be watertight, and then it does.
                    let origin = [
                        (x + 1) as f64 * spacing_mm[0],
                        (y + 1) as f64 * spacing_mm[1],
                        (z + 1) as f64 * spacing_mm[2],
                    ];
                    let pos =
                        |e: usize| -> [f64; 3] { [0, 1, 2].map(|i| origin[i] + edge_mm[e][i]) };
                    for tri in &table[case] {
                        let (a, b, c) = (pos(tri[0]), pos(tri[1]), pos(tri[2]));
                        volume6 += dot(a, cross(b, c));
                        area2 += norm(cross(sub(b, a), sub(c, a)));
                    }
                }
            }
            (volume6, area2)
        })
        .collect();
    let (volume6, area2) = slabs
        .iter()
        .fold((0.0, 0.0), |(v, a), (dv, da)| (v + dv, a + da));
    let vertex_keys = crossed_edges(&padded);
    Mesh {
        vertices: vertex_keys
            .iter()
            .map(|k| [0, 1, 2].map(|i| k[i] as f64 / 2.0 * spacing_mm[i]))
            .collect(),
        vertex_keys,
        // PyRadiomics reports the signed sum (negative only for degenerate non-watertight
        // surfaces); the IBSI mesh is closed and outward-oriented, its magnitude is the volume.
        volume_mm3: match style {
            MeshTriangulation::Ibsi => (volume6 / 6.0).abs(),
            MeshTriangulation::Pyradiomics => volume6 / 6.0,
        },
        area_mm2: area2 / 2.0,
    }
}

/// The mask as bytes with one background voxel of padding on every side (and one more at the
/// far end of each axis, so a cube or edge starting on the last padded voxel stays inside):
/// cube corners and edge ends are then flat offsets, with no bounds checks.
struct Padded {
    data: Vec<u8>,
    /// Size `[x, y, z]` of the mask inside.
    inner: [usize; 3],
    /// Padded row length and slice size.
    row: usize,
    slice: usize,
}

impl Padded {
    fn of(mask: &Array3<bool>) -> Self {
        let (nz, ny, nx) = mask.dim();
        let (px, py, pz) = (nx + 3, ny + 3, nz + 3);
        let mut data = vec![0u8; px * py * pz];
        for ((z, y, x), &m) in mask.indexed_iter() {
            data[((z + 1) * py + y + 1) * px + x + 1] = u8::from(m);
        }
        Padded {
            data,
            inner: [nx, ny, nz],
            row: px,
            slice: px * py,
        }
    }

    /// Flat index of padded voxel (x, y, z).
    fn index(&self, x: usize, y: usize, z: usize) -> usize {
        z * self.slice + y * self.row + x
    }

    fn offset(&self, dx: usize, dy: usize, dz: usize) -> usize {
        self.index(dx, dy, dz)
    }
}

/// Every mesh vertex as a half-voxel key `[2x, 2y, 2z]`: the midpoints of the grid edges (of
/// the background-padded mask) whose two end voxels differ. Both triangulations use every such
/// edge, so this is the vertex set of either mesh, found without visiting triangles.
fn crossed_edges(padded: &Padded) -> Vec<[i64; 3]> {
    let [nx, ny, nz] = padded.inner;
    let steps = [
        padded.offset(1, 0, 0),
        padded.offset(0, 1, 0),
        padded.offset(0, 0, 1),
    ];
    let mut keys: Vec<[i64; 3]> = (-1..nz as isize)
        .into_par_iter()
        .flat_map_iter(|z| {
            let mut out = Vec::new();
            for y in -1..ny as isize {
                let row = padded.index(0, (y + 1) as usize, (z + 1) as usize);
                for x in -1..nx as isize {
                    let at = row + (x + 1) as usize;
                    let here = padded.data[at];
                    let base = [2 * x as i64, 2 * y as i64, 2 * z as i64];
                    for (axis, step) in steps.iter().enumerate() {
                        if here != padded.data[at + step] {
                            let mut k = base;
                            k[axis] += 1;
                            out.push(k);
                        }
                    }
                }
            }
            out
        })
        .collect();
    keys.sort_unstable();
    keys
}

pub fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

pub fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

pub fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

pub fn norm(a: [f64; 3]) -> f64 {
    dot(a, a).sqrt()
}

#[cfg(test)]
mod tests;
