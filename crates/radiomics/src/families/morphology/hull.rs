//! 3D convex hull (Quickhull with conflict lists) of the mesh vertices, for the convex-hull
//! densities and the maximum 3D diameter (whose end points are always hull vertices).

use std::collections::HashMap;

use super::mesh::{cross, dot, norm, sub};

/// Volume, area and vertices of a convex hull.
#[derive(Debug, Clone, Default)]
pub struct Hull {
    pub volume_mm3: f64,
    pub area_mm2: f64,
    pub vertices: Vec<[f64; 3]>,
}

#[derive(Clone)]
struct Face {
    v: [usize; 3],
    normal: [f64; 3],
    offset: f64,
    alive: bool,
    /// Points outside this face not yet on the hull (Quickhull's conflict list).
    outside: Vec<usize>,
}

fn make_face(p: &[[f64; 3]], v: [usize; 3]) -> Face {
    let n = cross(sub(p[v[1]], p[v[0]]), sub(p[v[2]], p[v[0]]));
    let len = norm(n).max(1e-300);
    let normal = n.map(|c| c / len);
    Face {
        v,
        normal,
        offset: dot(normal, p[v[0]]),
        alive: true,
        outside: Vec::new(),
    }
}

/// Keeps only points that are extreme (first or last) along every axis-parallel line through
/// them: any other point lies inside a segment between two points and cannot be a hull
/// vertex. This drops a mesh's O(n³)-ish vertex count to a thin shell of candidates.
pub fn reduce_points(points: &[[f64; 3]]) -> Vec<[f64; 3]> {
    let mut keep = vec![true; points.len()];
    for axis in 0..3 {
        let (o1, o2) = ((axis + 1) % 3, (axis + 2) % 3);
        let mut lines: HashMap<[u64; 2], (usize, usize)> = HashMap::new();
        for (i, p) in points.iter().enumerate() {
            lines
                .entry([p[o1].to_bits(), p[o2].to_bits()])
                .and_modify(|(lo, hi)| {
                    if p[axis] < points[*lo][axis] {
                        *lo = i;
                    }
                    if p[axis] > points[*hi][axis] {
                        *hi = i;
                    }
                })
                .or_insert((i, i));
        }
        keep_only(&mut keep, lines.into_values());
    }
    kept(points, &keep)
}

/// Clears `keep` for every point that is not one of the `ends` (both ends of each line).
fn keep_only(keep: &mut [bool], ends: impl Iterator<Item = (usize, usize)>) {
    let mut extreme = vec![false; keep.len()];
    for (lo, hi) in ends {
        extreme[lo] = true;
        extreme[hi] = true;
    }
    for (k, e) in keep.iter_mut().zip(extreme) {
        *k &= e;
    }
}

/// The points `keep` marks, sorted and without duplicates.
fn kept(points: &[[f64; 3]], keep: &[bool]) -> Vec<[f64; 3]> {
    sorted_unique(
        points
            .iter()
            .zip(keep)
            .filter(|(_, k)| **k)
            .map(|(p, _)| *p)
            .collect(),
    )
}

/// [`reduce_points`] for points on a lattice: `keys[i]` are the integer lattice coordinates of
/// `points[i]` (distinct, and equal along an axis exactly where the positions are), as a mesh's
/// half-voxel vertex keys. Lines are then cells of a dense array instead of hashed float bits:
/// the same points in the same order, several times faster.
pub fn reduce_lattice_points(points: &[[f64; 3]], keys: &[[i64; 3]]) -> Vec<[f64; 3]> {
    if points.len() != keys.len() || points.is_empty() {
        return reduce_points(points);
    }
    let lo: [i64; 3] = std::array::from_fn(|a| keys.iter().map(|k| k[a]).min().unwrap_or(0));
    let hi: [i64; 3] = std::array::from_fn(|a| keys.iter().map(|k| k[a]).max().unwrap_or(0));
    let span: [usize; 3] = std::array::from_fn(|a| (hi[a] - lo[a]) as usize + 1);
    let mut keep = vec![true; points.len()];
    for axis in 0..3 {
        let (o1, o2) = ((axis + 1) % 3, (axis + 2) % 3);
        let cell = |k: &[i64; 3]| (k[o1] - lo[o1]) as usize * span[o2] + (k[o2] - lo[o2]) as usize;
        // Per line: indices of the points with the smallest and largest coordinate on `axis`.
        let mut ends: Vec<Option<(usize, usize)>> = vec![None; span[o1] * span[o2]];
        for (i, k) in keys.iter().enumerate() {
            let e = &mut ends[cell(k)];
            *e = Some(match *e {
                None => (i, i),
                Some((a, b)) => (
                    if k[axis] < keys[a][axis] { i } else { a },
                    if k[axis] > keys[b][axis] { i } else { b },
                ),
            });
        }
        keep_only(&mut keep, ends.into_iter().flatten());
    }
    kept(points, &keep)
}

/// Points in lexicographic order, duplicates removed: the hull's input order.
fn sorted_unique(mut out: Vec<[f64; 3]>) -> Vec<[f64; 3]> {
    out.sort_by(|a, b| {
        a.iter()
            .zip(b)
            .map(|(x, y)| x.total_cmp(y))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    out.dedup();
    out
}

/// Convex hull of `points`; `None` when they are (nearly) coplanar.
pub fn convex_hull(points: &[[f64; 3]]) -> Option<Hull> {
    hull_of_candidates(reduce_points(points))
}

/// Convex hull of `p`, already reduced ([`reduce_points`], [`reduce_lattice_points`]).
pub fn hull_of_candidates(p: Vec<[f64; 3]>) -> Option<Hull> {
    if p.len() < 4 {
        return None;
    }
    let scale = p
        .iter()
        .flat_map(|q| q.iter())
        .fold(0.0f64, |m, c| m.max(c.abs()))
        .max(1.0);
    let eps = 1e-9 * scale;
    // Initial tetrahedron from extreme points.
    let i0 = (0..p.len()).min_by(|a, b| p[*a][0].total_cmp(&p[*b][0]))?;
    let i1 =
        (0..p.len()).max_by(|a, b| norm(sub(p[*a], p[i0])).total_cmp(&norm(sub(p[*b], p[i0]))))?;
    let d01 = sub(p[i1], p[i0]);
    let i2 = (0..p.len()).max_by(|a, b| {
        norm(cross(d01, sub(p[*a], p[i0]))).total_cmp(&norm(cross(d01, sub(p[*b], p[i0]))))
    })?;
    let n012 = cross(d01, sub(p[i2], p[i0]));
    if norm(n012) <= eps * eps {
        return None;
    }
    let i3 = (0..p.len()).max_by(|a, b| {
        dot(n012, sub(p[*a], p[i0]))
            .abs()
            .total_cmp(&dot(n012, sub(p[*b], p[i0])).abs())
    })?;
    if dot(n012, sub(p[i3], p[i0])).abs() / norm(n012) <= eps {
        return None;
    }
    let centroid = [0, 1, 2].map(|c| (p[i0][c] + p[i1][c] + p[i2][c] + p[i3][c]) / 4.0);
    let height = |f: &Face, q: [f64; 3]| dot(f.normal, q) - f.offset;
    let mut faces: Vec<Face> = Vec::new();
    let mut edges: HashMap<(usize, usize), usize> = HashMap::new();
    let link = |faces: &mut Vec<Face>, edges: &mut HashMap<(usize, usize), usize>, f: Face| {
        let id = faces.len();
        for k in 0..3 {
            edges.insert((f.v[k], f.v[(k + 1) % 3]), id);
        }
        faces.push(f);
        id
    };
    for v in [[i0, i1, i2], [i0, i1, i3], [i0, i2, i3], [i1, i2, i3]] {
        let mut f = make_face(&p, v);
        if dot(f.normal, centroid) > f.offset {
            f = make_face(&p, [v[0], v[2], v[1]]);
        }
        link(&mut faces, &mut edges, f);
    }
    // Every other point goes to the conflict list of one face it lies outside of; points
    // inside the tetrahedron are never looked at again.
    for (idx, q) in p.iter().enumerate() {
        if [i0, i1, i2, i3].contains(&idx) {
            continue;
        }
        if let Some(f) = faces.iter_mut().find(|f| height(f, *q) > eps) {
            f.outside.push(idx);
        }
    }
    let mut pending: Vec<usize> = (0..faces.len()).collect();
    // `seen[f] == round` marks the faces visible from the current apex.
    let mut seen: Vec<usize> = Vec::new();
    let mut round = 0usize;
    while let Some(fi) = pending.pop() {
        if !faces[fi].alive || faces[fi].outside.is_empty() {
            continue;
        }
        round += 1;
        // The farthest outside point is a hull vertex, so no face made for it is undone.
        let apex = faces[fi]
            .outside
            .iter()
            .copied()
            .max_by(|a, b| height(&faces[fi], p[*a]).total_cmp(&height(&faces[fi], p[*b])))?;
        let q = p[apex];
        seen.resize(faces.len(), 0);
        seen[fi] = round;
        let mut visible = vec![fi];
        let mut stack = vec![fi];
        while let Some(f) = stack.pop() {
            let v = faces[f].v;
            for k in 0..3 {
                if let Some(&n) = edges.get(&(v[(k + 1) % 3], v[k]))
                    && seen[n] != round
                    && faces[n].alive
                    && height(&faces[n], q) > eps
                {
                    seen[n] = round;
                    visible.push(n);
                    stack.push(n);
                }
            }
        }
        let mut horizon = Vec::new();
        let mut orphans = Vec::new();
        for &f in &visible {
            let v = faces[f].v;
            for k in 0..3 {
                let (a, b) = (v[k], v[(k + 1) % 3]);
                if edges.get(&(b, a)).is_none_or(|n| seen[*n] != round) {
                    horizon.push((a, b));
                }
            }
            orphans.append(&mut faces[f].outside);
        }
        for &f in &visible {
            faces[f].alive = false;
            let v = faces[f].v;
            for k in 0..3 {
                edges.remove(&(v[k], v[(k + 1) % 3]));
            }
        }
        let first_new = faces.len();
        for (a, b) in horizon {
            link(&mut faces, &mut edges, make_face(&p, [a, b, apex]));
        }
        // Orphans outside none of the new faces are inside the grown hull for good.
        for o in orphans.into_iter().filter(|o| *o != apex) {
            if let Some(f) = faces[first_new..]
                .iter_mut()
                .find(|f| height(f, p[o]) > eps)
            {
                f.outside.push(o);
            }
        }
        pending.extend(first_new..faces.len());
    }
    let (mut volume6, mut area2) = (0.0, 0.0);
    let mut used = vec![false; p.len()];
    for f in faces.iter().filter(|f| f.alive) {
        let [a, b, c] = f.v.map(|i| sub(p[i], centroid));
        volume6 += dot(a, cross(b, c));
        area2 += norm(cross(sub(b, a), sub(c, a)));
        for i in f.v {
            used[i] = true;
        }
    }
    Some(Hull {
        volume_mm3: volume6.abs() / 6.0,
        area_mm2: area2 / 2.0,
        vertices: p
            .iter()
            .zip(used)
            .filter(|(_, u)| *u)
            .map(|(q, _)| *q)
            .collect(),
    })
}

/// Largest distance between any two points (O(n²) over hull vertices, which are few).
pub fn max_diameter(points: &[[f64; 3]]) -> f64 {
    let mut best = 0.0f64;
    for (i, a) in points.iter().enumerate() {
        for b in &points[i + 1..] {
            best = best.max(dot(sub(*a, *b), sub(*a, *b)));
        }
    }
    best.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On lattice points the dense-array reduction keeps exactly the points (in the same order)
    /// that the hashed one keeps.
    #[test]
    fn lattice_reduction_equals_the_general_one() {
        let spacing = [0.7, 0.9, 2.5];
        let mut keys = Vec::new();
        for z in -2i64..9 {
            for y in -1i64..7 {
                for x in -3i64..11 {
                    // A lumpy blob on the half-voxel lattice.
                    if (x - 4).pow(2) + (y - 3).pow(2) * 2 + (z - 3).pow(2) < 30 + (x * y) % 5 {
                        keys.push([x, y, z]);
                    }
                }
            }
        }
        let points: Vec<[f64; 3]> = keys
            .iter()
            .map(|k| [0, 1, 2].map(|i| k[i] as f64 / 2.0 * spacing[i]))
            .collect();
        let general = reduce_points(&points);
        let lattice = reduce_lattice_points(&points, &keys);
        assert!(general.len() > 20 && general.len() < points.len());
        assert_eq!(general, lattice);
    }

    #[test]
    fn hull_of_cube_corners_and_inner_points() {
        let mut pts = Vec::new();
        for x in 0..3 {
            for y in 0..3 {
                for z in 0..3 {
                    pts.push([f64::from(x), f64::from(y), f64::from(z)]);
                }
            }
        }
        let h = convex_hull(&pts).expect("cube is not degenerate");
        assert!((h.volume_mm3 - 8.0).abs() < 1e-9, "{}", h.volume_mm3);
        assert!((h.area_mm2 - 24.0).abs() < 1e-9, "{}", h.area_mm2);
        assert!((max_diameter(&h.vertices) - 12f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn every_point_on_a_sphere_is_a_hull_vertex_and_inner_points_are_not() {
        // Deterministic spiral points on the unit sphere, plus points strictly inside.
        let n = 400;
        let mut pts: Vec<[f64; 3]> = (0..n)
            .map(|i| {
                let z = 1.0 - 2.0 * (f64::from(i) + 0.5) / f64::from(n);
                let r = (1.0 - z * z).sqrt();
                let phi = f64::from(i) * 2.399_963_229_728_653;
                [r * phi.cos(), r * phi.sin(), z]
            })
            .collect();
        let on_sphere = pts.len();
        pts.extend((0..200).map(|i| {
            let t = f64::from(i) / 200.0;
            [0.5 * t - 0.25, 0.3 * (1.0 - t), 0.1 * t]
        }));
        let h = convex_hull(&pts).expect("not degenerate");
        assert_eq!(h.vertices.len(), on_sphere);
        // Inscribed polyhedron: slightly below the sphere's 4π/3 and 4π.
        let (v, a) = (4.0 * std::f64::consts::PI / 3.0, 4.0 * std::f64::consts::PI);
        assert!(
            h.volume_mm3 < v && h.volume_mm3 > 0.98 * v,
            "{}",
            h.volume_mm3
        );
        assert!(h.area_mm2 < a && h.area_mm2 > 0.98 * a, "{}", h.area_mm2);
    }
}
