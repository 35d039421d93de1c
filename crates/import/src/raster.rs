//! Polygon rasterisation of LIDC contours.
//!
//! A contour is the chain of boundary pixels a reader drew; LIDC's convention is that the
//! outline lies just outside the nodule, so the region is the pixels whose centres are inside
//! the polygon through the contour pixels (even-odd rule), without the contour pixels
//! themselves (as pylidc's `Annotation.boolean_mask()`, whose default `include_contour_points=False`).

/// Pixels (column, row) strictly inside the closed polygon `points`, contour pixels excluded,
/// clipped to a `width` × `height` image.
pub fn fill_interior(points: &[[i64; 2]], width: usize, height: usize) -> Vec<[usize; 2]> {
    let mut out = Vec::new();
    if points.len() < 3 || width == 0 || height == 0 {
        return out;
    }
    let ymin = points.iter().map(|p| p[1]).min().unwrap_or(0).max(0);
    let ymax = points
        .iter()
        .map(|p| p[1])
        .max()
        .unwrap_or(-1)
        .min(height as i64 - 1);
    let on_contour: std::collections::HashSet<[i64; 2]> = points.iter().copied().collect();
    let mut crossings = Vec::new();
    for y in ymin..=ymax {
        crossings.clear();
        let yc = y as f64;
        for i in 0..points.len() {
            let [x1, y1] = points[i];
            let [x2, y2] = points[(i + 1) % points.len()];
            let (y1f, y2f) = (y1 as f64, y2 as f64);
            // Half-open rule: an edge counts when it crosses the row line, vertices once.
            if (y1f > yc) != (y2f > yc) {
                let t = (yc - y1f) / (y2f - y1f);
                crossings.push(x1 as f64 + t * (x2 - x1) as f64);
            }
        }
        crossings.sort_by(f64::total_cmp);
        for pair in crossings.chunks_exact(2) {
            let start = (pair[0].ceil() as i64).max(0);
            let end = (pair[1].floor() as i64).min(width as i64 - 1);
            for x in start..=end {
                if !on_contour.contains(&[x, y]) {
                    out.push([x as usize, y as usize]);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 8-connected boundary chain of an axis-aligned square from (a, a) to (b, b).
    fn square(a: i64, b: i64) -> Vec<[i64; 2]> {
        let mut p = Vec::new();
        for x in a..b {
            p.push([x, a]);
        }
        for y in a..b {
            p.push([b, y]);
        }
        for x in (a + 1..=b).rev() {
            p.push([x, b]);
        }
        for y in (a + 1..=b).rev() {
            p.push([a, y]);
        }
        p
    }

    #[test]
    fn square_interior_excludes_the_outline() {
        let px = fill_interior(&square(2, 6), 10, 10);
        assert_eq!(px.len(), 9, "{px:?}");
        assert!(
            px.iter()
                .all(|[x, y]| (3..=5).contains(x) && (3..=5).contains(y))
        );
    }

    #[test]
    fn diamond_and_clipping() {
        // A diamond through pixel centres: its interior is the centre and 4 neighbours... minus
        // the outline. Points (5,3),(7,5),(5,7),(3,5) and the chain between them.
        let d = vec![
            [5, 3],
            [6, 4],
            [7, 5],
            [6, 6],
            [5, 7],
            [4, 6],
            [3, 5],
            [4, 4],
        ];
        let px = fill_interior(&d, 10, 10);
        let mut got: Vec<[usize; 2]> = px;
        got.sort();
        assert_eq!(got, vec![[4, 5], [5, 4], [5, 5], [5, 6], [6, 5]]);
        // Clipped at the image edge without panicking.
        let px = fill_interior(&square(-3, 3), 4, 4);
        assert!(px.iter().all(|[x, y]| *x < 4 && *y < 4));
        assert_eq!(px.len(), 9);
    }
}
