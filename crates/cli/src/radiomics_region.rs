//! Radiomics of a NIfTI image without holding it: the image is streamed once, the whole-image
//! statistics gathered on the way and only the region the features read (the label's box plus
//! the local-intensity margin) kept. The output equals that of reading the image whole
//! (`oncolens_radiomics::extract_region`); the saving is the whole-image allocation (tens of
//! megabytes for a CT slab, most of it page faults) and a second pass over it.

use std::ops::Range;
use std::path::Path;

use anyhow::{Context, Result};
use ndarray::Array3;
use oncolens_core::label::GRID_TOLERANCE_MM;
use oncolens_core::{LabelMap, Volume};
use std::sync::OnceLock;

use oncolens_radiomics::{
    FeatureSet, Settings, WholeImage, WholeImageStream, extract, extract_region, region_for,
};

/// Features of `label` over the NIfTI image at `image_path` and the mask at `mask_path`. The mask
/// is read on a second thread while the image streams (its blocks wait in memory only until the
/// region is known, a few milliseconds), so the image's inflate, the longest step, starts at
/// once. Falls back to reading both whole (see [`extract_streamed`] for when).
pub fn extract_from_files(
    image_path: &Path,
    mask_path: &Path,
    label: u16,
    settings: &Settings,
) -> Result<FeatureSet> {
    let plan: OnceLock<Option<Region>> = OnceLock::new();
    let (mask, streamed) = std::thread::scope(|scope| {
        let mask_job = scope.spawn(|| {
            let read = crate::radiomics::read_mask(mask_path).and_then(|mask| {
                let region = region_of(image_path, &mask, label, settings)?;
                Ok((mask, region))
            });
            // Whatever happens, the streaming side must learn that the plan is settled.
            let _ = plan.set(read.as_ref().ok().and_then(|(_, r)| r.clone()));
            read.map(|(mask, _)| mask)
        });
        let streamed = stream_keeping_region(image_path, &plan);
        let mask = mask_job
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("reading the mask panicked")));
        (mask, streamed)
    });
    let mask = mask?;
    let mut streamed = streamed?;
    match plan.get().cloned().flatten() {
        Some(region) => {
            // The plan may have come after the last block: then the region is cut from the
            // blocks held.
            let kept = streamed
                .kept
                .take()
                .unwrap_or_else(|| cut_region(&region, &mut streamed.held));
            Ok(features_of_region(
                &mask,
                label,
                settings,
                &region,
                kept,
                &streamed.whole,
            )?)
        }
        None => Ok(extract(
            &crate::radiomics::read_image(image_path)?,
            &mask,
            label,
            settings,
        )?),
    }
}

/// Features of `label` of `mask` over the NIfTI image at `image_path`, streamed (the mask
/// already read). `None` when this path does not apply and the caller should read the image
/// whole: the settings resample (the IBSI grid spans the whole image), the label is absent, or
/// the mask is not on the image's grid (reading whole then gives the usual, specific error).
pub fn extract_streamed(
    image_path: &Path,
    mask: &LabelMap,
    label: u16,
    settings: &Settings,
) -> Result<Option<FeatureSet>> {
    let Some(region) = region_of(image_path, mask, label, settings)? else {
        return Ok(None);
    };
    let plan = OnceLock::from(Some(region.clone()));
    let mut streamed = stream_keeping_region(image_path, &plan)?;
    let kept = streamed
        .kept
        .take()
        .unwrap_or_else(|| cut_region(&region, &mut streamed.held));
    Ok(Some(features_of_region(
        mask,
        label,
        settings,
        &region,
        kept,
        &streamed.whole,
    )?))
}

/// The region the features read, with the whole grid's size `[z, y, x]`.
#[derive(Debug, Clone)]
struct Region {
    ranges: [Range<usize>; 3],
    dims: [usize; 3],
}

/// The region of `label` if the streamed path applies (see [`extract_streamed`]).
fn region_of(
    image_path: &Path,
    mask: &LabelMap,
    label: u16,
    settings: &Settings,
) -> Result<Option<Region>> {
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
    Ok(Some(Region {
        ranges,
        dims: [nz, ny, nx],
    }))
}

/// What one pass over the image leaves: the whole-image statistics, and the region's voxels, or
/// (when the plan was not settled before the last block) the blocks held for it.
struct Streamed {
    kept: Option<Vec<f32>>,
    held: Vec<(usize, Vec<f32>)>,
    whole: WholeImage,
}

/// The region's voxels cut from blocks held with their flat start index.
fn cut_region(region: &Region, held: &mut Vec<(usize, Vec<f32>)>) -> Vec<f32> {
    let mut out = vec![0f32; region.ranges.iter().map(Range::len).product()];
    for (start, block) in held.drain(..) {
        copy_region(&block, start, region.dims, &region.ranges, &mut out);
    }
    out
}

/// Streams the image once: the whole-image statistics, and the voxels of the region once `plan`
/// is settled (blocks that come before are held until then). No region is kept when the plan
/// says the streamed path does not apply.
fn stream_keeping_region(image_path: &Path, plan: &OnceLock<Option<Region>>) -> Result<Streamed> {
    let mut stats = WholeImageStream::new();
    let mut held: Vec<(usize, Vec<f32>)> = Vec::new();
    let mut kept: Option<(Region, Vec<f32>)> = None;
    let mut settled = false;
    let mut position = 0usize;
    let grid = oncolens_nifti::stream_volume(image_path, |block| {
        stats.push(block);
        if !settled && let Some(p) = plan.get() {
            settled = true;
            match p {
                Some(region) => kept = Some((region.clone(), cut_region(region, &mut held))),
                None => held.clear(),
            }
        }
        match (&mut kept, settled) {
            (Some((region, out)), _) => {
                copy_region(block, position, region.dims, &region.ranges, out);
            }
            (None, false) => held.push((position, block.to_vec())),
            (None, true) => {}
        }
        position += block.len();
    })
    .with_context(|| format!("reading {}", image_path.display()))?;
    let [nx, ny, nz] = grid.size;
    let whole = stats
        .finish([nz, ny, nx])
        .with_context(|| format!("reading {}", image_path.display()))?;
    Ok(Streamed {
        kept: kept.map(|(_, out)| out),
        held,
        whole,
    })
}

fn features_of_region(
    mask: &LabelMap,
    label: u16,
    settings: &Settings,
    region: &Region,
    kept: Vec<f32>,
    whole: &WholeImage,
) -> Result<FeatureSet> {
    let ranges = &region.ranges;
    let mask = mask.region(ranges)?;
    let shape = (ranges[0].len(), ranges[1].len(), ranges[2].len());
    let image = Volume::new(
        Array3::from_shape_vec(shape, kept)?,
        mask.geometry().clone(),
    )?;
    Ok(extract_region(&image, &mask, label, settings, whole)?)
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
    use ndarray::Slice;

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
