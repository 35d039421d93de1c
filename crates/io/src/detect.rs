//! Which reader a path needs, decided from names and the first bytes, never from trust alone.

use std::io::Read;
use std::path::Path;

/// The kinds of input oncolens reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// A folder laid out as a cohort (has `labels.csv` or `cohort.json`, or site/case folders).
    Cohort,
    /// A folder holding DICOM files (any depth).
    DicomFolder,
    DicomFile,
    Nifti,
    FhirBundle,
    Report,
    ExpressionTable,
    Unknown,
}

fn has_dicm_magic(path: &Path) -> bool {
    let mut buf = [0u8; 132];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut buf))
        .map(|_| &buf[128..132] == b"DICM")
        .unwrap_or(false)
}

fn lower_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default()
}

/// Decides the kind of `path`.
pub fn detect(path: &Path) -> FileKind {
    if path.is_dir() {
        if path.join("labels.csv").is_file() || path.join("cohort.json").is_file() {
            return FileKind::Cohort;
        }
        return FileKind::DicomFolder;
    }
    let name = lower_name(path);
    if name.ends_with(".nii") || name.ends_with(".nii.gz") || name.ends_with(".hdr") {
        return FileKind::Nifti;
    }
    if name.ends_with(".json") {
        return FileKind::FhirBundle;
    }
    if name.ends_with(".txt") {
        return FileKind::Report;
    }
    if name.ends_with(".csv") || name.ends_with(".tsv") {
        return FileKind::ExpressionTable;
    }
    if name.ends_with(".dcm") || has_dicm_magic(path) {
        return FileKind::DicomFile;
    }
    FileKind::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_name_and_magic() {
        let dir = tempfile::tempdir().unwrap();
        let dcm = dir.path().join("IM0001");
        let mut bytes = vec![0u8; 128];
        bytes.extend_from_slice(b"DICM");
        std::fs::write(&dcm, &bytes).unwrap();
        assert_eq!(detect(&dcm), FileKind::DicomFile);
        let other = dir.path().join("notes");
        std::fs::write(&other, b"hello").unwrap();
        assert_eq!(detect(&other), FileKind::Unknown);
        assert_eq!(detect(Path::new("a/mask.nii.gz")), FileKind::Nifti);
        assert_eq!(detect(dir.path()), FileKind::DicomFolder);
        std::fs::write(dir.path().join("labels.csv"), b"case_id\n").unwrap();
        assert_eq!(detect(dir.path()), FileKind::Cohort);
    }
}
