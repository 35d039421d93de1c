//! Radiomics of a NIfTI image without holding it: the image is streamed once, the whole-image
//! statistics gathered on the way and only the region the features read (the label's box plus
//! the local-intensity margin) kept. The output equals that of reading the image whole
//! (`oncolens_radiomics::extract_region`); the saving is the whole-image allocation (tens of
//! megabytes for a CT slab, most of it page faults) and a second pass over it.

use std::ops::Range;
use std::path::Path;

use anyhow::{Context, Result};
use ndarray::{Array3, Slice};
use oncolens_core::label::GRID_TOLERANCE_MM;
use oncolens_core::{Geometry, LabelMap, Volume};
use oncolens_radiomics::{FeatureSet, Settings, WholeImageStream, extract_region, region_for};

/// Features of `label` of `mask` over the NIfTI image at `image_path`, streamed. `None` when
/// this path does not apply and the caller should read the image whole: the settings resample
/// (the IBSI grid spans the whole image), the label is absent, or the mask is on another grid
/// (reading whole then gives the usual, specific error).
pub fn extract_streamed(
    image_path: &Path,
    mask: &LabelMap,
    label: u16,
    settings: &Settings,
) -> Result<Option<FeatureSet>> {
    let Some(ranges) = region_for(mask, label, settings) else {
        return Ok(None);
    };
    let info = oncolens_nifti::read_header_info(image_path)
        .with_context(|| format!("reading {}", image_path.display()))?;
    let grid = oncolens_nifti::geometry_from_header(image_path, &info)
        .with_context(|| format!("reading {}", image_path.display()))?;
    if info.volume_count() != 1 || !grid.same_grid(mask.geometry(), GRID_TOLERANCE_MM) {
        return Ok(None);
    }
    let (nz, ny, nx) = mask.data().dim();
    let dims = [nz, ny, nx];
    let mut region = vec![0f32; ranges.iter().map(Range::len).product()];
    let mut stats = WholeImageStream::new();
    let mut position = 0usize;
    oncolens_nifti::stream_volume(image_path, |block| {
        stats.push(block);
        copy_region(block, position, dims, &ranges, &mut region);
        position += block.len();
    })
    .with_context(|| format!("reading {}", image_path.display()))?;
    let whole = stats
        .finish(dims)
        .with_context(|| format!("reading {}", image_path.display()))?;

    let region_grid = sub_grid(mask.geometry(), &ranges)?;
    let shape = (ranges[0].len(), ranges[1].len(), ranges[2].len());
    let image = Volume::new(Array3::from_shape_vec(shape, region)?, region_grid.clone())?;
    let labels = mask
        .data()
        .slice_each_axis(|ax| Slice::from(ranges[ax.axis.index()].clone()))
        .to_owned();
    let mask = LabelMap::new(labels, region_grid)?;
    Ok(Some(extract_region(
        &image, &mask, label, settings, &whole,
    )?))
}

/// The grid of the voxels `ranges` (`[z, y, x]`) of `g`: same spacing and direction, origin at
/// the region's first voxel.
fn sub_grid(g: &Geometry, ranges: &[Range<usize>; 3]) -> Result<Geometry> {
    let first = [ranges[2].start, ranges[1].start, ranges[0].start].map(|i| i as f64);
    Ok(Geometry::new(
        [ranges[2].len(), ranges[1].len(), ranges[0].len()],
        g.spacing_mm,
        g.index_to_physical(first),
        g.direction,
    )?)
}

/// Copies the voxels of `block` (file order, the first at flat index `start` of a `[z, y, x]`
/// grid of size `dims`) that fall inside `ranges` into `out`, the region in `[z, y, x]` order.
fn copy_region(
    block: &[f32],
    start: usize,
    dims: [usize; 3],
    ranges: &[Range<usize>; 3],
    out: &mut [f32],
) {
    let [_, ny, nx] = dims;
    if nx == 0 || ny == 0 {
        return;
    }
    let (ry, rx) = (ranges[1].len(), ranges[2].len());
    let end = start + block.len();
    let mut row = start / nx;
    while row * nx < end {
        let (z, y) = (row / ny, row % ny);
        if ranges[0].contains(&z) && ranges[1].contains(&y) {
            let a = (row * nx + ranges[2].start).max(start);
            let b = (row * nx + ranges[2].end).min(end);
            if a < b {
                let dst = ((z - ranges[0].start) * ry + (y - ranges[1].start)) * rx
                    + (a - row * nx - ranges[2].start);
                out[dst..dst + (b - a)].copy_from_slice(&block[a - start..b - start]);
            }
        }
        row += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever the block boundaries (mid-row, mid-slice), the region equals a slice of the
    /// whole array.
    #[test]
    fn region_copy_equals_slicing_for_any_blocks() {
        let dims = [5, 7, 9];
        let whole = Array3::from_shape_fn((5, 7, 9), |(z, y, x)| (z * 100 + y * 10 + x) as f32);
        let flat: Vec<f32> = whole.iter().copied().collect();
        let ranges = [1..4, 2..7, 3..8];
        let want: Vec<f32> = whole
            .slice_each_axis(|ax| Slice::from(ranges[ax.axis.index()].clone()))
            .iter()
            .copied()
            .collect();
        for block in [1, 4, 9, 10, 63, 64, 1000] {
            let mut out = vec![f32::NAN; want.len()];
            for (k, chunk) in flat.chunks(block).enumerate() {
                copy_region(chunk, k * block, dims, &ranges, &mut out);
            }
            assert_eq!(out, want, "block {block}");
        }
    }
}
