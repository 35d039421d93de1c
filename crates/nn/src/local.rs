//! Exact re-evaluation of the image encoder's first layers for inputs that differ from a
//! reference image only inside a small box (incremental occlusion).
//!
//! Occlusion evaluates thousands of copies of one crop, each with a small window changed. A
//! convolution's output changes only where its receptive field meets the change, so the stem and
//! the first residual block (two thirds of the network's arithmetic on the demo encoder) need
//! recomputing only on a small box around the window; the cached activations of the reference
//! image supply everything else. The result is the same feature map as a full forward pass
//! (equal up to float rounding: the convolutions sum the same terms), after which the deeper,
//! coarse blocks run in full. Per-sample normalisation (group norm) makes every output depend on
//! the whole map, so encoders with it, and autodiff devices (where batch norm uses batch
//! statistics), get no evaluator and callers run full forward passes.

use burn::nn::PaddingConfig3d;
use burn::nn::conv::Conv3d;
use burn::nn::norm::Normalization;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};

use crate::NnError;
use crate::image::ImageEncoder;

/// One sample's map on the host, `[channels, d, h, w]` in row-major order.
#[derive(Debug, Clone)]
struct HostMap {
    channels: usize,
    dims: [usize; 3],
    data: Vec<f32>,
}

impl HostMap {
    fn from_tensor(t: Tensor<5>) -> Result<Self, NnError> {
        let [b, channels, d, h, w] = t.dims();
        if b != 1 {
            return Err(NnError::Batch(format!(
                "expected one reference image, got {b}"
            )));
        }
        Ok(Self {
            channels,
            dims: [d, h, w],
            data: host(t)?,
        })
    }

    fn voxels(&self) -> usize {
        self.dims.iter().product()
    }
}

fn host(t: Tensor<5>) -> Result<Vec<f32>, NnError> {
    t.into_data()
        .try_to_vec::<f32>()
        .map_err(|e| NnError::Batch(format!("{e:?}")))
}

/// New values of a map inside the box `lo .. lo + dims`, `[channels, dims]` row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct BoxPatch {
    pub lo: [usize; 3],
    pub dims: [usize; 3],
    pub values: Vec<f32>,
}

impl BoxPatch {
    fn hi(&self) -> [usize; 3] {
        [
            self.lo[0] + self.dims[0],
            self.lo[1] + self.dims[1],
            self.lo[2] + self.dims[2],
        ]
    }
}

/// Half-open index ranges along `[z, y, x]` (`(start, end)` per axis).
type Ranges = [(usize, usize); 3];

/// Geometry of one convolution along an axis.
#[derive(Debug, Clone, Copy)]
struct Axis {
    kernel: usize,
    stride: usize,
    pad: usize,
}

impl Axis {
    fn of(conv: &Conv3d) -> Result<Self, NnError> {
        let pad = match conv.padding {
            PaddingConfig3d::Explicit(a, b, c) if a == b && b == c => a,
            PaddingConfig3d::Valid => 0,
            ref p => {
                return Err(NnError::Config(format!(
                    "local evaluation needs equal explicit padding, got {p:?}"
                )));
            }
        };
        let [k, k1, k2] = conv.kernel_size;
        let [s, s1, s2] = conv.stride;
        if k != k1 || k != k2 || s != s1 || s != s2 || conv.dilation != [1; 3] || conv.groups != 1 {
            return Err(NnError::Config(
                "local evaluation needs cubic kernels and strides, no dilation or groups".into(),
            ));
        }
        Ok(Self {
            kernel: k,
            stride: s,
            pad,
        })
    }

    /// Outputs (half-open range, clamped to `0..out`) whose receptive field meets the input
    /// range `lo..hi`.
    fn affected(self, lo: usize, hi: usize, out: usize) -> (usize, usize) {
        // Output o reads inputs o*stride - pad ..= o*stride - pad + kernel - 1.
        let first = (lo + self.pad + 1).saturating_sub(self.kernel);
        let first = first.div_ceil(self.stride);
        let last = (hi - 1 + self.pad) / self.stride + 1;
        (first.min(out), last.min(out))
    }

    /// First input index (may be negative: padding) and length read by `n` outputs from `o`.
    fn reads(self, o: usize, n: usize) -> (isize, usize) {
        (
            (o * self.stride) as isize - self.pad as isize,
            (n - 1) * self.stride + self.kernel,
        )
    }
}

/// The same convolution without padding, run on crops that carry their own border.
fn unpadded(conv: &Conv3d) -> Conv3d {
    let mut c = conv.clone();
    c.padding = PaddingConfig3d::Explicit(0, 0, 0);
    c
}

/// Writes `[channels, dims]` values of `map` over the box starting at `lo` (negative or past the
/// end: zero, the convolution's padding) into `out`, with `patch` (values of the same map)
/// written over it.
fn crop_into(map: &HostMap, patch: &BoxPatch, lo: [isize; 3], dims: [usize; 3], out: &mut [f32]) {
    let [d, h, w] = map.dims;
    let [cd, ch, cw] = dims;
    let plane = cd * ch * cw;
    let inside = |v: isize, n: usize| v >= 0 && (v as usize) < n;
    for c in 0..map.channels {
        let src = &map.data[c * map.voxels()..(c + 1) * map.voxels()];
        let dst = &mut out[c * plane..(c + 1) * plane];
        for z in 0..cd {
            let sz = lo[0] + z as isize;
            for y in 0..ch {
                let sy = lo[1] + y as isize;
                let row = &mut dst[(z * ch + y) * cw..(z * ch + y + 1) * cw];
                if !inside(sz, d) || !inside(sy, h) {
                    row.fill(0.0);
                    continue;
                }
                let base = (sz as usize * h + sy as usize) * w;
                for (x, v) in row.iter_mut().enumerate() {
                    let sx = lo[2] + x as isize;
                    *v = if inside(sx, w) {
                        src[base + sx as usize]
                    } else {
                        0.0
                    };
                }
            }
        }
    }
    // The patch over the crop: the intersection of the two boxes.
    let hi = patch.hi();
    let range = |a: usize| {
        let from = (patch.lo[a] as isize).max(lo[a]);
        let to = (hi[a] as isize).min(lo[a] + dims[a] as isize);
        (from, to)
    };
    let (z0, z1) = range(0);
    let (y0, y1) = range(1);
    let (x0, x1) = range(2);
    if z0 >= z1 || y0 >= y1 || x0 >= x1 {
        return;
    }
    let [pd, ph, pw] = patch.dims;
    let len = (x1 - x0) as usize;
    for c in 0..map.channels {
        for z in z0..z1 {
            for y in y0..y1 {
                let p = ((c * pd + (z as usize - patch.lo[0])) * ph + (y as usize - patch.lo[1]))
                    * pw
                    + (x0 as usize - patch.lo[2]);
                let o = ((c * cd + (z - lo[0]) as usize) * ch + (y - lo[1]) as usize) * cw
                    + (x0 - lo[2]) as usize;
                out[o..o + len].copy_from_slice(&patch.values[p..p + len]);
            }
        }
    }
}

/// A box of `n` outputs per axis for each variant, covering its affected range and inside the
/// map: the batch shares one size, so a variant near the edge recomputes a few unchanged
/// outputs (exactly: they equal the cached ones).
fn shared_boxes(ranges: &[Ranges], out: [usize; 3]) -> (Vec<[usize; 3]>, [usize; 3]) {
    let mut n = [1usize; 3];
    for r in ranges {
        for a in 0..3 {
            n[a] = n[a].max(r[a].1.saturating_sub(r[a].0)).min(out[a]);
        }
    }
    let starts = ranges
        .iter()
        .map(|r| std::array::from_fn(|a| r[a].0.min(out[a] - n[a])))
        .collect();
    (starts, n)
}

/// Cached activations of a reference image and the unpadded copies of the first layers.
pub struct LocalEvaluator {
    device: Device,
    x: HostMap,
    stem: (Conv3d, Axis),
    /// Stem output (after relu).
    s: HostMap,
    block: Option<LocalBlock>,
}

struct LocalBlock {
    conv_a: (Conv3d, Axis),
    norm_a: Normalization,
    conv_b: (Conv3d, Axis),
    norm_b: Normalization,
    shortcut: (Conv3d, Axis),
    norm_s: Normalization,
    /// First convolution's output (after norm and relu).
    a: HostMap,
    /// The block's output.
    y: HostMap,
}

fn pointwise(norm: &Normalization) -> bool {
    matches!(norm, Normalization::Identity(_) | Normalization::Batch(_))
}

impl LocalEvaluator {
    /// Caches the activations of `x` (`[1, channels, d, h, w]`). `None` when the encoder has a
    /// per-sample normalisation or `x` is on an autodiff device (see the module's note); an
    /// error when a layer has a geometry this evaluator does not handle.
    pub fn new(encoder: &ImageEncoder, x: Tensor<5>) -> Result<Option<Self>, NnError> {
        let device = x.device();
        if device.is_autodiff() {
            return Ok(None);
        }
        let (stem, blocks) = encoder.local_parts();
        let block = match blocks.first() {
            Some(b) => {
                let (conv_a, norm_a, conv_b, norm_b, shortcut, norm_s) = b.parts();
                if ![norm_a, norm_b, norm_s].into_iter().all(pointwise) {
                    return Ok(None);
                }
                Some((conv_a, norm_a, conv_b, norm_b, shortcut, norm_s, b))
            }
            None => None,
        };
        let s_t = relu(stem.forward(x.clone()));
        let stem_axis = Axis::of(stem)?;
        let block = match block {
            Some((conv_a, norm_a, conv_b, norm_b, shortcut, norm_s, b)) => {
                let a_t = relu(norm_a.forward(conv_a.forward(s_t.clone())));
                let y_t = b.forward(s_t.clone());
                Some(LocalBlock {
                    conv_a: (unpadded(conv_a), Axis::of(conv_a)?),
                    norm_a: norm_a.clone(),
                    conv_b: (unpadded(conv_b), Axis::of(conv_b)?),
                    norm_b: norm_b.clone(),
                    shortcut: (unpadded(shortcut), Axis::of(shortcut)?),
                    norm_s: norm_s.clone(),
                    a: HostMap::from_tensor(a_t)?,
                    y: HostMap::from_tensor(y_t)?,
                })
            }
            None => None,
        };
        Ok(Some(Self {
            device,
            x: HostMap::from_tensor(x)?,
            stem: (unpadded(stem), stem_axis),
            s: HostMap::from_tensor(s_t)?,
            block,
        }))
    }

    /// Residual blocks the feature maps of [`LocalEvaluator::features`] have been through (0 or
    /// 1), for [`crate::MultimodalModel::forward_with_image_features`].
    pub fn blocks_applied(&self) -> usize {
        usize::from(self.block.is_some())
    }

    /// The encoder's feature maps after the stem and the first block, `[k, channels, ...]`, for
    /// `k` variants of the reference image, variant `i` equal to it except inside `patches[i]`
    /// (new values of every input channel in that box).
    pub fn features(&self, patches: &[BoxPatch]) -> Result<Tensor<5>, NnError> {
        for p in patches {
            let hi = p.hi();
            if p.dims.contains(&0)
                || (0..3).any(|a| hi[a] > self.x.dims[a])
                || p.values.len() != self.x.channels * p.dims.iter().product::<usize>()
            {
                return Err(NnError::Batch(format!(
                    "patch at {:?} of size {:?} does not fit a {:?} image of {} channels",
                    p.lo, p.dims, self.x.dims, self.x.channels
                )));
            }
        }
        let input_ranges: Vec<Ranges> = patches
            .iter()
            .map(|p| std::array::from_fn(|a| (p.lo[a], p.hi()[a])))
            .collect();
        let (s_patches, s_ranges) = self.layer(
            &self.stem,
            None,
            &self.x,
            patches,
            &input_ranges,
            self.s.dims,
        )?;
        let Some(b) = &self.block else {
            return self.assemble(&self.s, &s_patches);
        };
        let (a_patches, a_ranges) = self.layer(
            &b.conv_a,
            Some(&b.norm_a),
            &self.s,
            &s_patches,
            &s_ranges,
            b.a.dims,
        )?;
        // The block's output changes where either branch does.
        let ranges: Vec<Ranges> = a_ranges
            .iter()
            .zip(&s_ranges)
            .map(|(ra, rs)| {
                std::array::from_fn(|ax| {
                    let (b0, b1) = b.conv_b.1.affected(ra[ax].0, ra[ax].1, b.y.dims[ax]);
                    let (s0, s1) = b.shortcut.1.affected(rs[ax].0, rs[ax].1, b.y.dims[ax]);
                    (b0.min(s0), b1.max(s1))
                })
            })
            .collect();
        let (starts, n) = shared_boxes(&ranges, b.y.dims);
        let main = self.run(&b.conv_b, &b.a, &a_patches, &starts, n)?;
        let main = b.norm_b.forward(main);
        let skip = self.run(&b.shortcut, &self.s, &s_patches, &starts, n)?;
        let skip = b.norm_s.forward(skip);
        let y_patches = split(relu(main + skip), &starts, n)?;
        self.assemble(&b.y, &y_patches)
    }

    /// One layer on the boxes its input changed in: new output values and the output ranges
    /// that changed.
    #[allow(clippy::too_many_arguments)]
    fn layer(
        &self,
        conv: &(Conv3d, Axis),
        norm: Option<&Normalization>,
        input: &HostMap,
        patches: &[BoxPatch],
        changed: &[Ranges],
        out: [usize; 3],
    ) -> Result<(Vec<BoxPatch>, Vec<Ranges>), NnError> {
        let ranges: Vec<Ranges> = changed
            .iter()
            .map(|r| std::array::from_fn(|a| conv.1.affected(r[a].0, r[a].1, out[a])))
            .collect();
        let (starts, n) = shared_boxes(&ranges, out);
        let mut t = self.run(conv, input, patches, &starts, n)?;
        if let Some(norm) = norm {
            t = norm.forward(t);
        }
        Ok((split(relu(t), &starts, n)?, ranges))
    }

    /// `conv` (unpadded) on the crops of `input` (with each variant's patch) that give outputs
    /// `starts[i] .. starts[i] + n`: `[k, c_out, n]`.
    fn run(
        &self,
        conv: &(Conv3d, Axis),
        input: &HostMap,
        patches: &[BoxPatch],
        starts: &[[usize; 3]],
        n: [usize; 3],
    ) -> Result<Tensor<5>, NnError> {
        let axis = conv.1;
        let dims: [usize; 3] = std::array::from_fn(|a| axis.reads(0, n[a]).1);
        let per = input.channels * dims.iter().product::<usize>();
        let mut data = vec![0f32; patches.len() * per];
        for ((slot, p), s) in data.chunks_mut(per).zip(patches).zip(starts) {
            let lo = std::array::from_fn(|a| axis.reads(s[a], n[a]).0);
            crop_into(input, p, lo, dims, slot);
        }
        let x = Tensor::<5>::from_data(
            TensorData::new(
                data,
                [patches.len(), input.channels, dims[0], dims[1], dims[2]],
            ),
            &self.device,
        );
        Ok(conv.0.forward(x))
    }

    /// Full maps: `base` with each variant's patch written over it, `[k, channels, dims]`.
    fn assemble(&self, base: &HostMap, patches: &[BoxPatch]) -> Result<Tensor<5>, NnError> {
        let per = base.data.len();
        let mut data = vec![0f32; patches.len() * per];
        let lo = [0isize; 3];
        for (slot, p) in data.chunks_mut(per).zip(patches) {
            crop_into(base, p, lo, base.dims, slot);
        }
        let [d, h, w] = base.dims;
        Ok(Tensor::<5>::from_data(
            TensorData::new(data, [patches.len(), base.channels, d, h, w]),
            &self.device,
        ))
    }
}

/// Splits a `[k, c, n]` output into one patch per variant at `starts`.
fn split(t: Tensor<5>, starts: &[[usize; 3]], n: [usize; 3]) -> Result<Vec<BoxPatch>, NnError> {
    let values = host(t)?;
    let per = values.len() / starts.len().max(1);
    Ok(values
        .chunks(per)
        .zip(starts)
        .map(|(v, &lo)| BoxPatch {
            lo,
            dims: n,
            values: v.to_vec(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affected_outputs_follow_the_receptive_field() {
        let stem = Axis {
            kernel: 3,
            stride: 2,
            pad: 1,
        };
        // Inputs 4..8 meet outputs 2 (reads 3..=5), 3 and 4 (reads 7..=9).
        assert_eq!(stem.affected(4, 8, 16), (2, 5));
        assert_eq!(stem.affected(0, 1, 16), (0, 1));
        assert_eq!(stem.affected(30, 32, 16), (15, 16));
        let same = Axis {
            kernel: 3,
            stride: 1,
            pad: 1,
        };
        assert_eq!(same.affected(3, 5, 8), (2, 6));
        assert_eq!(same.affected(0, 8, 8), (0, 8));
        let point = Axis {
            kernel: 1,
            stride: 2,
            pad: 0,
        };
        assert_eq!(point.affected(3, 6, 4), (2, 3));
        assert_eq!(stem.reads(2, 3), (3, 7));
    }

    #[test]
    fn crops_pad_with_zeros_and_carry_the_patch() {
        let map = HostMap {
            channels: 1,
            dims: [2, 2, 3],
            data: (0..12).map(|v| v as f32).collect(),
        };
        let patch = BoxPatch {
            lo: [1, 1, 2],
            dims: [1, 1, 1],
            values: vec![-1.0],
        };
        let mut out = vec![9f32; 2 * 2 * 4];
        crop_into(&map, &patch, [0, 1, 0], [2, 2, 4], &mut out);
        assert_eq!(
            out,
            vec![
                3., 4., 5., 0., 0., 0., 0., 0., 9., 10., -1., 0., 0., 0., 0., 0.
            ]
        );
    }
}
