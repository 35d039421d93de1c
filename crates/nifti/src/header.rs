//! Binary layout of the NIfTI-1 (348 bytes) and NIfTI-2 (540 bytes) headers, and nibabel's rules
//! for turning them into an affine.
//!
//! Both versions are parsed into one [`RawHeader`] with every number widened to `i64`/`f64`, so the
//! rest of the crate does not care which version a file is. The affine rules follow nibabel 5.4
//! (`Nifti1Header.get_best_affine`), including the fixes nibabel applies silently when it loads a
//! header (`check_fix`): unknown xform codes become 0, `pixdim[0]` other than ±1 becomes 1, zero
//! spatial pixdims become 1 and negative ones their absolute value.

use std::path::Path;

use serde::Serialize;

use crate::NiftiError;

/// Size of the NIfTI-1 header proper.
pub(crate) const NIFTI1_HDR: usize = 348;
/// Size of the NIfTI-2 header proper.
pub(crate) const NIFTI2_HDR: usize = 540;

/// Which of the header's transforms produced the affine (nibabel's `get_best_affine` order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AffineSource {
    /// `sform_code > 0`: the `srow_x/y/z` rows.
    Sform,
    /// `sform_code == 0`, `qform_code > 0`: quaternion, `qoffset` and pixdim (with qfac).
    Qform,
    /// Neither code set: nibabel's centred `diag(-pixdim_x, pixdim_y, pixdim_z)` (Analyze rule).
    Fallback,
}

/// Byte order of the file, found from `sizeof_hdr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Endianness {
    Little,
    Big,
}

/// A voxel datatype code and its name (NIfTI names, e.g. `int16`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Datatype {
    pub code: i16,
    pub name: String,
}

/// Everything a caller may want to know about the header of a file that was read, with the
/// affine nibabel would report as `img.affine`. Serialises to JSON for `inspect`-style output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NiftiHeaderInfo {
    /// 1 or 2.
    pub version: u8,
    pub endianness: Endianness,
    /// True for a `.hdr`/`.img` pair (magic `ni1`/`ni2`), false for a single `.nii` file.
    pub is_pair: bool,
    pub datatype: Datatype,
    pub bitpix: i16,
    /// `dim[0]` is the number of dimensions, `dim[1..=dim[0]]` the sizes.
    pub dim: [i64; 8],
    /// As nibabel sees it after its load-time fixes (qfac ±1, spatial pixdims positive).
    pub pixdim: [f64; 8],
    pub vox_offset: f64,
    /// Raw values from the file; see [`NiftiHeaderInfo::scaling`] for what is applied.
    pub scl_slope: f64,
    pub scl_inter: f64,
    /// The (slope, intercept) applied to the voxels, `None` when nibabel would not scale
    /// (slope 0 or not finite).
    pub scaling: Option<(f64, f64)>,
    /// After nibabel's fix: codes outside 0..=5 read as 0.
    pub qform_code: i32,
    pub sform_code: i32,
    pub quatern: [f64; 3],
    pub qoffset: [f64; 3],
    pub srow: [[f64; 4]; 3],
    /// `img.affine` of nibabel: voxel index to RAS+ millimetres (row-major 4x4).
    pub affine_ras: [[f64; 4]; 4],
    pub affine_source: AffineSource,
    /// Raw `xyzt_units`; the spatial part (`& 7`) is 2 for millimetres. The affine is used as
    /// written whatever the unit, as nibabel does.
    pub xyzt_units: i32,
    pub spatial_unit: String,
    pub temporal_unit: String,
    pub intent_code: i32,
    pub intent_name: String,
    pub descrip: String,
    pub aux_file: String,
    pub cal_min: f64,
    pub cal_max: f64,
    pub toffset: f64,
    pub dim_info: u8,
}

impl NiftiHeaderInfo {
    /// Number of 3D volumes: product of `dim[4..=dim[0]]` (1 for a 3D file).
    pub fn volume_count(&self) -> usize {
        let n = self.dim[0].clamp(0, 7) as usize;
        (4..=n).map(|i| self.dim[i].max(0) as usize).product()
    }

    /// Spatial size `[x, y, z]`, with 1 for the dimensions beyond `dim[0]`.
    pub fn spatial_size(&self) -> [usize; 3] {
        let n = self.dim[0].clamp(0, 7) as usize;
        let mut s = [1usize; 3];
        for (a, v) in s.iter_mut().enumerate() {
            if a < n {
                *v = self.dim[a + 1].max(0) as usize;
            }
        }
        s
    }
}

/// Voxel datatypes this crate decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dtype {
    U8,
    I8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    F32,
    F64,
}

impl Dtype {
    pub(crate) fn size(self) -> usize {
        match self {
            Dtype::U8 | Dtype::I8 => 1,
            Dtype::I16 | Dtype::U16 => 2,
            Dtype::I32 | Dtype::U32 | Dtype::F32 => 4,
            Dtype::I64 | Dtype::U64 | Dtype::F64 => 8,
        }
    }

    pub(crate) fn code(self) -> i16 {
        match self {
            Dtype::U8 => 2,
            Dtype::I16 => 4,
            Dtype::I32 => 8,
            Dtype::F32 => 16,
            Dtype::F64 => 64,
            Dtype::I8 => 256,
            Dtype::U16 => 512,
            Dtype::U32 => 768,
            Dtype::I64 => 1024,
            Dtype::U64 => 1280,
        }
    }

    pub(crate) fn from_code(code: i16) -> Option<Dtype> {
        Some(match code {
            2 => Dtype::U8,
            4 => Dtype::I16,
            8 => Dtype::I32,
            16 => Dtype::F32,
            64 => Dtype::F64,
            256 => Dtype::I8,
            512 => Dtype::U16,
            768 => Dtype::U32,
            1024 => Dtype::I64,
            1280 => Dtype::U64,
            _ => return None,
        })
    }
}

/// NIfTI name of a datatype code, including the ones we refuse (complex, RGB, ...).
pub(crate) fn datatype_name(code: i16) -> &'static str {
    match code {
        0 => "unknown",
        1 => "binary",
        2 => "uint8",
        4 => "int16",
        8 => "int32",
        16 => "float32",
        32 => "complex64",
        64 => "float64",
        128 => "RGB24",
        256 => "int8",
        512 => "uint16",
        768 => "uint32",
        1024 => "int64",
        1280 => "uint64",
        1536 => "float128",
        1792 => "complex128",
        2048 => "complex256",
        2304 => "RGBA32",
        _ => "invalid",
    }
}

fn unit_name(code: i32) -> &'static str {
    match code {
        0 => "unknown",
        1 => "meter",
        2 => "mm",
        3 => "micron",
        8 => "sec",
        16 => "msec",
        24 => "usec",
        32 => "hz",
        40 => "ppm",
        48 => "rads",
        _ => "invalid",
    }
}

/// Reads numbers at byte offsets in the chosen byte order.
struct Fields<'a> {
    b: &'a [u8],
    big: bool,
}

impl Fields<'_> {
    fn arr<const N: usize>(&self, off: usize) -> [u8; N] {
        let mut a = [0u8; N];
        a.copy_from_slice(&self.b[off..off + N]);
        if self.big {
            a.reverse();
        }
        a
    }
    fn i16(&self, off: usize) -> i16 {
        i16::from_le_bytes(self.arr(off))
    }
    fn i32(&self, off: usize) -> i32 {
        i32::from_le_bytes(self.arr(off))
    }
    fn i64(&self, off: usize) -> i64 {
        i64::from_le_bytes(self.arr(off))
    }
    fn f32(&self, off: usize) -> f64 {
        f64::from(f32::from_le_bytes(self.arr(off)))
    }
    fn f64(&self, off: usize) -> f64 {
        f64::from_le_bytes(self.arr(off))
    }
    fn text(&self, off: usize, len: usize) -> String {
        let s = &self.b[off..off + len];
        let end = s.iter().position(|c| *c == 0).unwrap_or(len);
        String::from_utf8_lossy(&s[..end]).into_owned()
    }
}

/// Finds version and byte order from the first four bytes (`sizeof_hdr`).
pub(crate) fn sniff(path: &Path, first4: [u8; 4]) -> Result<(u8, bool), NiftiError> {
    let le = i32::from_le_bytes(first4);
    let be = i32::from_be_bytes(first4);
    match (le, be) {
        (348, _) => Ok((1, false)),
        (540, _) => Ok((2, false)),
        (_, 348) => Ok((1, true)),
        (_, 540) => Ok((2, true)),
        _ => Err(NiftiError::SizeofHdr {
            file: path.to_path_buf(),
            value: le,
        }),
    }
}

/// Parses a complete header (`bytes.len()` is 348 or 540 as `version` says) and computes the
/// affine. `vox_offset` is validated by the caller, who knows whether this is a pair.
pub(crate) fn parse(
    path: &Path,
    bytes: &[u8],
    version: u8,
    big: bool,
) -> Result<NiftiHeaderInfo, NiftiError> {
    let f = Fields { b: bytes, big };
    let file = path.to_path_buf();
    let bad = |field: &'static str, msg: String| NiftiError::BadField {
        file: file.clone(),
        field,
        msg,
    };
    let mut dim = [0i64; 8];
    let mut pixdim = [0f64; 8];
    let (magic_ok, is_pair);
    let h = if version == 1 {
        let magic = &bytes[344..348];
        magic_ok = magic == b"n+1\0" || magic == b"ni1\0";
        is_pair = magic == b"ni1\0";
        for i in 0..8 {
            dim[i] = i64::from(f.i16(40 + 2 * i));
            pixdim[i] = f.f32(76 + 4 * i);
        }
        let srow = [0, 1, 2].map(|r| [0, 1, 2, 3].map(|c| f.f32(280 + 16 * r + 4 * c)));
        NiftiHeaderInfo {
            version,
            endianness: if big {
                Endianness::Big
            } else {
                Endianness::Little
            },
            is_pair,
            datatype: Datatype {
                code: f.i16(70),
                name: String::new(),
            },
            bitpix: f.i16(72),
            dim,
            pixdim,
            vox_offset: f.f32(108),
            scl_slope: f.f32(112),
            scl_inter: f.f32(116),
            scaling: None,
            qform_code: i32::from(f.i16(252)),
            sform_code: i32::from(f.i16(254)),
            quatern: [f.f32(256), f.f32(260), f.f32(264)],
            qoffset: [f.f32(268), f.f32(272), f.f32(276)],
            srow,
            affine_ras: [[0.0; 4]; 4],
            affine_source: AffineSource::Fallback,
            xyzt_units: i32::from(bytes[123]),
            spatial_unit: String::new(),
            temporal_unit: String::new(),
            intent_code: i32::from(f.i16(68)),
            intent_name: f.text(328, 16),
            descrip: f.text(148, 80),
            aux_file: f.text(228, 24),
            cal_max: f.f32(124),
            cal_min: f.f32(128),
            toffset: f.f32(136),
            dim_info: bytes[39],
        }
    } else {
        let magic = &bytes[4..12];
        magic_ok = magic == b"n+2\0\r\n\x1a\n" || magic == b"ni2\0\r\n\x1a\n";
        is_pair = magic == b"ni2\0\r\n\x1a\n";
        for i in 0..8 {
            dim[i] = f.i64(16 + 8 * i);
            pixdim[i] = f.f64(104 + 8 * i);
        }
        let srow = [0, 1, 2].map(|r| [0, 1, 2, 3].map(|c| f.f64(400 + 32 * r + 8 * c)));
        NiftiHeaderInfo {
            version,
            endianness: if big {
                Endianness::Big
            } else {
                Endianness::Little
            },
            is_pair,
            datatype: Datatype {
                code: f.i16(12),
                name: String::new(),
            },
            bitpix: f.i16(14),
            dim,
            pixdim,
            vox_offset: f.i64(168) as f64,
            scl_slope: f.f64(176),
            scl_inter: f.f64(184),
            scaling: None,
            qform_code: f.i32(344),
            sform_code: f.i32(348),
            quatern: [f.f64(352), f.f64(360), f.f64(368)],
            qoffset: [f.f64(376), f.f64(384), f.f64(392)],
            srow,
            affine_ras: [[0.0; 4]; 4],
            affine_source: AffineSource::Fallback,
            xyzt_units: f.i32(500),
            spatial_unit: String::new(),
            temporal_unit: String::new(),
            intent_code: f.i32(504),
            intent_name: f.text(508, 16),
            descrip: f.text(240, 80),
            aux_file: f.text(320, 24),
            cal_max: f.f64(192),
            cal_min: f.f64(200),
            toffset: f.f64(216),
            dim_info: bytes[524],
        }
    };
    let mut h = h;
    if !magic_ok {
        return Err(NiftiError::BadMagic {
            file: path.to_path_buf(),
            version,
        });
    }
    h.datatype.name = datatype_name(h.datatype.code).to_owned();
    h.spatial_unit = unit_name(h.xyzt_units & 7).to_owned();
    h.temporal_unit = unit_name(h.xyzt_units & 0x38).to_owned();

    let ndim = h.dim[0];
    if !(1..=7).contains(&ndim) {
        return Err(bad("dim[0]", format!("{ndim} is not in 1..=7")));
    }
    for i in 1..=ndim as usize {
        if h.dim[i] < 1 {
            return Err(bad("dim", format!("dim[{i}] = {} must be >= 1", h.dim[i])));
        }
    }

    // nibabel's load-time fixes (`check_fix`), so the affine matches `img.affine`.
    if h.pixdim[0] != 1.0 && h.pixdim[0] != -1.0 {
        h.pixdim[0] = 1.0;
    }
    for p in &mut h.pixdim[1..4] {
        if *p == 0.0 {
            *p = 1.0;
        } else if *p < 0.0 {
            *p = -*p;
        }
    }
    if !(0..=5).contains(&h.qform_code) {
        h.qform_code = 0;
    }
    if !(0..=5).contains(&h.sform_code) {
        h.sform_code = 0;
    }

    // nibabel's get_slope_inter.
    let (slope, inter) = (h.scl_slope, h.scl_inter);
    if slope != 0.0 && slope.is_finite() {
        if !inter.is_finite() {
            return Err(bad(
                "scl_inter",
                format!("valid scl_slope {slope} but invalid scl_inter {inter}"),
            ));
        }
        h.scaling = Some((slope, inter));
    }

    let (affine, source) = if h.sform_code > 0 {
        let mut a = [[0.0; 4]; 4];
        a[..3].copy_from_slice(&h.srow);
        a[3][3] = 1.0;
        (a, AffineSource::Sform)
    } else if h.qform_code > 0 {
        (
            qform_affine(&h, version).map_err(|m| bad("quatern", m))?,
            AffineSource::Qform,
        )
    } else {
        (fallback_affine(&h), AffineSource::Fallback)
    };
    if affine.iter().flatten().any(|v| !v.is_finite()) {
        return Err(bad(
            match source {
                AffineSource::Sform => "srow",
                AffineSource::Qform => "quatern/qoffset",
                AffineSource::Fallback => "pixdim",
            },
            format!("affine has non-finite values: {affine:?}"),
        ));
    }
    h.affine_ras = affine;
    h.affine_source = source;
    Ok(h)
}

/// nibabel's `get_qform`: `fillpositive` for the quaternion's real part (threshold 3 eps of the
/// header's float type), `quat2mat`, then `R @ diag(pixdim[1], pixdim[2], qfac * pixdim[3])`.
fn qform_affine(h: &NiftiHeaderInfo, version: u8) -> Result<[[f64; 4]; 4], String> {
    let [x, y, z] = h.quatern;
    let thresh = if version == 1 {
        3.0 * f64::from(f32::EPSILON)
    } else {
        3.0 * f64::EPSILON
    };
    let w2 = 1.0 - (x * x + y * y + z * z);
    let w = if w2.abs() < thresh {
        0.0
    } else if w2 < 0.0 {
        return Err(format!(
            "quaternion (b, c, d) = {:?} has norm > 1 (1 - |bcd|^2 = {w2:e})",
            h.quatern
        ));
    } else {
        w2.sqrt()
    };
    let nq = w * w + x * x + y * y + z * z;
    let r = if nq < f64::EPSILON {
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    } else {
        let s = 2.0 / nq;
        let (xs, ys, zs) = (x * s, y * s, z * s);
        let (wx, wy, wz) = (w * xs, w * ys, w * zs);
        let (xx, xy, xz) = (x * xs, x * ys, x * zs);
        let (yy, yz, zz) = (y * ys, y * zs, z * zs);
        [
            [1.0 - (yy + zz), xy - wz, xz + wy],
            [xy + wz, 1.0 - (xx + zz), yz - wx],
            [xz - wy, yz + wx, 1.0 - (xx + yy)],
        ]
    };
    let vox = [h.pixdim[1], h.pixdim[2], h.pixdim[3] * h.pixdim[0]];
    let mut a = [[0.0; 4]; 4];
    for i in 0..3 {
        for j in 0..3 {
            a[i][j] = r[i][j] * vox[j];
        }
        a[i][3] = h.qoffset[i];
    }
    a[3][3] = 1.0;
    Ok(a)
}

/// nibabel's `get_base_affine` (`shape_zoom_affine` with x flip): voxel axes along -x, y, z,
/// scaled by pixdim, with the centre of the (3D part of the) grid at the origin.
fn fallback_affine(h: &NiftiHeaderInfo) -> [[f64; 4]; 4] {
    let n = h.dim[0].clamp(0, 7) as usize;
    let mut shape = [1.0f64; 3];
    let mut zooms = [1.0f64; 3];
    for a in 0..3.min(n) {
        shape[a] = h.dim[a + 1] as f64;
        zooms[a] = h.pixdim[a + 1];
    }
    zooms[0] = -zooms[0];
    let mut a = [[0.0; 4]; 4];
    for i in 0..3 {
        a[i][i] = zooms[i];
        a[i][3] = -((shape[i] - 1.0) / 2.0) * zooms[i];
    }
    a[3][3] = 1.0;
    a
}

/// Little-endian header writer; `put` helpers place numbers at the NIfTI offsets.
pub(crate) struct HeaderBuf(pub Vec<u8>);

impl HeaderBuf {
    pub(crate) fn i16(&mut self, off: usize, v: i16) {
        self.0[off..off + 2].copy_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn i32(&mut self, off: usize, v: i32) {
        self.0[off..off + 4].copy_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn i64(&mut self, off: usize, v: i64) {
        self.0[off..off + 8].copy_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn f32(&mut self, off: usize, v: f64) {
        self.0[off..off + 4].copy_from_slice(&(v as f32).to_le_bytes());
    }
    pub(crate) fn f64(&mut self, off: usize, v: f64) {
        self.0[off..off + 8].copy_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn bytes(&mut self, off: usize, max: usize, s: &[u8]) {
        let n = s.len().min(max);
        self.0[off..off + n].copy_from_slice(&s[..n]);
    }
}
