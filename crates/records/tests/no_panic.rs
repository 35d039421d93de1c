//! Mutated and truncated inputs give an error or a value, never a panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use oncolens_records::{fhir, omics, report};

fn fixture(dir: &str, name: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures")
            .join(dir)
            .join(name),
    )
    .unwrap()
}

/// Deterministic mutations: every truncation point (strided), byte flips, deletions, duplications.
fn mutations(seed: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let stride = (seed.len() / 150).max(1);
    for cut in (0..seed.len()).step_by(stride) {
        out.push(seed[..cut].to_vec());
    }
    for _ in 0..300 {
        let mut m = seed.to_vec();
        for _ in 0..(1 + next() % 4) {
            if m.is_empty() {
                break;
            }
            let at = (next() % m.len() as u64) as usize;
            match next() % 4 {
                0 => m[at] = (next() & 0xFF) as u8,
                1 => {
                    m.remove(at);
                }
                2 => {
                    let b = m[at];
                    m.insert(at, b);
                }
                _ => m[at] = b"{}[],:\"0-.eE \t\n"[(next() % 15) as usize],
            }
        }
        out.push(m);
    }
    out
}

#[test]
fn fhir_parser_never_panics() {
    for name in ["spec_examples_bundle.json", "synth_renal_bundle.json"] {
        for m in mutations(&fixture("fhir", name)) {
            let _ = fhir::parse_bundle(&String::from_utf8_lossy(&m), Path::new(name));
        }
    }
}

#[test]
fn expression_and_report_parsers_never_panic() {
    for name in [
        "gse7390_samples_x_probes.csv",
        "gse7390_probes_x_samples.tsv",
    ] {
        for m in mutations(&fixture("omics", name)) {
            let _ =
                omics::parse_expression_table(&m, Path::new(name), &omics::OmicsOptions::default());
        }
    }
    for m in
        mutations("FINDINGS:\nA 3.2 cm mass. Caf\u{e9}.\nIMPRESSION:\nSuspicious.\n".as_bytes())
    {
        let _ = report::parse_report(&m, Path::new("r.txt"));
    }
}
