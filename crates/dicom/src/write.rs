//! Writing a CT volume as a DICOM series: one CT Image Storage file per axial slice.
//!
//! Used by the cohort generator so that every downstream reader (ours, pydicom, SimpleITK, a PACS
//! viewer) is exercised on real files. Geometry is written exactly as [`read_series`](crate) reads
//! it back: ImagePositionPatient of slice `k` is `geometry.index_to_physical([0, 0, k])`, and
//! ImageOrientationPatient holds the i and j axis directions.

use std::path::{Path, PathBuf};

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::{InMemDicomObject, meta::FileMetaTableBuilder};
use oncolens_core::Volume;
use thiserror::Error;

/// Errors raised while writing a series.
#[derive(Debug, Error)]
pub enum DicomWriteError {
    #[error("cannot write DICOM file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot encode DICOM file {path}: {message}")]
    Encode { path: PathBuf, message: String },
    #[error("expected {expected} SOP Instance UIDs (one per slice), got {got}")]
    UidCount { expected: usize, got: usize },
    #[error("invalid rescale slope {0}: must be finite and non-zero")]
    InvalidSlope(f64),
}

/// How Hounsfield units are stored as integers: `stored = round((hu - intercept) / slope)`.
///
/// Scanners differ here (signed with intercept 0, or unsigned 12-bit with intercept -1024), and a
/// reader that ignores PixelRepresentation or the rescale gets HU wrong, so the generator varies it
/// per site.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PixelEncoding {
    pub rescale_slope: f64,
    pub rescale_intercept: f64,
    /// Signed (PixelRepresentation 1) or unsigned (0) 16-bit storage.
    pub signed: bool,
    /// BitsStored (12 or 16); values are clamped to this range.
    pub bits_stored: u16,
}

impl PixelEncoding {
    /// Signed 16-bit, slope 1, intercept 0.
    pub const SIGNED_16: PixelEncoding = PixelEncoding {
        rescale_slope: 1.0,
        rescale_intercept: 0.0,
        signed: true,
        bits_stored: 16,
    };
    /// Unsigned 12-bit, slope 1, intercept -1024 (the classic CT storage).
    pub const UNSIGNED_12: PixelEncoding = PixelEncoding {
        rescale_slope: 1.0,
        rescale_intercept: -1024.0,
        signed: false,
        bits_stored: 12,
    };

    fn stored_range(&self) -> (f64, f64) {
        let bits = i32::from(self.bits_stored.clamp(1, 16));
        if self.signed {
            (-(2f64.powi(bits - 1)), 2f64.powi(bits - 1) - 1.0)
        } else {
            (0.0, 2f64.powi(bits) - 1.0)
        }
    }

    /// The stored integer for `hu`, clamped to the storable range.
    pub fn encode(&self, hu: f32) -> i32 {
        let (lo, hi) = self.stored_range();
        let v = ((f64::from(hu) - self.rescale_intercept) / self.rescale_slope).round();
        v.clamp(lo, hi) as i32
    }
}

/// Patient, study and acquisition attributes written into every slice.
#[derive(Debug, Clone)]
pub struct CtSeriesMeta {
    pub patient_name: String,
    pub patient_id: String,
    /// YYYYMMDD
    pub patient_birth_date: Option<String>,
    /// `M`, `F` or `O`
    pub patient_sex: Option<String>,
    /// e.g. `062Y`
    pub patient_age: Option<String>,
    pub study_instance_uid: String,
    pub series_instance_uid: String,
    pub frame_of_reference_uid: String,
    /// YYYYMMDD
    pub study_date: String,
    /// HHMMSS
    pub study_time: String,
    pub accession_number: String,
    pub study_description: String,
    pub series_description: String,
    pub series_number: u32,
    pub institution_name: String,
    pub manufacturer: String,
    pub manufacturer_model_name: String,
    pub convolution_kernel: String,
    pub kvp: f64,
    pub slice_thickness_mm: f64,
    pub window_center: f64,
    pub window_width: f64,
    pub encoding: PixelEncoding,
}

/// Formats a number as a DICOM Decimal String (at most 16 characters).
pub fn decimal_string(v: f64) -> String {
    for decimals in (0..=8).rev() {
        let s = format!("{v:.decimals$}");
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s
        };
        let s = if s == "-0" { "0".to_owned() } else { s };
        if s.len() <= 16 {
            return s;
        }
    }
    format!("{v:.3e}")
}

fn ds_multi(values: &[f64]) -> String {
    values
        .iter()
        .map(|v| decimal_string(*v))
        .collect::<Vec<_>>()
        .join("\\")
}

/// File name of slice number `instance` (1-based), as written by [`write_ct_series`].
pub fn slice_file_name(instance: usize) -> String {
    format!("IM{instance:04}.dcm")
}

/// Writes `volume` (HU) as one DICOM file per slice into `dir` and returns the paths.
///
/// InstanceNumber 1 is the most superior slice (as most scanners number them), so file-name order is
/// the reverse of the k index: readers must sort by position, not by name. Each file is written
/// atomically.
pub fn write_ct_series(
    dir: &Path,
    volume: &Volume<f32>,
    meta: &CtSeriesMeta,
    sop_instance_uids: &[String],
) -> Result<Vec<PathBuf>, DicomWriteError> {
    let geometry = volume.geometry();
    let [nx, ny, nz] = geometry.size;
    if sop_instance_uids.len() != nz {
        return Err(DicomWriteError::UidCount {
            expected: nz,
            got: sop_instance_uids.len(),
        });
    }
    let enc = meta.encoding;
    if !enc.rescale_slope.is_finite() || enc.rescale_slope == 0.0 {
        return Err(DicomWriteError::InvalidSlope(enc.rescale_slope));
    }
    std::fs::create_dir_all(dir).map_err(|source| DicomWriteError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let i_axis = geometry.direction.axis(0);
    let j_axis = geometry.direction.axis(1);
    let iop = ds_multi(&[
        i_axis[0], i_axis[1], i_axis[2], j_axis[0], j_axis[1], j_axis[2],
    ]);
    // PixelSpacing is (row spacing, column spacing) = (y, x).
    let pixel_spacing = ds_multi(&[geometry.spacing_mm[1], geometry.spacing_mm[0]]);
    let data = volume.data();
    let mut paths = Vec::with_capacity(nz);
    for (k, sop_uid) in sop_instance_uids.iter().enumerate() {
        let instance = nz - k;
        let ipp = geometry.index_to_physical([0.0, 0.0, k as f64]);
        let mut bytes = Vec::with_capacity(nx * ny * 2);
        for v in data.index_axis(ndarray::Axis(0), k).iter() {
            let stored = enc.encode(*v);
            let word = if enc.signed {
                (stored as i16).to_le_bytes()
            } else {
                (stored as u16).to_le_bytes()
            };
            bytes.extend_from_slice(&word);
        }
        let obj = slice_object(
            meta,
            sop_uid,
            instance,
            &ipp,
            &iop,
            &pixel_spacing,
            [nx, ny],
            bytes,
        );
        let path = dir.join(slice_file_name(instance));
        let file = obj
            .with_meta(FileMetaTableBuilder::new().transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN))
            .map_err(|e| DicomWriteError::Encode {
                path: path.clone(),
                message: e.to_string(),
            })?;
        let mut encode_error = None;
        oncolens_core::fs::write_atomic_with(&path, |w| {
            file.write_all(w).map_err(|e| {
                let msg = e.to_string();
                encode_error = Some(msg.clone());
                std::io::Error::other(msg)
            })
        })
        .map_err(|source| match encode_error.take() {
            Some(message) => DicomWriteError::Encode {
                path: path.clone(),
                message,
            },
            None => DicomWriteError::Io {
                path: path.clone(),
                source,
            },
        })?;
        paths.push(path);
    }
    Ok(paths)
}

#[allow(clippy::too_many_arguments)]
fn slice_object(
    meta: &CtSeriesMeta,
    sop_instance_uid: &str,
    instance: usize,
    ipp: &[f64; 3],
    iop: &str,
    pixel_spacing: &str,
    [nx, ny]: [usize; 2],
    pixel_bytes: Vec<u8>,
) -> InMemDicomObject {
    let enc = meta.encoding;
    let str_el = |tag, vr, v: &str| DataElement::new(tag, vr, PrimitiveValue::from(v));
    let mut elements = vec![
        str_el(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 100"),
        str_el(tags::IMAGE_TYPE, VR::CS, "ORIGINAL\\PRIMARY\\AXIAL"),
        str_el(tags::SOP_CLASS_UID, VR::UI, uids::CT_IMAGE_STORAGE),
        str_el(tags::SOP_INSTANCE_UID, VR::UI, sop_instance_uid),
        str_el(tags::STUDY_DATE, VR::DA, &meta.study_date),
        str_el(tags::SERIES_DATE, VR::DA, &meta.study_date),
        str_el(tags::CONTENT_DATE, VR::DA, &meta.study_date),
        str_el(tags::STUDY_TIME, VR::TM, &meta.study_time),
        str_el(tags::SERIES_TIME, VR::TM, &meta.study_time),
        str_el(tags::ACCESSION_NUMBER, VR::SH, &meta.accession_number),
        str_el(tags::MODALITY, VR::CS, "CT"),
        str_el(tags::MANUFACTURER, VR::LO, &meta.manufacturer),
        str_el(tags::INSTITUTION_NAME, VR::LO, &meta.institution_name),
        str_el(tags::REFERRING_PHYSICIAN_NAME, VR::PN, ""),
        str_el(tags::STUDY_DESCRIPTION, VR::LO, &meta.study_description),
        str_el(tags::SERIES_DESCRIPTION, VR::LO, &meta.series_description),
        str_el(
            tags::MANUFACTURER_MODEL_NAME,
            VR::LO,
            &meta.manufacturer_model_name,
        ),
        str_el(tags::PATIENT_NAME, VR::PN, &meta.patient_name),
        str_el(tags::PATIENT_ID, VR::LO, &meta.patient_id),
        str_el(
            tags::PATIENT_BIRTH_DATE,
            VR::DA,
            meta.patient_birth_date.as_deref().unwrap_or(""),
        ),
        str_el(
            tags::PATIENT_SEX,
            VR::CS,
            meta.patient_sex.as_deref().unwrap_or(""),
        ),
        str_el(tags::BODY_PART_EXAMINED, VR::CS, "ABDOMEN"),
        str_el(
            tags::SLICE_THICKNESS,
            VR::DS,
            &decimal_string(meta.slice_thickness_mm),
        ),
        str_el(tags::KVP, VR::DS, &decimal_string(meta.kvp)),
        str_el(tags::CONVOLUTION_KERNEL, VR::SH, &meta.convolution_kernel),
        str_el(tags::PATIENT_POSITION, VR::CS, "FFS"),
        str_el(tags::STUDY_INSTANCE_UID, VR::UI, &meta.study_instance_uid),
        str_el(tags::SERIES_INSTANCE_UID, VR::UI, &meta.series_instance_uid),
        str_el(tags::STUDY_ID, VR::SH, "1"),
        str_el(tags::SERIES_NUMBER, VR::IS, &meta.series_number.to_string()),
        str_el(tags::INSTANCE_NUMBER, VR::IS, &instance.to_string()),
        str_el(tags::IMAGE_POSITION_PATIENT, VR::DS, &ds_multi(&ipp[..])),
        str_el(tags::IMAGE_ORIENTATION_PATIENT, VR::DS, iop),
        str_el(
            tags::FRAME_OF_REFERENCE_UID,
            VR::UI,
            &meta.frame_of_reference_uid,
        ),
        str_el(tags::POSITION_REFERENCE_INDICATOR, VR::LO, ""),
        str_el(tags::SLICE_LOCATION, VR::DS, &decimal_string(ipp[2])),
        DataElement::new(tags::SAMPLES_PER_PIXEL, VR::US, PrimitiveValue::from(1u16)),
        str_el(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
        DataElement::new(tags::ROWS, VR::US, PrimitiveValue::from(ny as u16)),
        DataElement::new(tags::COLUMNS, VR::US, PrimitiveValue::from(nx as u16)),
        str_el(tags::PIXEL_SPACING, VR::DS, pixel_spacing),
        DataElement::new(tags::BITS_ALLOCATED, VR::US, PrimitiveValue::from(16u16)),
        DataElement::new(
            tags::BITS_STORED,
            VR::US,
            PrimitiveValue::from(enc.bits_stored),
        ),
        DataElement::new(
            tags::HIGH_BIT,
            VR::US,
            PrimitiveValue::from(enc.bits_stored.saturating_sub(1)),
        ),
        DataElement::new(
            tags::PIXEL_REPRESENTATION,
            VR::US,
            PrimitiveValue::from(u16::from(enc.signed)),
        ),
        str_el(
            tags::WINDOW_CENTER,
            VR::DS,
            &decimal_string(meta.window_center),
        ),
        str_el(
            tags::WINDOW_WIDTH,
            VR::DS,
            &decimal_string(meta.window_width),
        ),
        str_el(
            tags::RESCALE_INTERCEPT,
            VR::DS,
            &decimal_string(enc.rescale_intercept),
        ),
        str_el(
            tags::RESCALE_SLOPE,
            VR::DS,
            &decimal_string(enc.rescale_slope),
        ),
        str_el(tags::RESCALE_TYPE, VR::LO, "HU"),
        DataElement::new(tags::PIXEL_DATA, VR::OW, PrimitiveValue::from(pixel_bytes)),
    ];
    if let Some(age) = &meta.patient_age {
        elements.push(str_el(tags::PATIENT_AGE, VR::AS, age));
    }
    InMemDicomObject::from_element_iter(elements)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_strings_fit_sixteen_characters() {
        assert_eq!(decimal_string(0.5), "0.5");
        assert_eq!(decimal_string(-1024.0), "-1024");
        assert_eq!(decimal_string(-0.0), "0");
        let s = decimal_string(-178.123_456_789_123);
        assert!(s.len() <= 16, "{s}");
        assert!((s.parse::<f64>().unwrap() + 178.123_456_789_123).abs() < 1e-6);
    }

    #[test]
    fn encoding_rounds_and_clamps() {
        let u = PixelEncoding::UNSIGNED_12;
        assert_eq!(u.encode(-1024.0), 0);
        assert_eq!(u.encode(40.4), 1064);
        assert_eq!(u.encode(-3000.0), 0);
        assert_eq!(u.encode(5000.0), 4095);
        let s = PixelEncoding::SIGNED_16;
        assert_eq!(s.encode(-1000.6), -1001);
    }
}
