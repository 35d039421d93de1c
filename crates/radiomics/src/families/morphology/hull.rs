//! 3D convex hull (incremental construction) of the mesh vertices, for the convex-hull
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
        let mut extreme = vec![false; points.len()];
        for (lo, hi) in lines.into_values() {
            extreme[lo] = true;
            extreme[hi] = true;
        }
        for (k, e) in keep.iter_mut().zip(extreme) {
            *k &= e;
        }
    }
    let mut out: Vec<[f64; 3]> = points
        .iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(p, _)| *p)
        .collect();
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
    let p = reduce_points(points);
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
    let mut faces: Vec<Face> = Vec::new();
    let mut edges: HashMap<(usize, usize), usize> = HashMap::new();
    let add_face =
        |faces: &mut Vec<Face>, edges: &mut HashMap<(usize, usize), usize>, v: [usize; 3]| {
            let mut f = make_face(&p, v);
            if dot(f.normal, centroid) > f.offset {
                f = make_face(&p, [v[0], v[2], v[1]]);
            }
            let id = faces.len();
            for k in 0..3 {
                edges.insert((f.v[k], f.v[(k + 1) % 3]), id);
            }
            faces.push(f);
        };
    for v in [[i0, i1, i2], [i0, i1, i3], [i0, i2, i3], [i1, i2, i3]] {
        add_face(&mut faces, &mut edges, v);
    }
    for (idx, q) in p.iter().enumerate() {
        if [i0, i1, i2, i3].contains(&idx) {
            continue;
        }
        let visible: Vec<usize> = faces
            .iter()
            .enumerate()
            .filter(|(_, f)| f.alive && dot(f.normal, *q) - f.offset > eps)
            .map(|(i, _)| i)
            .collect();
        if visible.is_empty() {
            continue;
        }
        let mut horizon = Vec::new();
        for &fi in &visible {
            let v = faces[fi].v;
            for k in 0..3 {
                let (a, b) = (v[k], v[(k + 1) % 3]);
                let neighbour = edges.get(&(b, a)).copied();
                if neighbour.is_none_or(|n| !visible.contains(&n)) {
                    horizon.push((a, b));
                }
            }
        }
        for &fi in &visible {
            faces[fi].alive = false;
            let v = faces[fi].v;
            for k in 0..3 {
                edges.remove(&(v[k], v[(k + 1) % 3]));
            }
        }
        for (a, b) in horizon {
            let f = make_face(&p, [a, b, idx]);
            let id = faces.len();
            for k in 0..3 {
                edges.insert((f.v[k], f.v[(k + 1) % 3]), id);
            }
            faces.push(f);
        }
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
}
