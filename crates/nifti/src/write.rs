//! Writing NIfTI-1/NIfTI-2 single files (`.nii`, `.nii.gz`).
//!
//! Both the qform (quaternion, `qform_code`) and the sform (`sform_code`) are written from the
//! same geometry, so readers that prefer either (nibabel: sform; ITK can pick the qform) place
//! the image identically. Files are written atomically through
//! [`oncolens_core::fs::write_atomic_with`], so a crash never leaves a half-written image.

use std::io::Write;
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use oncolens_core::{Geometry, LabelMap, Volume};

use crate::header::{Dtype, HeaderBuf, NIFTI1_HDR, NIFTI2_HDR};
use crate::{NiftiError, io_err};

/// Options for [`write_volume_with`] / [`write_label_map_with`].
#[derive(Debug, Clone, PartialEq)]
pub struct WriteOptions {
    /// 1 (348-byte header, `f32` geometry fields) or 2 (540-byte header, `f64` geometry: exact).
    pub version: u8,
    /// Written to `descrip` (truncated to 79 bytes).
    pub descrip: String,
    /// `qform_code`/`sform_code`; 1 = scanner anatomical. Must be in 1..=5.
    pub xform_code: i16,
    /// gzip level for `.nii.gz` (0..=9). nibabel's default is 1: fast, and image data rarely
    /// compresses much better at higher levels.
    pub gzip_level: u32,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            version: 1,
            descrip: String::from("oncolens"),
            xform_code: 1,
            gzip_level: 1,
        }
    }
}

/// Writes a float32 NIfTI-1 image; `.nii` or `.nii.gz` by extension.
pub fn write_volume(path: &Path, volume: &Volume<f32>) -> Result<(), NiftiError> {
    write_volume_with(path, volume, &WriteOptions::default())
}

/// Writes a float32 image with explicit options (e.g. NIfTI-2).
pub fn write_volume_with(
    path: &Path,
    volume: &Volume<f32>,
    opts: &WriteOptions,
) -> Result<(), NiftiError> {
    let mut data = Vec::with_capacity(volume.data().len() * 4);
    for v in volume.data().iter() {
        data.extend_from_slice(&v.to_le_bytes());
    }
    write_file(path, volume.geometry(), Dtype::F32, &data, opts)
}

/// Writes a label map as NIfTI-1: `uint8` when every label is <= 255, else `uint16`.
pub fn write_label_map(path: &Path, mask: &LabelMap) -> Result<(), NiftiError> {
    write_label_map_with(path, mask, &WriteOptions::default())
}

/// Writes a label map with explicit options; the datatype rule is that of [`write_label_map`].
pub fn write_label_map_with(
    path: &Path,
    mask: &LabelMap,
    opts: &WriteOptions,
) -> Result<(), NiftiError> {
    let max = mask.data().iter().copied().max().unwrap_or(0);
    let (dtype, data) = if max <= 255 {
        (Dtype::U8, mask.data().iter().map(|v| *v as u8).collect())
    } else {
        let mut d = Vec::with_capacity(mask.data().len() * 2);
        for v in mask.data().iter() {
            d.extend_from_slice(&v.to_le_bytes());
        }
        (Dtype::U16, d)
    };
    write_file(path, mask.geometry(), dtype, &data, opts)
}

/// Quaternion (b, c, d) and qfac of a rotation-or-reflection matrix, as `nifti_mat44_to_quatern`
/// in nifti1_io.c computes it (the matrix is already orthonormal here, so no polar step).
pub(crate) fn quaternion(r_in: [[f64; 3]; 3]) -> ([f64; 3], f64) {
    let mut r = r_in;
    let det = r[0][0] * (r[1][1] * r[2][2] - r[1][2] * r[2][1])
        - r[0][1] * (r[1][0] * r[2][2] - r[1][2] * r[2][0])
        + r[0][2] * (r[1][0] * r[2][1] - r[1][1] * r[2][0]);
    let qfac = if det < 0.0 {
        for row in &mut r {
            row[2] = -row[2];
        }
        -1.0
    } else {
        1.0
    };
    let (r11, r12, r13) = (r[0][0], r[0][1], r[0][2]);
    let (r21, r22, r23) = (r[1][0], r[1][1], r[1][2]);
    let (r31, r32, r33) = (r[2][0], r[2][1], r[2][2]);
    let mut a = r11 + r22 + r33 + 1.0;
    let (mut b, mut c, mut d);
    if a > 0.5 {
        a = 0.5 * a.sqrt();
        b = 0.25 * (r32 - r23) / a;
        c = 0.25 * (r13 - r31) / a;
        d = 0.25 * (r21 - r12) / a;
    } else {
        let xd = 1.0 + r11 - (r22 + r33);
        let yd = 1.0 + r22 - (r11 + r33);
        let zd = 1.0 + r33 - (r11 + r22);
        if xd > 1.0 {
            b = 0.5 * xd.sqrt();
            c = 0.25 * (r12 + r21) / b;
            d = 0.25 * (r13 + r31) / b;
            a = 0.25 * (r32 - r23) / b;
        } else if yd > 1.0 {
            c = 0.5 * yd.sqrt();
            b = 0.25 * (r12 + r21) / c;
            d = 0.25 * (r23 + r32) / c;
            a = 0.25 * (r13 - r31) / c;
        } else {
            d = 0.5 * zd.sqrt();
            b = 0.25 * (r13 + r31) / d;
            c = 0.25 * (r23 + r32) / d;
            a = 0.25 * (r21 - r12) / d;
        }
        if a < 0.0 {
            b = -b;
            c = -c;
            d = -d;
        }
    }
    ([b, c, d], qfac)
}

fn write_file(
    path: &Path,
    g: &Geometry,
    dtype: Dtype,
    data: &[u8],
    opts: &WriteOptions,
) -> Result<(), NiftiError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let gz = if name.ends_with(".nii.gz") {
        true
    } else if name.ends_with(".nii") {
        false
    } else {
        return Err(NiftiError::Extension {
            file: path.to_path_buf(),
            extra: " (the writer only writes single .nii/.nii.gz files)".to_owned(),
        });
    };
    let bad = |field: &'static str, msg: String| NiftiError::BadField {
        file: path.to_path_buf(),
        field,
        msg,
    };
    if !(1..=5).contains(&opts.xform_code) {
        return Err(bad(
            "xform_code",
            format!("{} not in 1..=5", opts.xform_code),
        ));
    }
    if opts.gzip_level > 9 {
        return Err(bad(
            "gzip_level",
            format!("{} not in 0..=9", opts.gzip_level),
        ));
    }
    let header = match opts.version {
        1 => {
            if g.size.iter().any(|s| *s > i16::MAX as usize) {
                return Err(bad(
                    "dim",
                    format!(
                        "size {:?} does not fit NIfTI-1 (max 32767); use version 2",
                        g.size
                    ),
                ));
            }
            nifti1_header(g, dtype, opts)
        }
        2 => nifti2_header(g, dtype, opts),
        v => return Err(bad("version", format!("{v} is not 1 or 2"))),
    };
    oncolens_core::fs::write_atomic_with(path, |w| {
        if gz {
            let mut enc = GzEncoder::new(w, Compression::new(opts.gzip_level));
            enc.write_all(&header)?;
            enc.write_all(data)?;
            enc.finish()?;
            Ok(())
        } else {
            w.write_all(&header)?;
            w.write_all(data)
        }
    })
    .map_err(io_err(path))
}

/// The RAS+ affine of a geometry (nibabel's convention) plus its rotation part.
fn ras_parts(g: &Geometry) -> ([[f64; 4]; 3], [[f64; 3]; 3], [f64; 3]) {
    let lps = g.affine_lps();
    let flip = [-1.0, -1.0, 1.0];
    let mut srow = [[0.0; 4]; 3];
    let mut rot = [[0.0; 3]; 3];
    for r in 0..3 {
        for c in 0..4 {
            srow[r][c] = flip[r] * lps[r][c];
        }
        rot[r] = g.direction.0[r].map(|v| flip[r] * v);
    }
    let offset = [srow[0][3], srow[1][3], srow[2][3]];
    (srow, rot, offset)
}

fn descrip_bytes(opts: &WriteOptions) -> Vec<u8> {
    let mut d = opts.descrip.as_bytes().to_vec();
    d.truncate(79);
    d
}

fn nifti1_header(g: &Geometry, dtype: Dtype, opts: &WriteOptions) -> Vec<u8> {
    let mut h = HeaderBuf(vec![0u8; NIFTI1_HDR + 4]);
    let (srow, rot, offset) = ras_parts(g);
    let (quat, qfac) = quaternion(rot);
    h.i32(0, NIFTI1_HDR as i32);
    h.0[38] = b'r';
    let dims = [
        3,
        g.size[0] as i16,
        g.size[1] as i16,
        g.size[2] as i16,
        1,
        1,
        1,
        1,
    ];
    for (i, d) in dims.iter().enumerate() {
        h.i16(40 + 2 * i, *d);
    }
    h.i16(70, dtype.code());
    h.i16(72, (dtype.size() * 8) as i16);
    let pixdim = [
        qfac,
        g.spacing_mm[0],
        g.spacing_mm[1],
        g.spacing_mm[2],
        1.0,
        1.0,
        1.0,
        1.0,
    ];
    for (i, p) in pixdim.iter().enumerate() {
        h.f32(76 + 4 * i, *p);
    }
    h.f32(108, (NIFTI1_HDR + 4) as f64);
    h.f32(112, 1.0);
    h.f32(116, 0.0);
    h.0[123] = 2; // NIFTI_UNITS_MM
    h.bytes(148, 80, &descrip_bytes(opts));
    h.i16(252, opts.xform_code);
    h.i16(254, opts.xform_code);
    for i in 0..3 {
        h.f32(256 + 4 * i, quat[i]);
        h.f32(268 + 4 * i, offset[i]);
    }
    for (r, row) in srow.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            h.f32(280 + 16 * r + 4 * c, *v);
        }
    }
    h.bytes(344, 4, b"n+1\0");
    h.0
}

fn nifti2_header(g: &Geometry, dtype: Dtype, opts: &WriteOptions) -> Vec<u8> {
    let mut h = HeaderBuf(vec![0u8; NIFTI2_HDR + 4]);
    let (srow, rot, offset) = ras_parts(g);
    let (quat, qfac) = quaternion(rot);
    h.i32(0, NIFTI2_HDR as i32);
    h.bytes(4, 8, b"n+2\0\r\n\x1a\n");
    h.i16(12, dtype.code());
    h.i16(14, (dtype.size() * 8) as i16);
    let dims = [
        3,
        g.size[0] as i64,
        g.size[1] as i64,
        g.size[2] as i64,
        1,
        1,
        1,
        1,
    ];
    for (i, d) in dims.iter().enumerate() {
        h.i64(16 + 8 * i, *d);
    }
    let pixdim = [
        qfac,
        g.spacing_mm[0],
        g.spacing_mm[1],
        g.spacing_mm[2],
        1.0,
        1.0,
        1.0,
        1.0,
    ];
    for (i, p) in pixdim.iter().enumerate() {
        h.f64(104 + 8 * i, *p);
    }
    h.i64(168, (NIFTI2_HDR + 4) as i64);
    h.f64(176, 1.0);
    h.f64(184, 0.0);
    h.bytes(240, 80, &descrip_bytes(opts));
    h.i32(344, i32::from(opts.xform_code));
    h.i32(348, i32::from(opts.xform_code));
    for i in 0..3 {
        h.f64(352 + 8 * i, quat[i]);
        h.f64(376 + 8 * i, offset[i]);
    }
    for (r, row) in srow.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            h.f64(400 + 32 * r + 8 * c, *v);
        }
    }
    h.i32(500, 2); // NIFTI_UNITS_MM
    h.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quaternion_of_identity_and_flip() {
        let (q, qfac) = quaternion([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]);
        assert_eq!((q, qfac), ([0.0, 0.0, 0.0], 1.0));
        // LPS identity seen in RAS: diag(-1, -1, 1) is a 180 degree rotation about z.
        let (q, qfac) = quaternion([[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]]);
        assert_eq!((q, qfac), ([0.0, 0.0, 1.0], 1.0));
        let (_, qfac) = quaternion([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]]);
        assert_eq!(qfac, -1.0);
    }
}
