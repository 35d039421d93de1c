//! Free-text reports (radiology, pathology): UTF-8 files.

use std::path::Path;

use oncolens_core::ReportText;

use crate::RecordsError;

/// Reads a report: strips a UTF-8 byte-order mark and normalises line endings to `\n`.
/// Invalid UTF-8 is an error naming the byte offset; an empty report is an error.
pub fn read_report(path: &Path) -> Result<ReportText, RecordsError> {
    let bytes = std::fs::read(path).map_err(|source| RecordsError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_report(&bytes, path)
}

/// Decodes report bytes (see [`read_report`]); `source` names the file in errors.
pub fn parse_report(bytes: &[u8], source: &Path) -> Result<ReportText, RecordsError> {
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| RecordsError::Report {
        path: source.to_path_buf(),
        message: format!(
            "not valid UTF-8 at byte {} (re-encode the file as UTF-8)",
            e.valid_up_to()
        ),
    })?;
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    if text.trim().is_empty() {
        return Err(RecordsError::Report {
            path: source.to_path_buf(),
            message: "report is empty".into(),
        });
    }
    Ok(ReportText { text })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bom_and_crlf_are_normalised() {
        let r = parse_report(b"\xEF\xBB\xBFFINDINGS:\r\nMass.\r\n", Path::new("r.txt")).unwrap();
        assert_eq!(r.text, "FINDINGS:\nMass.\n");
    }

    #[test]
    fn invalid_utf8_names_offset_and_file() {
        let err = parse_report(b"abc\xFFdef", Path::new("r.txt"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("r.txt") && err.contains("byte 3"), "{err}");
        let err = parse_report(b"  \n ", Path::new("e.txt"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("empty"), "{err}");
    }
}
