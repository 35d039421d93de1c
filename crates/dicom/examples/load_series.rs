//! Loads a DICOM series and prints JSON: elapsed seconds, peak RSS, size, spacing, warnings.
//!
//! Used by bench/ingest/run.sh. Usage: `load_series <folder-or-file> [--warn] [--sha256]`;
//! `--sha256` adds the hash of the f32 little-endian HU array (z, y, x) to compare with pydicom.

use std::time::Instant;

use oncolens_dicom::{GapPolicy, ReadOptions, read_series};

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: load_series <folder-or-file> [--warn]");
        return std::process::ExitCode::from(2);
    };
    let gap_policy = if args.iter().any(|a| a == "--warn") {
        GapPolicy::Warn
    } else {
        GapPolicy::Error
    };
    let t0 = Instant::now();
    let opts = ReadOptions {
        series_uid: None,
        gap_policy,
    };
    match read_series(std::path::Path::new(path), &opts) {
        Ok(s) => {
            let secs = t0.elapsed().as_secs_f64();
            let g = s.volume.geometry();
            let sum: f64 = s.volume.data().iter().map(|&v| f64::from(v)).sum();
            let sha = if args.iter().any(|a| a == "--sha256") {
                use sha2::Digest;
                let mut h = sha2::Sha256::new();
                for v in s.volume.data().iter() {
                    h.update(v.to_le_bytes());
                }
                h.finalize().iter().map(|b| format!("{b:02x}")).collect()
            } else {
                String::new()
            };
            println!(
                "{{\"seconds\": {secs}, \"peak_rss_kib\": {}, \"size\": {:?}, \"spacing\": {:?}, \"origin\": {:?}, \"mean\": {}, \"warnings\": {}, \"sha256\": \"{sha}\"}}",
                peak_rss_kib().unwrap_or(0),
                g.size,
                g.spacing_mm,
                g.origin_mm,
                sum / g.voxel_count() as f64,
                s.warnings.len()
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
