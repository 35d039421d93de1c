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
use oncolens_core::{Geometry, LabelMap, Volume};
use std::sync::OnceLock;

use oncolens_radiomics::{
    FeatureSet, Settings, WholeImage, WholeImageStream, extract_region, region_for, region_for_box,
};

/// Features of `label` over the NIfTI image at `image_path` and the mask at `mask_path`. Both
/// files stream at once, on two threads: the mask keeps only the slices that hold the label
/// ([`LabelSlices`]) and settles the region; the image's blocks wait in memory only until then,
/// so the image's inflate, the longest step, starts at once. Falls back to reading both whole
/// when the settings resample, the label is absent or the grids differ (the whole read then
/// gives the usual, specific error).
pub fn extract_from_files(
    image_path: &Path,
    mask_path: &Path,
    label: u16,
    settings: &Settings,
) -> Result<FeatureSet> {
    let whole = || crate::radiomics::extract_whole(image_path, mask_path, label, settings);
    if settings.resampling.spacing_mm.is_some() {
        return whole();
    }
    let plan: OnceLock<Option<Region>> = OnceLock::new();
    // The region's voxels, handed over as soon as the stream has passed the region's last
    // voxel: its features are computed while the rest of the image inflates (on these CTs the
    // region ends a quarter or more before the file does). The whole-image statistics feed
    // only diagnostics and are recorded when the stream ends.
    let (handoff, region_ready) = std::sync::mpsc::sync_channel::<Vec<f32>>(1);
    let (slices, streamed, early) = std::thread::scope(|scope| {
        let plan = &plan;
        let mask_job = scope.spawn(move || {
            let read = LabelSlices::read(mask_path, label).and_then(|slices| {
                let region = slices.region(image_path, settings)?;
                Ok((slices, region))
            });
            // Whatever happens, the streaming side must learn that the plan is settled.
            let _ = plan.set(read.as_ref().ok().and_then(|(_, r)| r.clone()));
            read.map(|(slices, _)| slices)
        });
        let stream_job =
            scope.spawn(move || stream_keeping_region(image_path, plan, Some(handoff)));
        // `None` when the stream ended without handing the region over (no plan in time, or
        // the streamed path does not apply).
        let mut handed = region_ready.recv().ok();
        let slices = mask_job
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("reading the mask panicked")));
        let mut early = None;
        if let (Ok(slices), Some(Some(region))) = (&slices, plan.get())
            // A non-finite voxel fails the whole read below; features never see it.
            && handed.as_ref().is_some_and(|k| k.iter().all(|v| v.is_finite()))
            && let Some(kept) = handed.take()
        {
            let provisional = WholeImage {
                dims_zyx: region.dims,
                mean: f64::NAN,
                min: f64::NAN,
                max: f64::NAN,
            };
            early = Some(slices.label_map(region).and_then(|mask| {
                let set = features_of_region(&mask, label, settings, region, kept, &provisional)?;
                Ok((set, mask.geometry().spacing_mm))
            }));
        }
        let streamed = stream_job
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("reading the image panicked")))
            .map(|mut s| {
                if s.kept.is_none() {
                    s.kept = handed;
                }
                s
            });
        (slices, streamed, early)
    });
    let slices = slices?;
    let mut streamed = streamed?;
    if let Some(early) = early {
        let (mut set, spacing_mm) = early?;
        set.record_whole_image(&streamed.whole, spacing_mm);
        return Ok(set);
    }
    match plan.get().cloned().flatten() {
        Some(region) => {
            // The plan may have come after the last block: then the region is cut from the
            // blocks held.
            let kept = streamed
                .kept
                .take()
                .unwrap_or_else(|| cut_region(&region, &mut streamed.held));
            Ok(features_of_region(
                &slices.label_map(&region)?,
                label,
                settings,
                &region,
                kept,
                &streamed.whole,
            )?)
        }
        None => whole(),
    }
}

/// The slices of a mask that hold one label, from one streamed pass over the file, and the
/// label's bounding box: all the streamed path needs of a mask, a few slices instead of the
/// whole map (25 MB of 16-bit labels for a 512² x 48 CT, most of the mask's read time in page
/// faults).
struct LabelSlices {
    geometry: Geometry,
    /// Grid size `[z, y, x]`.
    dims: [usize; 3],
    /// `(z, labels of slice z)` for each slice holding the label, in z order.
    kept: Vec<(usize, Vec<u16>)>,
    /// Inclusive `[z, y, x]` index bounds of the label.
    bounding_box: Option<[[usize; 2]; 3]>,
}

impl LabelSlices {
    fn read(path: &Path, label: u16) -> Result<Self> {
        let context = || format!("reading mask {}", path.display());
        let info = oncolens_nifti::read_header_info(path).with_context(context)?;
        let geometry = oncolens_nifti::geometry_from_header(path, &info).with_context(context)?;
        let [nx, ny, nz] = geometry.size;
        let mut out = LabelSlices {
            geometry,
            dims: [nz, ny, nx],
            kept: Vec::new(),
            bounding_box: None,
        };
        let slice_len = nx * ny;
        if slice_len == 0 {
            return Ok(out);
        }
        let mut current: Vec<u16> = Vec::with_capacity(slice_len);
        let mut z = 0usize;
        oncolens_nifti::stream_label_map(path, |mut block, _| {
            while !block.is_empty() {
                let take = (slice_len - current.len()).min(block.len());
                current.extend_from_slice(&block[..take]);
                block = &block[take..];
                if current.len() == slice_len {
                    out.add_slice(z, &current, label);
                    current.clear();
                    z += 1;
                }
            }
        })
        .with_context(context)?;
        Ok(out)
    }

    /// Keeps slice `z` if it holds `label`, widening the bounding box.
    fn add_slice(&mut self, z: usize, slice: &[u16], label: u16) {
        let nx = self.dims[2];
        let mut rows: Option<[usize; 2]> = None;
        let mut cols: Option<[usize; 2]> = None;
        for (y, row) in slice.chunks_exact(nx).enumerate() {
            let Some(first) = row.iter().position(|&l| l == label) else {
                continue;
            };
            let last = row.iter().rposition(|&l| l == label).unwrap_or(first);
            rows = Some(rows.map_or([y, y], |[a, _]| [a, y]));
            cols = Some(cols.map_or([first, last], |[a, b]| [a.min(first), b.max(last)]));
        }
        let (Some(rows), Some(cols)) = (rows, cols) else {
            return;
        };
        self.kept.push((z, slice.to_vec()));
        self.bounding_box = Some(match self.bounding_box {
            None => [[z, z], rows, cols],
            Some([bz, by, bx]) => [
                [bz[0], z],
                [by[0].min(rows[0]), by[1].max(rows[1])],
                [bx[0].min(cols[0]), bx[1].max(cols[1])],
            ],
        });
    }

    /// The region the features read, if the streamed path applies: the label is present and
    /// the image is on the mask's grid.
    fn region(&self, image_path: &Path, settings: &Settings) -> Result<Option<Region>> {
        let Some(bounding_box) = self.bounding_box else {
            return Ok(None);
        };
        let Some(ranges) =
            region_for_box(bounding_box, self.dims, self.geometry.spacing_mm, settings)
        else {
            return Ok(None);
        };
        if !image_on_grid(image_path, &self.geometry)? {
            return Ok(None);
        }
        Ok(Some(Region {
            ranges,
            dims: self.dims,
        }))
    }

    /// The mask over `region`, with every voxel of `label` where the file has one; slices
    /// without the label read as 0 (the features read only `label`'s voxels).
    fn label_map(&self, region: &Region) -> Result<LabelMap> {
        let [rz, ry, rx] = region.ranges.clone();
        let nx = self.dims[2];
        let plane = ry.len() * rx.len();
        let mut labels = vec![0u16; rz.len() * plane];
        for (z, slice) in self.kept.iter().filter(|(z, _)| rz.contains(z)) {
            let out = &mut labels[(z - rz.start) * plane..(z - rz.start + 1) * plane];
            for (y, row) in ry.clone().zip(out.chunks_exact_mut(rx.len())) {
                row.copy_from_slice(&slice[y * nx + rx.start..y * nx + rx.end]);
            }
        }
        let labels = Array3::from_shape_vec((rz.len(), ry.len(), rx.len()), labels)?;
        Ok(LabelMap::new(
            labels,
            self.geometry.region(&region.ranges)?,
        )?)
    }
}

/// Whether the single-volume NIfTI image at `image_path` lies on `grid`.
fn image_on_grid(image_path: &Path, grid: &Geometry) -> Result<bool> {
    let info = oncolens_nifti::read_header_info(image_path)
        .with_context(|| format!("reading {}", image_path.display()))?;
    let image_grid = oncolens_nifti::geometry_from_header(image_path, &info)
        .with_context(|| format!("reading {}", image_path.display()))?;
    Ok(info.volume_count() == 1 && image_grid.same_grid(grid, GRID_TOLERANCE_MM))
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
    let mut streamed = stream_keeping_region(image_path, &plan, None)?;
    let kept = streamed
        .kept
        .take()
        .unwrap_or_else(|| cut_region(&region, &mut streamed.held));
    Ok(Some(features_of_region(
        &mask.region(&region.ranges)?,
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

impl Region {
    /// Flat index (file order) of the region's last voxel: once the stream has passed it, the
    /// region is complete.
    fn last_flat_index(&self) -> usize {
        let [_, ny, nx] = self.dims;
        let last = self.ranges.clone().map(|r| r.end.saturating_sub(1));
        (last[0] * ny + last[1]) * nx + last[2]
    }
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
    if !image_on_grid(image_path, mask.geometry())? {
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
/// says the streamed path does not apply. With `handoff`, the region's voxels are sent there as
/// soon as its last voxel has been read (and are then not in the result).
fn stream_keeping_region(
    image_path: &Path,
    plan: &OnceLock<Option<Region>>,
    handoff: Option<std::sync::mpsc::SyncSender<Vec<f32>>>,
) -> Result<Streamed> {
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
        if let (Some((region, _)), Some(to)) = (&kept, &handoff)
            && position > region.last_flat_index()
            && let Some((_, out)) = kept.take()
        {
            // The receiver waits for this or for the end of the stream; if it has gone, the
            // voxels are simply dropped with it.
            let _ = to.send(out);
        }
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
    let shape = (ranges[0].len(), ranges[1].len(), ranges[2].len());
    let image = Volume::new(
        Array3::from_shape_vec(shape, kept)?,
        mask.geometry().clone(),
    )?;
    Ok(extract_region(&image, mask, label, settings, whole)?)
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

    /// Image and mask files on a 64x64x48 grid (three stream blocks of 256 KiB): a textured
    /// image, the label as a box over slices `z`, and `nan_at` (if any) set to NaN.
    fn files(
        dir: &Path,
        z: Range<usize>,
        nan_at: Option<(usize, usize, usize)>,
    ) -> (std::path::PathBuf, std::path::PathBuf) {
        let grid = Geometry::new(
            [64, 64, 48],
            [0.8, 0.8, 2.0],
            [-20.0, 5.0, 30.0],
            oncolens_core::Direction::identity(),
        )
        .unwrap();
        let mut data = Array3::from_shape_fn((48, 64, 64), |(k, j, i)| {
            ((i * 7 + j * 13 + k * 29) % 41) as f32 * 3.0 - 40.0
        });
        if let Some(at) = nan_at {
            data[at] = f32::NAN;
        }
        let image = Volume::new(data, grid.clone()).unwrap();
        let labels = Array3::from_shape_fn((48, 64, 64), |(k, j, i)| {
            u16::from(z.contains(&k) && (20..40).contains(&j) && (10..30).contains(&i))
        });
        let mask = LabelMap::new(labels, grid).unwrap();
        let (ip, mp) = (dir.join("image.nii.gz"), dir.join("mask.nii.gz"));
        oncolens_nifti::write_volume(&ip, &image).unwrap();
        oncolens_nifti::write_label_map(&mp, &mask).unwrap();
        (ip, mp)
    }

    /// Features computed while the rest of the image still streams (the region handed over
    /// early) equal those of the image read whole, diagnostics included: for a region at the
    /// start of the file, one ending in its last block, and with the local-intensity margin.
    #[test]
    fn early_features_equal_the_whole_read() {
        let dir = tempfile::tempdir().unwrap();
        let mut local = Settings::pyradiomics();
        local.local_intensity.enabled = true;
        for (z, settings) in [
            (2..6, Settings::pyradiomics()),
            (43..48, Settings::pyradiomics()),
            (2..6, local),
        ] {
            let (ip, mp) = files(dir.path(), z.clone(), None);
            let streamed = extract_from_files(&ip, &mp, 1, &settings).unwrap();
            let whole = crate::radiomics::extract_whole(&ip, &mp, 1, &settings).unwrap();
            assert_eq!(streamed.diagnostics, whole.diagnostics, "slices {z:?}");
            assert_eq!(streamed.features.len(), whole.features.len());
            for (a, b) in streamed.features.iter().zip(&whole.features) {
                assert!(
                    a.value.to_bits() == b.value.to_bits()
                        || (a.value.is_nan() && b.value.is_nan()),
                    "{}: {} vs {} (slices {z:?})",
                    a.name,
                    a.value,
                    b.value
                );
            }
        }
    }

    /// A NaN voxel fails the read wherever it lies, inside the region (the early features are
    /// then never computed) or after it (found once the stream ends), with the usual error.
    #[test]
    fn a_nan_anywhere_fails_the_streamed_read() {
        let dir = tempfile::tempdir().unwrap();
        for at in [(3, 25, 15), (40, 1, 1)] {
            let (ip, mp) = files(dir.path(), 2..6, Some(at));
            let e = extract_from_files(&ip, &mp, 1, &Settings::pyradiomics()).unwrap_err();
            assert!(format!("{e:#}").contains("non-finite"), "{e:#}");
        }
    }

    /// The slices kept for one label give its bounding box and, over any region around it, the
    /// mask's own values wherever the label is (and the label nowhere else): what the features
    /// read of the whole map. Blocks of the stream end mid-slice (9x7 slices).
    #[test]
    fn label_slices_hold_what_the_features_read() {
        let dims = (6, 7, 9);
        let labels = Array3::from_shape_fn(dims, |(z, y, x)| match (z, y, x) {
            (1..=3, 2..=4, 3..=6) => 1,
            (5, _, 0..=2) => 1,
            (0, _, _) | (4, 6, _) => 2,
            _ => 0,
        });
        let grid = Geometry::new(
            [9, 7, 6],
            [0.7, 0.8, 2.5],
            [1.0, -2.0, 3.0],
            oncolens_core::Direction::default(),
        )
        .unwrap();
        let mask = LabelMap::new(labels.clone(), grid).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mask.nii.gz");
        oncolens_nifti::write_label_map(&path, &mask).unwrap();
        let slices = LabelSlices::read(&path, 1).unwrap();
        assert_eq!(slices.bounding_box, Some([[1, 5], [0, 6], [0, 6]]));
        assert_eq!(
            slices.kept.iter().map(|(z, _)| *z).collect::<Vec<_>>(),
            vec![1, 2, 3, 5]
        );
        let ranges = [0..6, 1..7, 2..8];
        let region = Region {
            ranges: ranges.clone(),
            dims: [6, 7, 9],
        };
        let got = slices.label_map(&region).unwrap();
        // Against the whole map as read back (the file stores its geometry in float32).
        let whole = oncolens_nifti::read_label_map(&path).unwrap();
        let want = whole.region(&ranges).unwrap();
        assert_eq!(got.geometry(), want.geometry());
        for (g, w) in got.data().iter().zip(want.data()) {
            assert_eq!(*g == 1, *w == 1);
        }
        // Label 2 is outside every kept slice but one: it only survives where label 1 is too.
        assert!(
            got.data().iter().filter(|&&l| l == 2).count()
                < want.data().iter().filter(|&&l| l == 2).count()
        );
        // An absent label keeps nothing and gives no region.
        let none = LabelSlices::read(&path, 3).unwrap();
        assert!(none.kept.is_empty() && none.bounding_box.is_none());
    }

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
