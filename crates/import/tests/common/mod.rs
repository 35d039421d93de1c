//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The shared real-data folder: `ONCOLENS_SHARED_DATA`, else `<workspace>/../shared/data`;
/// `None` when absent (tests that need it then skip).
pub fn shared_data() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("ONCOLENS_SHARED_DATA") {
        let p = PathBuf::from(p);
        return p.is_dir().then_some(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    p.is_dir().then_some(p)
}

/// A real data set below the shared folder, or `None` with a note on stderr.
pub fn shared(rel: &str) -> Option<PathBuf> {
    let p = shared_data().map(|d| d.join(rel)).filter(|p| p.exists());
    if p.is_none() {
        eprintln!("skipped: shared data `{rel}` not found (set ONCOLENS_SHARED_DATA)");
    }
    p
}

/// One `.npy` file: header (v1.0, padded to 64 bytes) + raw little-endian data.
pub fn npy(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let shape_text = match shape {
        [n] => format!("({n},)"),
        s => format!(
            "({})",
            s.iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// Writes a deflated `.npz` holding the given arrays.
pub fn write_npz(path: &Path, arrays: &[(&str, Vec<u8>)]) {
    let file = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in arrays {
        zip.start_file(format!("{name}.npy"), opts).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

/// Records progress calls and checks they are monotonic and end at the total.
#[derive(Default)]
pub struct Progress(pub RefCell<Vec<(usize, usize)>>);

impl Progress {
    pub fn record(&self, done: usize, total: usize) {
        self.0.borrow_mut().push((done, total));
    }

    pub fn check_complete(&self) {
        let calls = self.0.borrow();
        assert!(!calls.is_empty(), "progress was never called");
        let total = calls[0].1;
        assert!(calls.iter().all(|(_, t)| *t == total), "{calls:?}");
        assert!(calls.windows(2).all(|w| w[0].0 <= w[1].0), "{calls:?}");
        assert_eq!(calls.last().map(|c| c.0), Some(total), "{calls:?}");
    }
}

/// Reads a CSV into header + rows.
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let h = r.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = r
        .records()
        .map(|x| x.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (h, rows)
}
