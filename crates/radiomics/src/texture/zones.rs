//! Zones (connected voxels of equal grey level) and distance to the ROI edge, shared by GLSZM
//! and GLDZM so that the zone map is built once per ROI.

use std::collections::VecDeque;
use std::ops::Range;

use rayon::prelude::*;

use super::DistanceMetric;
use super::grid::{Direction, Grid, chebyshev_offsets, face_offsets};

/// One zone: its grey level, voxel count and smallest edge distance of its voxels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Zone {
    pub level: u32,
    pub size: u32,
    /// Minimum over the zone of the distance map (>= 1); 1 when no distance map was given.
    pub distance: u32,
}

/// Zones of the whole volume (26-connected) or of one slice (8-connected, `in_plane`).
///
/// Flood fill with an explicit stack: no recursion depth limit and no per-voxel allocation.
/// Voxels away from the borders of `z_range` and the image use precomputed linear offsets; only
/// border voxels pay for bounds checks.
pub(crate) fn label(
    grid: &Grid,
    z_range: Range<usize>,
    in_plane: bool,
    distance: Option<&[u32]>,
) -> Vec<Zone> {
    let offsets = chebyshev_offsets(1, in_plane);
    let linear: Vec<isize> = offsets.iter().map(|&o| grid.linear_offset(o)).collect();
    let slice_len = grid.slice_len();
    let base = z_range.start * slice_len;
    let len = (z_range.end - z_range.start) * slice_len;
    let mut visited = vec![false; len];
    let mut stack: Vec<usize> = Vec::new();
    let mut zones = Vec::new();
    for start in base..base + len {
        let level = grid.levels[start];
        if level == 0 || visited[start - base] {
            continue;
        }
        visited[start - base] = true;
        stack.push(start);
        let mut size = 0u32;
        let mut min_distance = u32::MAX;
        while let Some(idx) = stack.pop() {
            size += 1;
            if let Some(d) = distance {
                min_distance = min_distance.min(d[idx]);
            }
            let (z, y, x) = grid.coords(idx);
            let interior = x > 0
                && x + 1 < grid.nx
                && y > 0
                && y + 1 < grid.ny
                && (in_plane || (z > z_range.start && z + 1 < z_range.end));
            let mut visit = |nb: usize| {
                if grid.levels[nb] == level && !visited[nb - base] {
                    visited[nb - base] = true;
                    stack.push(nb);
                }
            };
            if interior {
                for &l in &linear {
                    visit(idx.wrapping_add_signed(l));
                }
            } else {
                for &off in &offsets {
                    // 2D neighbours stay in-plane, 3D ones inside `z_range`.
                    if let Some(nb) = grid.neighbour(z, y, x, off)
                        && (base..base + len).contains(&nb)
                    {
                        visit(nb);
                    }
                }
            }
        }
        // A voxel of the intensity mask outside the morphological mask has distance 0;
        // IBSI's smallest distance is 1, which also keeps 1/j^2 finite.
        let distance = if distance.is_some() {
            min_distance.max(1)
        } else {
            1
        };
        zones.push(Zone {
            level,
            size,
            distance,
        });
    }
    zones
}

/// Zones of every occupied slice (2D), computed in parallel.
pub(crate) fn label_slices(
    grid: &Grid,
    slices: &[usize],
    distance: Option<&[u32]>,
) -> Vec<Vec<Zone>> {
    slices
        .par_iter()
        .map(|&z| label(grid, z..z + 1, true, distance))
        .collect()
}

/// Distance of each morphological-mask voxel to the ROI edge (IBSI GLDZM): 1 for voxels that
/// touch a non-mask voxel or the image border, growing inwards; 0 outside the mask.
///
/// IBSI defines it by repeated erosion with a 4/6-connected (Manhattan) element; a multi-source
/// breadth-first search from the edge voxels gives the same map in one pass. Chebyshev uses the
/// 8/26-connected element instead. With `in_plane` distances are measured within each slice.
pub(crate) fn edge_distance(grid: &Grid, metric: DistanceMetric, in_plane: bool) -> Vec<u32> {
    let offsets: Vec<Direction> = match metric {
        DistanceMetric::Manhattan => face_offsets(in_plane),
        DistanceMetric::Chebyshev => chebyshev_offsets(1, in_plane),
    };
    let linear: Vec<isize> = offsets.iter().map(|&o| grid.linear_offset(o)).collect();
    // Calls `f` with each neighbour of `idx`, `None` for one outside the image.
    let for_each_neighbour = |idx: usize, f: &mut dyn FnMut(Option<usize>)| {
        let (z, y, x) = grid.coords(idx);
        let interior = x > 0
            && x + 1 < grid.nx
            && y > 0
            && y + 1 < grid.ny
            && (in_plane || (z > 0 && z + 1 < grid.nz));
        if interior {
            for &l in &linear {
                f(Some(idx.wrapping_add_signed(l)));
            }
        } else {
            for &off in &offsets {
                f(grid.neighbour(z, y, x, off));
            }
        }
    };
    let mut dist = vec![0u32; grid.levels.len()];
    let mut queue: VecDeque<usize> = VecDeque::new();
    for (idx, _) in grid.morph.iter().enumerate().filter(|(_, m)| **m) {
        let mut on_edge = false;
        for_each_neighbour(idx, &mut |nb| {
            on_edge |= nb.is_none_or(|nb| !grid.morph[nb]);
        });
        if on_edge {
            dist[idx] = 1;
            queue.push_back(idx);
        }
    }
    while let Some(idx) = queue.pop_front() {
        let next = dist[idx] + 1;
        for_each_neighbour(idx, &mut |nb| {
            if let Some(nb) = nb
                && grid.morph[nb]
                && dist[nb] == 0
            {
                dist[nb] = next;
                queue.push_back(nb);
            }
        });
    }
    dist
}

#[cfg(test)]
mod tests {
    use super::super::grid::tests::grid_from;
    use super::*;

    #[test]
    fn zones_use_8_connectivity_in_plane() {
        // The two 1s touch diagonally: one zone of size 2; the 2s form one zone of size 2.
        let g = grid_from(&[&[&[1, 2], &[2, 1]]], 2);
        let mut zones = label(&g, 0..1, true, None);
        zones.sort_by_key(|z| z.level);
        assert_eq!(zones.len(), 2);
        assert_eq!((zones[0].level, zones[0].size), (1, 2));
        assert_eq!((zones[1].level, zones[1].size), (2, 2));
    }

    #[test]
    fn edge_distance_is_manhattan_erosion_depth() {
        // 5x5 filled square: border ring 1, next ring 2, centre 3.
        let row: &[u32] = &[1, 1, 1, 1, 1];
        let g = grid_from(&[&[row, row, row, row, row]], 1);
        let d = edge_distance(&g, DistanceMetric::Manhattan, true);
        assert_eq!(d[0], 1);
        assert_eq!(d[g.index(0, 1, 1)], 2);
        assert_eq!(d[g.index(0, 2, 2)], 3);
        assert_eq!(d[g.index(0, 1, 2)], 2);
    }

    #[test]
    fn zone_distance_is_minimum_over_its_voxels() {
        let row: &[u32] = &[1, 1, 1, 1, 1];
        let centre: &[u32] = &[1, 1, 2, 1, 1];
        let g = grid_from(&[&[row, row, centre, row, row]], 2);
        let d = edge_distance(&g, DistanceMetric::Manhattan, true);
        let zones = label(&g, 0..1, true, Some(&d));
        let two = zones.iter().find(|z| z.level == 2).map(|z| z.distance);
        let one = zones.iter().find(|z| z.level == 1).map(|z| z.distance);
        assert_eq!(two, Some(3));
        assert_eq!(one, Some(1));
    }

    #[test]
    fn chebyshev_distance_sees_diagonal_holes() {
        let row: &[u32] = &[1, 1, 1, 1, 1];
        let holed: &[u32] = &[1, 0, 1, 1, 1];
        let g = grid_from(&[&[row, holed, row, row, row]], 1);
        let centre = g.index(0, 2, 2);
        assert_eq!(
            edge_distance(&g, DistanceMetric::Manhattan, true)[centre],
            2
        );
        assert_eq!(
            edge_distance(&g, DistanceMetric::Chebyshev, true)[centre],
            1
        );
    }
}
