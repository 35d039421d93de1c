//! NIfTI-1 and NIfTI-2 reading and writing with nibabel-compatible affines.
//!
//! Hand-written rather than built on the `nifti` crate because that crate cannot read NIfTI-2
//! (Enet4/nifti-rs#89) and because we want nibabel's exact choice of transform, so that a volume
//! read here sits where `nibabel.load(path).affine` says it does:
//!
//! * affine = sform if `sform_code > 0`, else qform if `qform_code > 0`, else nibabel's centred
//!   fallback (see [`AffineSource`]); codes outside 0..=5 count as 0, as after nibabel's
//!   `check_fix`. ITK/SimpleITK use a different rule when both codes are set (it can prefer the
//!   qform); where the two disagree we follow nibabel.
//! * voxels are scaled by `scl_slope`/`scl_inter` unless the slope is 0 or not finite; the
//!   arithmetic is done in `f64` and rounded to `f32` once, which is what
//!   `np.asarray(img.get_fdata(), dtype=np.float32)` gives.
//! * nibabel's affine is RAS+; [`oncolens_core::Geometry`] is LPS (ITK/DICOM), so the first two
//!   rows are negated: `affine_lps = diag(-1, -1, 1, 1) @ affine_ras`. Spacing is the norm of
//!   each 3x3 column, direction the normalised columns, origin the translation.
//! * A sheared affine (non-orthogonal columns, cosine > [`ORTHOGONALITY_TOLERANCE`]) is an error
//!   naming the file; we do not fall back to the qform, since nibabel would not either.
//! * The file stores x fastest, which is exactly the memory order of our `[z, y, x]` C-order
//!   array, so voxels are decoded in file order without any transposition.

mod header;
mod write;

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use ndarray::Array3;
use oncolens_core::{Direction, Geometry, LabelMap, Volume};
use thiserror::Error;

pub use header::{AffineSource, Datatype, Endianness, NiftiHeaderInfo};
pub use write::{
    WriteOptions, write_label_map, write_label_map_with, write_volume, write_volume_with,
};

use header::Dtype;

/// Tolerance on the cosine between two normalised affine columns above which the affine counts
/// as sheared (the same tolerance `Geometry::new` accepts for a direction matrix).
pub const ORTHOGONALITY_TOLERANCE: f64 = 1e-4;

/// Errors of reading and writing NIfTI files; every variant names the file.
#[derive(Debug, Error)]
pub enum NiftiError {
    #[error("{file}: {source}")]
    Io {
        file: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{file}: header truncated: {got} bytes, a NIfTI-{version} header needs {need}")]
    TruncatedHeader {
        file: PathBuf,
        version: u8,
        got: usize,
        need: usize,
    },
    #[error(
        "{file}: sizeof_hdr is {value}, expected 348 (NIfTI-1) or 540 (NIfTI-2) in either byte order"
    )]
    SizeofHdr { file: PathBuf, value: i32 },
    #[error("{file}: bad magic: not a NIfTI-{version} file (Analyze 7.5 is not supported)")]
    BadMagic { file: PathBuf, version: u8 },
    #[error("{file}: header field {field}: {msg}")]
    BadField {
        file: PathBuf,
        field: &'static str,
        msg: String,
    },
    #[error(
        "{file}: unsupported datatype {code} ({name}); supported: u8, i8, i16, u16, i32, u32, i64, u64, f32, f64"
    )]
    UnsupportedDatatype {
        file: PathBuf,
        code: i16,
        name: String,
    },
    #[error(
        "{file}: voxel data truncated: expected {expected} bytes at offset {offset}, found {found}"
    )]
    TruncatedData {
        file: PathBuf,
        offset: u64,
        expected: u64,
        found: u64,
    },
    #[error(
        "{file}: file holds {volumes} volumes (dim = {dim:?}); use read_volume_at(path, t) with t < {volumes}"
    )]
    NotThreeD {
        file: PathBuf,
        volumes: usize,
        dim: Vec<i64>,
    },
    #[error("{file}: volume index {index} out of range: the file holds {volumes} volumes")]
    VolumeIndex {
        file: PathBuf,
        index: usize,
        volumes: usize,
    },
    #[error(
        "{file}: {source_name} affine {affine:?} is not orthogonal (sheared; cosine between axes {cosine:.3e}); it cannot be represented as spacing + direction"
    )]
    NonOrthogonal {
        file: PathBuf,
        source_name: &'static str,
        /// Boxed to keep `Result<_, NiftiError>` small.
        affine: Box<[[f64; 4]; 4]>,
        cosine: f64,
    },
    #[error("{file}: invalid geometry: {msg}")]
    Geometry { file: PathBuf, msg: String },
    #[error("{file}: not a label map: {msg}")]
    NotLabels { file: PathBuf, msg: String },
    #[error(
        "{file}: unsupported file name: expected .nii, .nii.gz, .hdr/.img (optionally .gz){extra}"
    )]
    Extension { file: PathBuf, extra: String },
}

/// A 3D image as read from a NIfTI file: voxels (scaled, `f32`) with their LPS geometry, plus the
/// header as nibabel sees it.
#[derive(Debug, Clone)]
pub struct NiftiImage {
    pub volume: Volume<f32>,
    pub header: NiftiHeaderInfo,
}

/// The header of a file that must hold exactly one volume (else an error giving the count).
fn read_single_volume_header(path: &Path) -> Result<Header, NiftiError> {
    let hdr = read_header(path)?;
    let n = hdr.info.volume_count();
    if n != 1 {
        let nd = hdr.info.dim[0].clamp(0, 7) as usize;
        return Err(NiftiError::NotThreeD {
            file: path.to_path_buf(),
            volumes: n,
            dim: hdr.info.dim[1..=nd].to_vec(),
        });
    }
    Ok(hdr)
}

/// Reads a 3D image. A file with more than one volume (4D or higher) is an error that says how
/// many volumes it holds; read those with [`read_volume_at`]. A 4D file with a single volume is
/// accepted.
pub fn read_volume(path: &Path) -> Result<NiftiImage, NiftiError> {
    let hdr = read_single_volume_header(path)?;
    read_image(path, hdr, 0)
}

/// Reads volume `t` (0-based, over all dimensions past the third, first fastest) of a 3D or
/// higher-dimensional file; `t == 0` on a 3D file reads the image.
pub fn read_volume_at(path: &Path, t: usize) -> Result<NiftiImage, NiftiError> {
    let hdr = read_header(path)?;
    let n = hdr.info.volume_count();
    if t >= n {
        return Err(NiftiError::VolumeIndex {
            file: path.to_path_buf(),
            index: t,
            volumes: n,
        });
    }
    read_image(path, hdr, t)
}

/// Reads only the header (and computes the affine). Cheap even for large compressed files.
pub fn read_header_info(path: &Path) -> Result<NiftiHeaderInfo, NiftiError> {
    Ok(read_header(path)?.info)
}

/// Reads a 3D label map. Integer datatypes are accepted, and floating-point ones whose (scaled)
/// values are all integral; every label must lie in `0..=65535`. Anything else is an error naming
/// the file and the first offending value.
pub fn read_label_map(path: &Path) -> Result<LabelMap, NiftiError> {
    let mut labels: Vec<u16> = Vec::new();
    let geometry = stream_label_map(path, |block, remaining| {
        labels.reserve(remaining);
        labels.extend_from_slice(block);
    })?;
    let arr = grid_array(path, &geometry, labels)?;
    LabelMap::new(arr, geometry).map_err(|e| NiftiError::Geometry {
        file: path.to_path_buf(),
        msg: e.to_string(),
    })
}

/// Voxels in file order (x fastest) as a `[z, y, x]` array of `geometry`'s size.
fn grid_array<T>(path: &Path, geometry: &Geometry, data: Vec<T>) -> Result<Array3<T>, NiftiError> {
    let [x, y, z] = geometry.size;
    Array3::from_shape_vec((z, y, x), data).map_err(|e| NiftiError::Geometry {
        file: path.to_path_buf(),
        msg: e.to_string(),
    })
}

/// Streams the labels of a 3D label map in file order (x fastest, then y, then z), in blocks of
/// up to a few hundred thousand voxels, each with an upper bound of the voxels still to come,
/// and returns its geometry; the same labels and the same checks as [`read_label_map`], without
/// holding the map (a pass that keeps only the slices holding one label needs a few of them).
/// Blocks already handed over stay valid when a later voxel turns out not to be a label: the
/// caller must drop what it kept when this returns an error.
pub fn stream_label_map(
    path: &Path,
    mut sink: impl FnMut(&[u16], usize),
) -> Result<Geometry, NiftiError> {
    let hdr = read_single_volume_header(path)?;
    let geometry = geometry_from_header(path, &hdr.info)?;
    let mut first_bad: Option<(usize, f64)> = None;
    let mut index = 0usize;
    let unscaled = hdr.info.scaling.is_none_or(|(s, i)| s == 1.0 && i == 0.0);
    let dtype = hdr.dtype.ok_or_else(|| NiftiError::UnsupportedDatatype {
        file: path.to_path_buf(),
        code: hdr.info.datatype.code,
        name: hdr.info.datatype.name.clone(),
    })?;
    // The usual mask types, unscaled, go straight to u16 (no detour through f64).
    let direct = unscaled && matches!(dtype, Dtype::U8 | Dtype::U16 | Dtype::I16);
    let (slope, inter) = hdr.info.scaling.unwrap_or((1.0, 0.0));
    let mut scratch: Vec<u16> = Vec::new();
    read_blocks(
        &hdr.data_file,
        hdr.data_offset,
        hdr.volume_bytes,
        dtype.size(),
        |block, remaining| {
            scratch.clear();
            if direct {
                match dtype {
                    Dtype::U8 => scratch.extend(voxels::<u8>(block, hdr.big).map(u16::from)),
                    _ => scratch.extend(voxels::<u16>(block, hdr.big)),
                }
                // An i16 read as u16 is negative exactly when its top bit is set.
                if dtype == Dtype::I16
                    && first_bad.is_none()
                    && let Some(k) = scratch.iter().position(|v| *v >= 0x8000)
                {
                    first_bad = Some((index + k, f64::from(scratch[k] as i16)));
                }
                index += scratch.len();
            } else {
                decode_each(block, dtype, hdr.big, |mut v| {
                    // Scaled as `read_volume` scales (nibabel's apply_read_scaling).
                    if slope != 1.0 {
                        v *= slope;
                    }
                    if inter != 0.0 {
                        v += inter;
                    }
                    // `as` saturates (and maps NaN to 0), so the round trip fails exactly
                    // for values that are fractional, negative, above 65535 or NaN.
                    let label = v as u16;
                    if f64::from(label) != v && first_bad.is_none() {
                        first_bad = Some((index, v));
                    }
                    index += 1;
                    scratch.push(label);
                });
            }
            sink(&scratch, remaining);
        },
    )?;
    if let Some((i, v)) = first_bad {
        return Err(NiftiError::NotLabels {
            file: path.to_path_buf(),
            msg: format!(
                "voxel {i} has value {v} (datatype {}); labels must be integers in 0..=65535",
                hdr.info.datatype.name
            ),
        });
    }
    Ok(geometry)
}

/// Converts nibabel's RAS+ affine into our LPS geometry; see the crate docs. A sheared affine is
/// an error: we do not fall back to the qform, because nibabel would not either and silently
/// placing the image elsewhere than nibabel does is worse than refusing it.
pub fn geometry_from_header(path: &Path, info: &NiftiHeaderInfo) -> Result<Geometry, NiftiError> {
    let a = &info.affine_ras;
    let mut cols = [[0.0f64; 3]; 3];
    let mut spacing = [0.0f64; 3];
    for c in 0..3 {
        let v = [-a[0][c], -a[1][c], a[2][c]];
        let norm = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        if !(norm.is_finite() && norm > 0.0) {
            return Err(NiftiError::Geometry {
                file: path.to_path_buf(),
                msg: format!(
                    "column {c} of the {:?} affine has zero length: {a:?}",
                    info.affine_source
                ),
            });
        }
        spacing[c] = norm;
        cols[c] = [v[0] / norm, v[1] / norm, v[2] / norm];
    }
    let mut worst = 0.0f64;
    for (p, q) in [(0, 1), (0, 2), (1, 2)] {
        let d: f64 = (0..3).map(|r| cols[p][r] * cols[q][r]).sum();
        worst = worst.max(d.abs());
    }
    if worst > ORTHOGONALITY_TOLERANCE {
        return Err(NiftiError::NonOrthogonal {
            file: path.to_path_buf(),
            source_name: match info.affine_source {
                AffineSource::Sform => "sform",
                AffineSource::Qform => "qform",
                AffineSource::Fallback => "fallback",
            },
            affine: Box::new(*a),
            cosine: worst,
        });
    }
    let origin = [-a[0][3], -a[1][3], a[2][3]];
    Geometry::new(
        info.spatial_size(),
        spacing,
        origin,
        Direction::from_axes(cols[0], cols[1], cols[2]),
    )
    .map_err(|e| NiftiError::Geometry {
        file: path.to_path_buf(),
        msg: e.to_string(),
    })
}

// ---------------------------------------------------------------------------------------------
// Reading internals

/// Where the voxels live and how to open them.
struct Header {
    info: NiftiHeaderInfo,
    /// `None` for datatypes we cannot decode (complex, RGB, ...).
    dtype: Option<Dtype>,
    big: bool,
    /// File holding the voxels (the `.nii` itself, or the `.img` of a pair).
    data_file: PathBuf,
    /// Byte offset of the first voxel in the (decompressed) data file.
    data_offset: u64,
    /// Bytes of one 3D volume.
    volume_bytes: u64,
}

fn io_err(path: &Path) -> impl Fn(io::Error) -> NiftiError + '_ {
    move |source| NiftiError::Io {
        file: path.to_path_buf(),
        source,
    }
}

/// Whether the file is gzip-compressed, by its first two bytes (the gzip magic `1f 8b`), not
/// its name: a `.nii.gz` that was stored plain, or a `.nii` that was gzipped, happens (tools
/// that symlink or copy under a fixed name), and ITK and SimpleITK read both. A NIfTI header
/// starts with `sizeof_hdr` (348 or 540, either byte order), never with those bytes.
fn is_gz(path: &Path) -> Result<bool, NiftiError> {
    let mut magic = [0u8; 2];
    let mut f = File::open(path).map_err(io_err(path))?;
    let n = read_up_to_buf(&mut f, &mut magic).map_err(io_err(path))?;
    Ok(n == 2 && magic == [0x1f, 0x8b])
}

/// Fills `buf` from `r` as far as the stream goes; returns how many bytes were read.
fn read_up_to_buf(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Lower-case file name without a trailing `.gz`.
fn stem_ext(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    name.strip_suffix(".gz").map(str::to_owned).unwrap_or(name)
}

/// Opens a file, transparently gunzipping `.gz`.
fn open(path: &Path) -> Result<Box<dyn Read>, NiftiError> {
    let f = File::open(path).map_err(io_err(path))?;
    let r = BufReader::new(f);
    Ok(if is_gz(path)? {
        Box::new(flate2::read::MultiGzDecoder::new(r))
    } else {
        Box::new(r)
    })
}

/// Reads up to `n` bytes; fewer only at end of stream.
fn read_up_to(path: &Path, r: &mut dyn Read, n: u64) -> Result<Vec<u8>, NiftiError> {
    let mut buf = Vec::new();
    r.take(n).read_to_end(&mut buf).map_err(io_err(path))?;
    Ok(buf)
}

/// Replaces the extension of a pair member, keeping a `.gz` suffix if `like` has one.
fn pair_partner(path: &Path, ext: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (base, gz) = match name.strip_suffix(".gz") {
        Some(b) => (b.to_owned(), ".gz"),
        None => (name.clone(), ""),
    };
    let stem = match base.rfind('.') {
        Some(i) => &base[..i],
        None => base.as_str(),
    };
    let upper = base.ends_with(".HDR") || base.ends_with(".IMG");
    let ext = if upper {
        ext.to_ascii_uppercase()
    } else {
        ext.to_owned()
    };
    path.with_file_name(format!("{stem}.{ext}{gz}"))
}

fn read_header(path: &Path) -> Result<Header, NiftiError> {
    let ext = stem_ext(path);
    let (hdr_path, pair) = if ext.ends_with(".nii") {
        (path.to_path_buf(), false)
    } else if ext.ends_with(".hdr") {
        (path.to_path_buf(), true)
    } else if ext.ends_with(".img") {
        (pair_partner(path, "hdr"), true)
    } else {
        return Err(NiftiError::Extension {
            file: path.to_path_buf(),
            extra: String::new(),
        });
    };
    let mut r = open(&hdr_path)?;
    let first = read_up_to(&hdr_path, &mut r, header::NIFTI1_HDR as u64)?;
    if first.len() < 4 {
        return Err(NiftiError::TruncatedHeader {
            file: hdr_path,
            version: 1,
            got: first.len(),
            need: header::NIFTI1_HDR,
        });
    }
    let (version, big) = header::sniff(&hdr_path, [first[0], first[1], first[2], first[3]])?;
    let need = if version == 1 {
        header::NIFTI1_HDR
    } else {
        header::NIFTI2_HDR
    };
    let mut bytes = first;
    if bytes.len() == header::NIFTI1_HDR && need > bytes.len() {
        let more = read_up_to(&hdr_path, &mut r, (need - bytes.len()) as u64)?;
        bytes.extend_from_slice(&more);
    }
    if bytes.len() < need {
        return Err(NiftiError::TruncatedHeader {
            file: hdr_path,
            version,
            got: bytes.len(),
            need,
        });
    }
    let info = header::parse(&hdr_path, &bytes, version, big)?;
    if info.is_pair != pair {
        return Err(NiftiError::BadField {
            file: hdr_path,
            field: "magic",
            msg: if pair {
                "single-file magic (n+1/n+2) in a .hdr file".to_owned()
            } else {
                "pair magic (ni1/ni2) in a .nii file".to_owned()
            },
        });
    }
    // An unsupported datatype is reported when voxels are read, so headers stay inspectable.
    let dtype = Dtype::from_code(info.datatype.code);
    let vo = info.vox_offset;
    if !(vo.is_finite() && vo >= 0.0 && vo.fract() == 0.0) {
        return Err(NiftiError::BadField {
            file: hdr_path,
            field: "vox_offset",
            msg: format!("{vo} is not a non-negative integer"),
        });
    }
    let min_single = (need + 4) as f64;
    let data_offset = if pair {
        vo as u64
    } else if vo == 0.0 {
        // nibabel's fix for a zero offset in a single file: the minimum.
        min_single as u64
    } else if vo < min_single {
        return Err(NiftiError::BadField {
            file: hdr_path,
            field: "vox_offset",
            msg: format!("{vo} is inside the header (minimum {min_single} for a single file)"),
        });
    } else {
        vo as u64
    };
    let [x, y, z] = info.spatial_size();
    let volume_bytes = (x as u64)
        .checked_mul(y as u64)
        .and_then(|v| v.checked_mul(z as u64))
        .and_then(|v| v.checked_mul(dtype.map_or(1, Dtype::size) as u64))
        .filter(|v| usize::try_from(*v).is_ok())
        .ok_or_else(|| NiftiError::BadField {
            file: hdr_path.clone(),
            field: "dim",
            msg: format!("volume size {x} x {y} x {z} overflows"),
        })?;
    let data_file = if pair {
        pair_partner(&hdr_path, "img")
    } else {
        hdr_path.clone()
    };
    Ok(Header {
        info,
        dtype,
        big,
        data_file,
        data_offset,
        volume_bytes,
    })
}

/// Decodes volume `t` to `f32` block by block, in file order, calling `sink(block, remaining)`
/// with each block and (an upper bound on) how many voxels are still to come, so a caller that
/// keeps everything can reserve once. Values are those of [`read_volume`]: unscaled integer types
/// that `f32` holds exactly and `f32` itself go straight to `f32`; anything else (scaled, or
/// wider types) is decoded in `f64`, scaled as nibabel does and rounded once to `f32`, exactly as
/// `np.asarray(img.get_fdata(), np.float32)`.
fn decode_f32_blocks(
    path: &Path,
    hdr: &Header,
    t: usize,
    mut sink: impl FnMut(&[f32], usize),
) -> Result<(), NiftiError> {
    let dtype = hdr.dtype.ok_or_else(|| NiftiError::UnsupportedDatatype {
        file: path.to_path_buf(),
        code: hdr.info.datatype.code,
        name: hdr.info.datatype.name.clone(),
    })?;
    let unscaled = hdr.info.scaling.is_none_or(|(s, i)| s == 1.0 && i == 0.0);
    let (slope, inter) = hdr.info.scaling.unwrap_or((1.0, 0.0));
    let big = hdr.big;
    let mut scratch: Vec<f32> = Vec::new();
    read_blocks(
        &hdr.data_file,
        data_start(path, hdr, t)?,
        hdr.volume_bytes,
        dtype.size(),
        |block, remaining| {
            scratch.clear();
            match (unscaled, dtype) {
                (true, Dtype::U8) => scratch.extend(voxels::<u8>(block, big).map(f32::from)),
                (true, Dtype::I8) => scratch.extend(voxels::<i8>(block, big).map(f32::from)),
                (true, Dtype::I16) => scratch.extend(voxels::<i16>(block, big).map(f32::from)),
                (true, Dtype::U16) => scratch.extend(voxels::<u16>(block, big).map(f32::from)),
                (true, Dtype::F32) => scratch.extend(voxels::<f32>(block, big)),
                // Multiply unless 1, add unless 0 (nibabel's apply_read_scaling), so -0.0 and
                // NaN payloads of unscaled float data survive untouched.
                _ => decode_each(block, dtype, big, |mut v| {
                    if slope != 1.0 {
                        v *= slope;
                    }
                    if inter != 0.0 {
                        v += inter;
                    }
                    scratch.push(v as f32);
                }),
            }
            sink(&scratch, remaining);
        },
    )
}

/// Streams the voxels of a 3D image in file order (x fastest, then y, then z), as `f32` with the
/// values [`read_volume`] gives, in blocks of up to a few hundred thousand voxels, and returns
/// its geometry. Nothing of the image is held: for a pass that keeps only a region of interest
/// or statistics, a whole CT slab costs no more memory than one block.
pub fn stream_volume(path: &Path, mut sink: impl FnMut(&[f32])) -> Result<Geometry, NiftiError> {
    let hdr = read_single_volume_header(path)?;
    let geometry = geometry_from_header(path, &hdr.info)?;
    decode_f32_blocks(path, &hdr, 0, |block, _| sink(block))?;
    Ok(geometry)
}

/// Byte offset of volume `t` in the (inflated) data file.
fn data_start(path: &Path, hdr: &Header, t: usize) -> Result<u64, NiftiError> {
    (t as u64)
        .checked_mul(hdr.volume_bytes)
        .and_then(|v| v.checked_add(hdr.data_offset))
        .ok_or_else(|| NiftiError::BadField {
            file: path.to_path_buf(),
            field: "dim",
            msg: "data offset overflows".to_owned(),
        })
}

/// Inflates (or reads) the `len` data bytes at `offset` of `file` in blocks of whole
/// `elem_size`-byte voxels and hands each to `f` with the number of voxels still to come
/// (bounded by what the file can hold, for reserving): no copy of the raw volume is ever held.
fn read_blocks(
    file: &Path,
    offset: u64,
    len: u64,
    elem_size: usize,
    mut f: impl FnMut(&[u8], usize),
) -> Result<(), NiftiError> {
    let (mut r, bound) = data_reader(file, offset)?;
    let mut remaining_voxels = usize::try_from(len.min(bound)).unwrap_or(0) / elem_size;
    let mut block = vec![0u8; 1 << 18];
    let (mut carry, mut found) = (0usize, 0u64);
    while found < len {
        let want = usize::try_from(len - found)
            .unwrap_or(usize::MAX)
            .min(block.len() - carry);
        let n = match r.read(&mut block[carry..carry + want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err(file)(e)),
        };
        found += n as u64;
        let filled = carry + n;
        let whole = filled - filled % elem_size;
        f(&block[..whole], remaining_voxels);
        remaining_voxels = remaining_voxels.saturating_sub(whole / elem_size);
        block.copy_within(whole..filled, 0);
        carry = filled - whole;
    }
    if found < len {
        return Err(NiftiError::TruncatedData {
            file: file.to_path_buf(),
            offset,
            expected: len,
            found,
        });
    }
    Ok(())
}

/// A reader positioned at byte `offset` of the (inflated) data of `file`, and an upper bound
/// on how many bytes it can yield, so a corrupt header cannot make us allocate gigabytes up
/// front. A compressed file is inflated through a large buffer (it is never held whole: a 4D
/// series can be gigabytes). Inflating the whole file in one call with libdeflate was tried:
/// 1.7x faster on its own, but no faster in `oncolens radiomics` (the streamed blocks stay in
/// cache while they are decoded; the whole buffer is page faults) and 2.4x the memory.
fn data_reader(file: &Path, offset: u64) -> Result<(Box<dyn Read>, u64), NiftiError> {
    use std::io::{Seek, SeekFrom};
    if is_gz(file)? {
        let f = File::open(file).map_err(io_err(file))?;
        // DEFLATE expands at most ~1032:1.
        let bound = f
            .metadata()
            .map_err(io_err(file))?
            .len()
            .saturating_mul(1032);
        let mut r = flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 20, f));
        io::copy(&mut (&mut r).take(offset), &mut io::sink()).map_err(io_err(file))?;
        Ok((Box::new(r), bound))
    } else {
        let mut f = File::open(file).map_err(io_err(file))?;
        let size = f.metadata().map_err(io_err(file))?.len();
        f.seek(SeekFrom::Start(offset.min(size)))
            .map_err(io_err(file))?;
        Ok((Box::new(f), size.saturating_sub(offset)))
    }
}

/// One voxel decoded from its bytes in file order (little- or big-endian).
trait Voxel: Sized {
    const SIZE: usize;
    fn read(bytes: &[u8], big: bool) -> Self;
}

macro_rules! voxel {
    ($($t:ty),*) => {$(
        impl Voxel for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            // Inlined into the decoding loops, which then vectorise (a call per voxel does not).
            #[inline(always)]
            fn read(bytes: &[u8], big: bool) -> Self {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(bytes);
                if big { <$t>::from_be_bytes(a) } else { <$t>::from_le_bytes(a) }
            }
        }
    )*};
}
voxel!(u8, i8, i16, u16, i32, u32, i64, u64, f32, f64);

/// The voxels of `raw` (whole voxels, file order) as `T`.
fn voxels<T: Voxel>(raw: &[u8], big: bool) -> impl Iterator<Item = T> + '_ {
    raw.chunks_exact(T::SIZE).map(move |c| T::read(c, big))
}

/// Calls `f` with every voxel of `raw` (file order) as `f64`, which holds every supported type's
/// values exactly except 64-bit integers beyond 2^53 (rounded, as numpy's float64 conversion
/// does). One monomorphised loop per type: this runs once per voxel of every image read.
fn decode_each(raw: &[u8], dtype: Dtype, big: bool, mut f: impl FnMut(f64)) {
    match dtype {
        Dtype::U8 => voxels::<u8>(raw, big).for_each(|v| f(f64::from(v))),
        Dtype::I8 => voxels::<i8>(raw, big).for_each(|v| f(f64::from(v))),
        Dtype::I16 => voxels::<i16>(raw, big).for_each(|v| f(f64::from(v))),
        Dtype::U16 => voxels::<u16>(raw, big).for_each(|v| f(f64::from(v))),
        Dtype::I32 => voxels::<i32>(raw, big).for_each(|v| f(f64::from(v))),
        Dtype::U32 => voxels::<u32>(raw, big).for_each(|v| f(f64::from(v))),
        Dtype::I64 => voxels::<i64>(raw, big).for_each(|v| f(v as f64)),
        Dtype::U64 => voxels::<u64>(raw, big).for_each(|v| f(v as f64)),
        Dtype::F32 => voxels::<f32>(raw, big).for_each(|v| f(f64::from(v))),
        Dtype::F64 => voxels::<f64>(raw, big).for_each(f),
    }
}

fn read_image(path: &Path, hdr: Header, t: usize) -> Result<NiftiImage, NiftiError> {
    let geometry = geometry_from_header(path, &hdr.info)?;
    let mut data: Vec<f32> = Vec::new();
    decode_f32_blocks(path, &hdr, t, |block, capacity| {
        data.reserve(capacity);
        data.extend_from_slice(block);
    })?;
    let arr = grid_array(path, &geometry, data)?;
    let volume = Volume::new(arr, geometry).map_err(|e| NiftiError::Geometry {
        file: path.to_path_buf(),
        msg: e.to_string(),
    })?;
    Ok(NiftiImage {
        volume,
        header: hdr.info,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_partner_keeps_case_and_gz() {
        assert_eq!(
            pair_partner(Path::new("/a/b.hdr"), "img"),
            Path::new("/a/b.img")
        );
        assert_eq!(pair_partner(Path::new("b.IMG"), "hdr"), Path::new("b.HDR"));
        assert_eq!(
            pair_partner(Path::new("b.x.hdr.gz"), "img"),
            Path::new("b.x.img.gz")
        );
    }

    #[test]
    fn decode_big_endian_i16() {
        let mut be = Vec::new();
        decode_each(&[0x01, 0x02, 0xff, 0xfe], Dtype::I16, true, |v| be.push(v));
        assert_eq!(be, vec![258.0, -2.0]);
        let mut le = Vec::new();
        decode_each(&[0x01, 0x02], Dtype::I16, false, |v| le.push(v));
        assert_eq!(le, vec![513.0]);
    }
}
