//! Reading CT series: grouping files, ordering slices, exact ITK-style geometry and HU.
//!
//! Policy for problem files (documented here because callers rely on it):
//! * A file that cannot be parsed as DICOM at all (not DICOM, truncated header, no meta) inside a
//!   *folder* is skipped and reported as [`SeriesWarning::SkippedFile`]; reading goes on if the
//!   remaining files make a valid series. Given as a *single file*, the same problem is an error.
//! * A file that parses and belongs to the chosen series but lacks a required attribute or its
//!   pixel data is an error naming the file and the attribute: dropping it silently would shift
//!   the geometry, and the user must know which file is broken.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, InMemDicomObject, OpenFileOptions, Tag};
use dicom_pixeldata::PixelDecoder;
use dicom_transfer_syntax_registry::{TransferSyntaxIndex, TransferSyntaxRegistry};
use ndarray::Array3;
use oncolens_core::{Direction, Geometry, Volume};
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{DicomError, SeriesWarning};

/// Options of [`read_series`].
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Which series to read when the folder holds several; `None` requires exactly one.
    pub series_uid: Option<String>,
    /// What to do with missing slices or uneven spacing.
    pub gap_policy: GapPolicy,
}

/// What to do with missing slices or uneven slice spacing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum GapPolicy {
    /// Refuse the series: a stacked volume with a hole has wrong geometry for every slice after it.
    #[default]
    Error,
    /// Stack the slices anyway and report a warning.
    Warn,
}

/// One series found by [`scan_series`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesSummary {
    pub series_instance_uid: String,
    pub modality: String,
    pub n_files: usize,
    pub description: Option<String>,
    pub files: Vec<PathBuf>,
}

/// All series under a path plus the files that could not be parsed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesScan {
    pub series: Vec<SeriesSummary>,
    /// Files that are not readable DICOM (path, reason); not fatal.
    pub skipped: Vec<(PathBuf, String)>,
}

/// A CT (or other single-channel) series read into a volume.
#[derive(Debug, Clone)]
pub struct CtSeries {
    /// Values are `stored * RescaleSlope + RescaleIntercept` computed in f64 then cast to f32.
    pub volume: Volume<f32>,
    pub modality: String,
    pub series_instance_uid: String,
    pub study_instance_uid: Option<String>,
    /// Distinct transfer syntax UIDs of the files, sorted.
    pub transfer_syntaxes: Vec<String>,
    /// Files in slice order (one entry for a multi-frame file).
    pub files: Vec<PathBuf>,
    pub warnings: Vec<SeriesWarning>,
}

/// Lists the series under `path` (a file or a folder, searched recursively).
///
/// Only the header is parsed (up to Pixel Data), so this is cheap on big folders.
pub fn scan_series(path: &Path) -> Result<Vec<SeriesSummary>, DicomError> {
    Ok(scan_series_detailed(path)?.series)
}

/// Like [`scan_series`], and also returns the files that were skipped and why.
pub fn scan_series_detailed(path: &Path) -> Result<SeriesScan, DicomError> {
    let files = list_files(path)?;
    let parsed: Vec<(PathBuf, Result<DefaultDicomObject, String>)> = files
        .into_par_iter()
        .map(|p| {
            let r = OpenFileOptions::new()
                .read_until(tags::PIXEL_DATA)
                .open_file(&p)
                .map_err(|e| e.to_string());
            (p, r)
        })
        .collect();
    let (groups, skipped) = group(parsed);
    Ok(SeriesScan {
        series: groups.iter().map(|g| g.summary()).collect(),
        skipped,
    })
}

/// Reads one series from a folder (recursively) or a single file.
///
/// A single-frame file gives a one-slice volume, an enhanced multi-frame file the full volume.
/// Slices are ordered by position along the slice normal, never by file name or InstanceNumber.
pub fn read_series(path: &Path, opts: &ReadOptions) -> Result<CtSeries, DicomError> {
    let meta = std::fs::metadata(path).map_err(|source| DicomError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.is_file() {
        let obj = open_full(path)?;
        return read_single_file(path, obj, opts.gap_policy);
    }
    let files = list_files(path)?;
    // One pass of I/O: every file is parsed completely once, in parallel; pixel data is decoded
    // later, straight into the output buffer, after the slices have been ordered.
    let parsed: Vec<(PathBuf, Result<DefaultDicomObject, String>)> = files
        .into_par_iter()
        .map(|p| {
            let r = open_full(&p).map_err(|e| match e {
                DicomError::Parse { message, .. } => message,
                other => other.to_string(),
            });
            (p, r)
        })
        .collect();
    let (groups, skipped) = group(parsed);
    let group = select_group(path, groups, &skipped, opts)?;
    let mut warnings: Vec<SeriesWarning> = skipped
        .into_iter()
        .map(|(path, reason)| SeriesWarning::SkippedFile { path, reason })
        .collect();
    let series = read_group(group, opts, &mut warnings)?;
    Ok(series)
}

fn open_full(path: &Path) -> Result<DefaultDicomObject, DicomError> {
    OpenFileOptions::new()
        .open_file(path)
        .map_err(|e| DicomError::Parse {
            path: path.to_path_buf(),
            message: chain(&e),
        })
}

/// Files under `path`, sorted by name (only so that error messages are reproducible).
fn list_files(path: &Path) -> Result<Vec<PathBuf>, DicomError> {
    let io = |source| DicomError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|source| DicomError::Io {
            path: dir.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| DicomError::Io {
                path: dir.clone(),
                source,
            })?;
            let p = entry.path();
            let ft = entry.file_type().map_err(|source| DicomError::Io {
                path: p.clone(),
                source,
            })?;
            if ft.is_dir() {
                stack.push(p);
            } else if p.file_name().and_then(|n| n.to_str()) != Some("DICOMDIR") {
                // DICOMDIR is an index, not an image; it would only add a spurious skip warning.
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

struct Group {
    uid: String,
    files: Vec<(PathBuf, DefaultDicomObject)>,
}

impl Group {
    fn summary(&self) -> SeriesSummary {
        let first = self.files.first().map(|(_, o)| &**o);
        SeriesSummary {
            series_instance_uid: self.uid.clone(),
            modality: first
                .and_then(|o| get_str(o, tags::MODALITY))
                .unwrap_or_default(),
            n_files: self.files.len(),
            description: first.and_then(|o| get_str(o, tags::SERIES_DESCRIPTION)),
            files: self.files.iter().map(|(p, _)| p.clone()).collect(),
        }
    }
}

type Skipped = Vec<(PathBuf, String)>;

fn group(parsed: Vec<(PathBuf, Result<DefaultDicomObject, String>)>) -> (Vec<Group>, Skipped) {
    let mut map: BTreeMap<String, Vec<(PathBuf, DefaultDicomObject)>> = BTreeMap::new();
    let mut skipped = Vec::new();
    for (p, r) in parsed {
        match r {
            Ok(obj) => match get_str(&obj, tags::SERIES_INSTANCE_UID) {
                Some(uid) => map.entry(uid).or_default().push((p, obj)),
                None => skipped.push((p, "no SeriesInstanceUID (0020,000E)".to_string())),
            },
            Err(e) => skipped.push((p, e)),
        }
    }
    let groups = map
        .into_iter()
        .map(|(uid, files)| Group { uid, files })
        .collect();
    (groups, skipped)
}

fn select_group(
    path: &Path,
    mut groups: Vec<Group>,
    skipped: &Skipped,
    opts: &ReadOptions,
) -> Result<Group, DicomError> {
    if groups.is_empty() {
        return Err(DicomError::NoSeries {
            path: path.to_path_buf(),
            skipped: skipped.clone(),
        });
    }
    match &opts.series_uid {
        Some(uid) => match groups.iter().position(|g| &g.uid == uid) {
            Some(i) => Ok(groups.swap_remove(i)),
            None => Err(DicomError::SeriesNotFound {
                path: path.to_path_buf(),
                uid: uid.clone(),
                available: groups.iter().map(Group::summary).collect(),
            }),
        },
        None if groups.len() == 1 => Ok(groups.swap_remove(0)),
        None => Err(DicomError::MultipleSeries {
            path: path.to_path_buf(),
            series: groups.iter().map(Group::summary).collect(),
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Attribute access

fn get_str(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    let e = obj.get(tag)?;
    let s = e.to_str().ok()?;
    let s = s.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    (!s.is_empty()).then(|| s.to_string())
}

/// Multi-valued decimal attribute; `Ok(None)` if absent or empty.
fn get_f64s(
    obj: &InMemDicomObject,
    tag: Tag,
    name: &'static str,
    path: &Path,
) -> Result<Option<Vec<f64>>, DicomError> {
    let Some(e) = obj.get(tag) else {
        return Ok(None);
    };
    if e.header().len.0 == 0 {
        return Ok(None);
    }
    e.to_multi_float64()
        .map(Some)
        .map_err(|err| DicomError::InvalidTag {
            path: path.to_path_buf(),
            tag: name,
            message: err.to_string(),
        })
}

fn get_fixed<const N: usize>(
    obj: &InMemDicomObject,
    tag: Tag,
    name: &'static str,
    path: &Path,
) -> Result<Option<[f64; N]>, DicomError> {
    match get_f64s(obj, tag, name, path)? {
        None => Ok(None),
        Some(v) => {
            let arr: [f64; N] = v
                .as_slice()
                .try_into()
                .map_err(|_| DicomError::InvalidTag {
                    path: path.to_path_buf(),
                    tag: name,
                    message: format!("expected {N} numbers, found {}", v.len()),
                })?;
            if arr.iter().any(|x| !x.is_finite()) {
                return Err(DicomError::InvalidTag {
                    path: path.to_path_buf(),
                    tag: name,
                    message: format!("non-finite value in {v:?}"),
                });
            }
            Ok(Some(arr))
        }
    }
}

fn required<T>(v: Option<T>, name: &'static str, path: &Path) -> Result<T, DicomError> {
    v.ok_or_else(|| DicomError::MissingTag {
        path: path.to_path_buf(),
        tag: name,
    })
}

fn get_u32(
    obj: &InMemDicomObject,
    tag: Tag,
    name: &'static str,
    path: &Path,
) -> Result<Option<u32>, DicomError> {
    match obj.get(tag) {
        None => Ok(None),
        Some(e) => e
            .to_int::<u32>()
            .map(Some)
            .map_err(|err| DicomError::InvalidTag {
                path: path.to_path_buf(),
                tag: name,
                message: err.to_string(),
            }),
    }
}

/// First item of a sequence attribute.
fn first_item(obj: &InMemDicomObject, tag: Tag) -> Option<&InMemDicomObject> {
    obj.get(tag)?.items()?.first()
}

const IOP: &str = "ImageOrientationPatient (0020,0037)";
const IPP: &str = "ImagePositionPatient (0020,0032)";
const PS: &str = "PixelSpacing (0028,0030)";
const ROWS: &str = "Rows (0028,0010)";
const COLS: &str = "Columns (0028,0011)";
const SLOPE: &str = "RescaleSlope (0028,1053)";
const INTERCEPT: &str = "RescaleIntercept (0028,1052)";

// ---------------------------------------------------------------------------------------------
// Geometry helpers

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn normalize(a: [f64; 3]) -> [f64; 3] {
    let n = dot(a, a).sqrt();
    if n > 0.0 {
        [a[0] / n, a[1] / n, a[2] / n]
    } else {
        a
    }
}

fn axes(iop: [f64; 6]) -> ([f64; 3], [f64; 3], [f64; 3]) {
    let r = normalize([iop[0], iop[1], iop[2]]);
    let c = normalize([iop[3], iop[4], iop[5]]);
    (r, c, normalize(cross(r, c)))
}

fn same_iop(a: &[f64; 6], b: &[f64; 6]) -> bool {
    a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-4)
}

/// One slice (a single-frame file or one frame of a multi-frame file) before stacking.
struct Slice {
    path: PathBuf,
    frame: u32,
    ipp: [f64; 3],
    iop: [f64; 6],
    /// PixelSpacing as stored: [row spacing (y), column spacing (x)].
    pixel_spacing: [f64; 2],
    rows: u32,
    cols: u32,
    slope: f64,
    intercept: f64,
    position: f64,
}

/// The placement and size of one frame, as read from its attributes.
struct FrameGeometry {
    ipp: [f64; 3],
    iop: [f64; 6],
    pixel_spacing: [f64; 2],
    rows: u32,
    cols: u32,
}

impl Slice {
    /// A slice whose `position` is its distance along the slice normal, the sort key of a series.
    fn new(path: &Path, frame: u32, g: FrameGeometry, (slope, intercept): (f64, f64)) -> Self {
        let (_, _, n) = axes(g.iop);
        Slice {
            path: path.to_path_buf(),
            frame,
            ipp: g.ipp,
            iop: g.iop,
            pixel_spacing: g.pixel_spacing,
            rows: g.rows,
            cols: g.cols,
            slope,
            intercept,
            position: dot(n, g.ipp),
        }
    }
}

/// Per-file attributes that do not vary per frame.
struct Common {
    modality: String,
    series_uid: String,
    study_uid: Option<String>,
    ts: String,
    spacing_between: Option<f64>,
}

fn common(path: &Path, obj: &DefaultDicomObject) -> Common {
    Common {
        modality: get_str(obj, tags::MODALITY).unwrap_or_default(),
        series_uid: get_str(obj, tags::SERIES_INSTANCE_UID).unwrap_or_default(),
        study_uid: get_str(obj, tags::STUDY_INSTANCE_UID),
        ts: obj
            .meta()
            .transfer_syntax()
            .trim_end_matches(['\0', ' '])
            .to_string(),
        spacing_between: get_f64s(
            obj,
            tags::SPACING_BETWEEN_SLICES,
            "SpacingBetweenSlices",
            path,
        )
        .ok()
        .flatten()
        .and_then(|v| v.first().copied()),
    }
}

/// Slices of a single-frame (classic) image file.
///
/// With `defaults` (a lone file, e.g. a secondary capture or ultrasound image), missing
/// orientation, position and spacing take ITK's defaults (identity, 0, ImagerPixelSpacing or 1)
/// and each is reported as [`SeriesWarning::AssumedDefault`]; in a series they are required.
fn classic_slice(
    path: &Path,
    obj: &InMemDicomObject,
    defaults: Option<&mut Vec<SeriesWarning>>,
) -> Result<Slice, DicomError> {
    let rows = required(get_u32(obj, tags::ROWS, ROWS, path)?, ROWS, path)?;
    let cols = required(get_u32(obj, tags::COLUMNS, COLS, path)?, COLS, path)?;
    let iop = get_fixed::<6>(obj, tags::IMAGE_ORIENTATION_PATIENT, IOP, path)?;
    let ipp = get_fixed::<3>(obj, tags::IMAGE_POSITION_PATIENT, IPP, path)?;
    let ps = get_fixed::<2>(obj, tags::PIXEL_SPACING, PS, path)?;
    let (iop, ipp, pixel_spacing) = match defaults {
        None => (
            required(iop, IOP, path)?,
            required(ipp, IPP, path)?,
            required(ps, PS, path)?,
        ),
        Some(w) => {
            let mut note = |tag: &'static str, v: &str| {
                w.push(SeriesWarning::AssumedDefault {
                    tag,
                    value: v.to_string(),
                })
            };
            if iop.is_none() {
                note(IOP, "1\\0\\0\\0\\1\\0");
            }
            if ipp.is_none() {
                note(IPP, "0\\0\\0");
            }
            let ps = match ps {
                Some(ps) => ps,
                None => match get_fixed::<2>(
                    obj,
                    tags::IMAGER_PIXEL_SPACING,
                    "ImagerPixelSpacing (0018,1164)",
                    path,
                )? {
                    Some(ips) => {
                        note(PS, "ImagerPixelSpacing");
                        ips
                    }
                    None => {
                        note(PS, "1\\1");
                        [1.0, 1.0]
                    }
                },
            };
            (
                iop.unwrap_or([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]),
                ipp.unwrap_or([0.0; 3]),
                ps,
            )
        }
    };
    let geometry = FrameGeometry {
        ipp,
        iop,
        pixel_spacing,
        rows,
        cols,
    };
    Ok(Slice::new(path, 0, geometry, rescale_of(obj, path)?))
}

/// RescaleSlope and RescaleIntercept of `obj` (1 and 0 when absent, as in PS3.3 C.11.1).
fn rescale_of(obj: &InMemDicomObject, path: &Path) -> Result<(f64, f64), DicomError> {
    let slope = get_fixed::<1>(obj, tags::RESCALE_SLOPE, SLOPE, path)?.map_or(1.0, |v| v[0]);
    let intercept =
        get_fixed::<1>(obj, tags::RESCALE_INTERCEPT, INTERCEPT, path)?.map_or(0.0, |v| v[0]);
    Ok((slope, intercept))
}

/// Slices of an enhanced multi-frame file, from the Shared and Per-frame Functional Groups.
fn enhanced_slices(
    path: &Path,
    obj: &InMemDicomObject,
    n_frames: u32,
) -> Result<(Vec<Slice>, Option<f64>), DicomError> {
    const PFG: &str = "PerFrameFunctionalGroupsSequence (5200,9230)";
    let rows = required(get_u32(obj, tags::ROWS, ROWS, path)?, ROWS, path)?;
    let cols = required(get_u32(obj, tags::COLUMNS, COLS, path)?, COLS, path)?;
    let shared = first_item(obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE);
    let per_frame = required(
        obj.get(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
            .and_then(|e| e.items()),
        PFG,
        path,
    )?;
    if per_frame.len() != n_frames as usize {
        return Err(DicomError::InvalidTag {
            path: path.to_path_buf(),
            tag: PFG,
            message: format!("{} items for {n_frames} frames", per_frame.len()),
        });
    }
    // A functional group macro is looked up in the frame's item first, then in the shared item.
    fn find_in<'a>(
        frame: &'a InMemDicomObject,
        shared: Option<&'a InMemDicomObject>,
        seq: Tag,
    ) -> Option<&'a InMemDicomObject> {
        first_item(frame, seq).or_else(|| shared.and_then(|s| first_item(s, seq)))
    }
    let find = |frame, seq| find_in(frame, shared, seq);
    let mut slices = Vec::with_capacity(per_frame.len());
    let mut thickness = None;
    for (i, item) in per_frame.iter().enumerate() {
        let pos = required(
            find(item, tags::PLANE_POSITION_SEQUENCE),
            "PlanePositionSequence (0020,9113)",
            path,
        )?;
        let ori = required(
            find(item, tags::PLANE_ORIENTATION_SEQUENCE),
            "PlaneOrientationSequence (0020,9116)",
            path,
        )?;
        let meas = required(
            find(item, tags::PIXEL_MEASURES_SEQUENCE),
            "PixelMeasuresSequence (0028,9110)",
            path,
        )?;
        let ipp = required(
            get_fixed::<3>(pos, tags::IMAGE_POSITION_PATIENT, IPP, path)?,
            IPP,
            path,
        )?;
        let iop = required(
            get_fixed::<6>(ori, tags::IMAGE_ORIENTATION_PATIENT, IOP, path)?,
            IOP,
            path,
        )?;
        let pixel_spacing = required(
            get_fixed::<2>(meas, tags::PIXEL_SPACING, PS, path)?,
            PS,
            path,
        )?;
        if thickness.is_none() {
            thickness = get_fixed::<1>(
                meas,
                tags::SPACING_BETWEEN_SLICES,
                "SpacingBetweenSlices",
                path,
            )?
            .or(get_fixed::<1>(
                meas,
                tags::SLICE_THICKNESS,
                "SliceThickness",
                path,
            )?)
            .map(|v| v[0]);
        }
        let (slope, intercept) = match find(item, tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE) {
            Some(t) => (
                get_fixed::<1>(t, tags::RESCALE_SLOPE, SLOPE, path)?.map_or(1.0, |v| v[0]),
                get_fixed::<1>(t, tags::RESCALE_INTERCEPT, INTERCEPT, path)?.map_or(0.0, |v| v[0]),
            ),
            None => rescale_of(obj, path)?,
        };
        let geometry = FrameGeometry {
            ipp,
            iop,
            pixel_spacing,
            rows,
            cols,
        };
        slices.push(Slice::new(path, i as u32, geometry, (slope, intercept)));
    }
    Ok((slices, thickness))
}

fn check_decodable(path: &Path, ts_uid: &str) -> Result<(), DicomError> {
    match TransferSyntaxRegistry.get(ts_uid) {
        Some(ts) if ts.can_decode_all() => Ok(()),
        Some(ts) => Err(DicomError::UnsupportedTransferSyntax {
            path: path.to_path_buf(),
            uid: ts_uid.to_string(),
            name: ts.name().to_string(),
        }),
        None => Err(DicomError::UnsupportedTransferSyntax {
            path: path.to_path_buf(),
            uid: ts_uid.to_string(),
            name: "unknown transfer syntax".to_string(),
        }),
    }
}

fn read_single_file(
    path: &Path,
    obj: DefaultDicomObject,
    policy: GapPolicy,
) -> Result<CtSeries, DicomError> {
    let c = common(path, &obj);
    if obj.get(tags::PIXEL_DATA).is_none() {
        return Err(DicomError::NoPixelData {
            path: path.to_path_buf(),
        });
    }
    let n_frames = get_u32(
        &obj,
        tags::NUMBER_OF_FRAMES,
        "NumberOfFrames (0028,0008)",
        path,
    )?
    .unwrap_or(1);
    let mut warnings = Vec::new();
    let (mut slices, fallback_dz) = if obj
        .get(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
        .is_some()
    {
        enhanced_slices(path, &obj, n_frames)?
    } else if n_frames == 1 {
        // SimpleITK (GDCM) uses SpacingBetweenSlices for a lone slice and ignores SliceThickness.
        (
            vec![classic_slice(path, &obj, Some(&mut warnings))?],
            c.spacing_between,
        )
    } else {
        return Err(DicomError::MissingTag {
            path: path.to_path_buf(),
            tag: "PerFrameFunctionalGroupsSequence (5200,9230) (multi-frame without functional groups)",
        });
    };
    sort_slices(&mut slices)?;
    let geometry = build_geometry(&slices, fallback_dz, policy, &mut warnings)?;
    check_decodable(path, &c.ts)?;
    let mut data = vec![0f32; geometry.voxel_count()];
    let plane = (slices[0].rows as usize) * (slices[0].cols as usize);
    let decoded = obj.decode_pixel_data().map_err(|e| decode_err(path, e))?;
    for (slice, out) in slices.iter().zip(data.chunks_mut(plane)) {
        convert_frame(&decoded, slice, out)?;
    }
    finish(geometry, data, c, vec![path.to_path_buf()], warnings)
}

fn decode_err(path: &Path, e: dicom_pixeldata::Error) -> DicomError {
    DicomError::PixelDecode {
        path: path.to_path_buf(),
        message: chain(&e),
    }
}

/// The error and its sources joined with ": " (dicom-rs keeps the useful detail in the sources).
fn chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !msg.contains(&t) {
            msg.push_str(": ");
            msg.push_str(&t);
        }
        cur = s.source();
    }
    msg
}

fn finish(
    geometry: Geometry,
    data: Vec<f32>,
    c: Common,
    files: Vec<PathBuf>,
    mut warnings: Vec<SeriesWarning>,
) -> Result<CtSeries, DicomError> {
    let [x, y, z] = geometry.size;
    let path = files.first().cloned().unwrap_or_default();
    let arr = Array3::from_shape_vec((z, y, x), data).map_err(|e| DicomError::Geometry {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let volume = Volume::new(arr, geometry).map_err(|e| DicomError::Geometry {
        path,
        message: e.to_string(),
    })?;
    if c.modality != "CT" {
        warnings.push(SeriesWarning::NonCtModality(c.modality.clone()));
    }
    Ok(CtSeries {
        volume,
        modality: c.modality,
        series_instance_uid: c.series_uid,
        study_instance_uid: c.study_uid,
        transfer_syntaxes: vec![c.ts],
        files,
        warnings,
    })
}

/// Orders slices along the normal and rejects duplicates, mixed orientations and mixed grids.
fn sort_slices(slices: &mut [Slice]) -> Result<(), DicomError> {
    let Some(first) = slices.first() else {
        return Ok(());
    };
    for s in slices.iter().skip(1) {
        if !same_iop(&first.iop, &s.iop) {
            return Err(DicomError::MixedOrientation {
                first: first.path.clone(),
                other: s.path.clone(),
                first_iop: Box::new(first.iop),
                other_iop: Box::new(s.iop),
            });
        }
        if (s.rows, s.cols) != (first.rows, first.cols)
            || (s.pixel_spacing[0] - first.pixel_spacing[0]).abs() > 1e-4
            || (s.pixel_spacing[1] - first.pixel_spacing[1]).abs() > 1e-4
        {
            let d = |s: &Slice| {
                format!(
                    "{}x{} (rows x cols) at spacing {:?}",
                    s.rows, s.cols, s.pixel_spacing
                )
            };
            return Err(DicomError::MixedGrid {
                first: first.path.clone(),
                other: s.path.clone(),
                first_desc: d(first),
                other_desc: d(s),
            });
        }
    }
    slices.sort_by(|a, b| a.position.total_cmp(&b.position));
    for w in slices.windows(2) {
        if (w[1].position - w[0].position).abs() < 1e-4 {
            return Err(DicomError::DuplicatePosition {
                first: w[0].path.clone(),
                second: w[1].path.clone(),
                position_mm: w[0].position,
            });
        }
    }
    Ok(())
}

/// ITK/SimpleITK geometry of sorted slices.
///
/// z spacing is `|IPP_last - IPP_first| / (n - 1)`, which is what ITK's ImageSeriesReader uses, so
/// that our numbers equal SimpleITK's even when spacing is slightly irregular.
fn build_geometry(
    slices: &[Slice],
    fallback_dz: Option<f64>,
    policy: GapPolicy,
    warnings: &mut Vec<SeriesWarning>,
) -> Result<Geometry, DicomError> {
    let first = &slices[0];
    let (r, c, n) = axes(first.iop);
    let dz = if slices.len() > 1 {
        let last = &slices[slices.len() - 1];
        let d = [
            last.ipp[0] - first.ipp[0],
            last.ipp[1] - first.ipp[1],
            last.ipp[2] - first.ipp[2],
        ];
        check_spacing(slices, policy, warnings)?;
        // Gantry tilt: slice origins drift sideways. ITK stacks them along the normal anyway.
        let max_offset_mm = slices
            .iter()
            .map(|s| {
                let d = [
                    s.ipp[0] - first.ipp[0],
                    s.ipp[1] - first.ipp[1],
                    s.ipp[2] - first.ipp[2],
                ];
                let along = dot(d, n);
                let side = [
                    d[0] - along * n[0],
                    d[1] - along * n[1],
                    d[2] - along * n[2],
                ];
                dot(side, side).sqrt()
            })
            .fold(0.0, f64::max);
        if max_offset_mm > 0.01 {
            warnings.push(SeriesWarning::ObliqueStack { max_offset_mm });
        }
        dot(d, d).sqrt() / (slices.len() - 1) as f64
    } else {
        fallback_dz
            .filter(|v| v.is_finite() && *v > 0.0)
            .unwrap_or(1.0)
    };
    Geometry::new(
        [first.cols as usize, first.rows as usize, slices.len()],
        [first.pixel_spacing[1], first.pixel_spacing[0], dz],
        first.ipp,
        Direction::from_axes(r, c, n),
    )
    .map_err(|e| DicomError::Geometry {
        path: first.path.clone(),
        message: e.to_string(),
    })
}

/// Flags missing slices (a step over 1.5x the typical one) and uneven steps (off by more than
/// 1 % and 0.01 mm). The typical step is the median, so one gap does not hide the others.
fn check_spacing(
    slices: &[Slice],
    policy: GapPolicy,
    warnings: &mut Vec<SeriesWarning>,
) -> Result<(), DicomError> {
    let mut steps: Vec<f64> = slices
        .windows(2)
        .map(|w| w[1].position - w[0].position)
        .collect();
    let mut sorted = steps.clone();
    sorted.sort_by(f64::total_cmp);
    let expected = sorted[sorted.len() / 2];
    for (i, found) in steps.drain(..).enumerate() {
        let (a, b) = (&slices[i].path, &slices[i + 1].path);
        let gap = found > expected * 1.5;
        let uneven = (found - expected).abs() > (0.01 * expected).max(0.01);
        if !gap && !uneven {
            continue;
        }
        let (after_file, before_file) = (a.clone(), b.clone());
        match (policy, gap) {
            (GapPolicy::Error, true) => {
                return Err(DicomError::SliceGap {
                    after_file,
                    before_file,
                    expected_mm: expected,
                    found_mm: found,
                });
            }
            (GapPolicy::Error, false) => {
                return Err(DicomError::UnevenSpacing {
                    after_file,
                    before_file,
                    expected_mm: expected,
                    found_mm: found,
                });
            }
            (GapPolicy::Warn, true) => warnings.push(SeriesWarning::SliceGap {
                after_file,
                before_file,
                expected_mm: expected,
                found_mm: found,
            }),
            (GapPolicy::Warn, false) => warnings.push(SeriesWarning::UnevenSpacing {
                after_file,
                before_file,
                expected_mm: expected,
                found_mm: found,
            }),
        }
    }
    Ok(())
}

/// Converts one decoded frame into HU in `out` (length rows*cols), without temporary buffers.
///
/// Stored values follow PixelRepresentation and BitsStored as pydicom does: signed values are
/// sign-extended from BitsStored; unsigned values are used as stored. Then
/// `(stored as f64 * slope + intercept) as f32`, bit-equal to pydicom's apply_modality_lut.
fn convert_frame(
    decoded: &dicom_pixeldata::DecodedPixelData<'_>,
    slice: &Slice,
    out: &mut [f32],
) -> Result<(), DicomError> {
    let path = &slice.path;
    if decoded.samples_per_pixel() != 1 {
        return Err(DicomError::UnsupportedPixelFormat {
            path: path.clone(),
            message: format!(
                "SamplesPerPixel {} (only single-channel grey images)",
                decoded.samples_per_pixel()
            ),
        });
    }
    let bytes = decoded
        .frame_data(slice.frame)
        .map_err(|e| decode_err(path, e))?;
    let signed = decoded.pixel_representation() == dicom_pixeldata::PixelRepresentation::Signed;
    let bits_alloc = decoded.bits_allocated();
    let bits_stored = decoded.bits_stored().clamp(1, bits_alloc.max(1));
    let (slope, icpt) = (slice.slope, slice.intercept);
    let want = out.len() * usize::from(bits_alloc / 8).max(1);
    if bytes.len() < want {
        return Err(DicomError::PixelDecode {
            path: path.clone(),
            message: format!(
                "frame {} has {} bytes, expected {want}",
                slice.frame,
                bytes.len()
            ),
        });
    }
    let hu = |v: f64| (v * slope + icpt) as f32;
    match (bits_alloc, signed) {
        (8, false) => out
            .iter_mut()
            .zip(bytes)
            .for_each(|(o, b)| *o = hu(f64::from(*b))),
        (8, true) => {
            let sh = 8 - bits_stored;
            out.iter_mut()
                .zip(bytes)
                .for_each(|(o, b)| *o = hu(f64::from(((*b as i8) << sh) >> sh)))
        }
        (16, false) => out
            .iter_mut()
            .zip(bytes.chunks_exact(2))
            .for_each(|(o, b)| *o = hu(f64::from(u16::from_le_bytes([b[0], b[1]])))),
        (16, true) => {
            let sh = 16 - bits_stored;
            out.iter_mut()
                .zip(bytes.chunks_exact(2))
                .for_each(|(o, b)| {
                    let v = (i16::from_le_bytes([b[0], b[1]]) << sh) >> sh;
                    *o = hu(f64::from(v))
                })
        }
        (32, false) => out
            .iter_mut()
            .zip(bytes.chunks_exact(4))
            .for_each(|(o, b)| *o = hu(f64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))),
        (32, true) => {
            let sh = 32 - bits_stored;
            out.iter_mut()
                .zip(bytes.chunks_exact(4))
                .for_each(|(o, b)| {
                    let v = (i32::from_le_bytes([b[0], b[1], b[2], b[3]]) << sh) >> sh;
                    *o = hu(f64::from(v))
                })
        }
        _ => {
            return Err(DicomError::UnsupportedPixelFormat {
                path: path.clone(),
                message: format!("BitsAllocated {bits_alloc}"),
            });
        }
    }
    Ok(())
}

fn read_group(
    group: Group,
    opts: &ReadOptions,
    warnings: &mut Vec<SeriesWarning>,
) -> Result<CtSeries, DicomError> {
    // A lone multi-frame file in the folder: read it like a single file.
    if group.files.len() == 1 {
        let Some((path, obj)) = group.files.into_iter().next() else {
            return Err(DicomError::NoSeries {
                path: PathBuf::new(),
                skipped: Vec::new(),
            });
        };
        let mut s = read_single_file(&path, obj, opts.gap_policy)?;
        let mut w = std::mem::take(warnings);
        w.append(&mut s.warnings);
        s.warnings = w;
        return Ok(s);
    }
    let mut slices = Vec::with_capacity(group.files.len());
    for (path, obj) in &group.files {
        if obj.get(tags::PIXEL_DATA).is_none() {
            return Err(DicomError::NoPixelData { path: path.clone() });
        }
        slices.push(classic_slice(path, obj, None)?);
    }
    let c = common(&group.files[0].0, &group.files[0].1);
    let mut ts: Vec<String> = group
        .files
        .iter()
        .map(|(p, o)| {
            let uid = o.meta().transfer_syntax().trim_end_matches(['\0', ' ']);
            check_decodable(p, uid).map(|()| uid.to_string())
        })
        .collect::<Result<_, _>>()?;
    ts.sort();
    ts.dedup();
    // Remember each file's index before sorting so that objects can be matched to slices.
    let mut order: Vec<usize> = (0..slices.len()).collect();
    order.sort_by(|&a, &b| slices[a].position.total_cmp(&slices[b].position));
    sort_slices(&mut slices)?;
    let geometry = build_geometry(&slices, None, opts.gap_policy, warnings)?;
    let plane = (slices[0].rows as usize) * (slices[0].cols as usize);
    let mut data = vec![0f32; geometry.voxel_count()];
    let mut objs: Vec<Option<DefaultDicomObject>> =
        group.files.into_iter().map(|(_, o)| Some(o)).collect();
    let sorted_objs: Vec<DefaultDicomObject> =
        order.iter().filter_map(|&i| objs[i].take()).collect();
    drop(objs);
    data.par_chunks_mut(plane)
        .zip(sorted_objs.into_par_iter())
        .zip(slices.par_iter())
        .try_for_each(|((out, obj), slice)| {
            let decoded = obj
                .decode_pixel_data()
                .map_err(|e| decode_err(&slice.path, e))?;
            convert_frame(&decoded, slice, out)
        })?;
    let files = slices.iter().map(|s| s.path.clone()).collect();
    let mut s = finish(geometry, data, c, files, std::mem::take(warnings))?;
    s.transfer_syntaxes = ts;
    Ok(s)
}
