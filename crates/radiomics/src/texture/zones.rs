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

/// Zones of the whole volume (26-connected, `z_range` the whole grid) or of one slice
/// (8-connected, `in_plane`, `z_range` one slice). `distance`, when given, is in the grid's
/// layout ([`edge_distance`]).
///
/// Flood fill with an explicit stack: no recursion depth limit and no per-voxel allocation.
/// The grid's border makes every neighbour an index (outside voxels are level 0, never in a
/// zone), so the fill steps by precomputed flat offsets; in-plane offsets never leave the slice.
pub(crate) fn label(
    grid: &Grid,
    z_range: Range<usize>,
    in_plane: bool,
    distance: Option<&[u32]>,
) -> Vec<Zone> {
    let linear: Vec<isize> = chebyshev_offsets(1, in_plane)
        .iter()
        .map(|&o| grid.linear_offset(o))
        .collect();
    let span = if in_plane {
        debug_assert_eq!(z_range.len(), 1, "2D zones are labelled slice by slice");
        grid.plane(z_range.start)
    } else {
        debug_assert_eq!(z_range, 0..grid.nz, "3D zones span the whole grid");
        0..grid.levels.len()
    };
    // Levels still to be labelled: a voxel is set to 0 when it joins a zone, so one read per
    // neighbour both checks the level and that the voxel is not taken yet.
    let base = span.start;
    let mut open: Vec<u32> = grid.levels[span.clone()].to_vec();
    let mut stack: Vec<usize> = Vec::new();
    let mut zones = Vec::new();
    for start in span {
        let level = open[start - base];
        if level == 0 {
            continue;
        }
        open[start - base] = 0;
        stack.push(start);
        let mut size = 0u32;
        let mut min_distance = u32::MAX;
        while let Some(idx) = stack.pop() {
            size += 1;
            if let Some(d) = distance {
                min_distance = min_distance.min(d[idx]);
            }
            for &l in &linear {
                let nb = idx.wrapping_add_signed(l);
                let slot = &mut open[nb - base];
                if *slot == level {
                    *slot = 0;
                    stack.push(nb);
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
    // The border is outside the mask, so a voxel on the image's edge touches a non-mask voxel.
    let mut dist = vec![0u32; grid.levels.len()];
    let mut queue: VecDeque<usize> = VecDeque::new();
    for (idx, _) in grid.morph.iter().enumerate().filter(|(_, m)| **m) {
        if linear
            .iter()
            .any(|&l| !grid.morph[idx.wrapping_add_signed(l)])
        {
            dist[idx] = 1;
            queue.push_back(idx);
        }
    }
    while let Some(idx) = queue.pop_front() {
        let next = dist[idx] + 1;
        for &l in &linear {
            let nb = idx.wrapping_add_signed(l);
            if grid.morph[nb] && dist[nb] == 0 {
                dist[nb] = next;
                queue.push_back(nb);
            }
        }
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
        assert_eq!(d[g.index(0, 0, 0)], 1);
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
