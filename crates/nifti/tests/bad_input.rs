//! Malformed files: every error names the file and the field, and nothing panics.

// Tests fail by panicking; index loops mirror the matrix maths they check.
#![allow(clippy::unwrap_used, clippy::needless_range_loop)]

use std::path::{Path, PathBuf};

use oncolens_nifti::{NiftiError, read_header_info, read_label_map, read_volume, read_volume_at};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/nifti")
        .join(name)
}

/// A valid little-endian 3D NIfTI-1 file (uint8, 4x5x7) to corrupt.
fn good_bytes() -> Vec<u8> {
    std::fs::read(fixture("fallback.nii")).unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn err_of(p: &Path) -> NiftiError {
    let e = read_volume(p).unwrap_err();
    assert!(
        e.to_string()
            .contains(&*p.file_name().unwrap().to_string_lossy()),
        "{e}"
    );
    e
}

#[test]
fn truncated_header_and_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let b = good_bytes();
    let e = err_of(&write(dir.path(), "short.nii", &b[..100]));
    assert!(
        matches!(
            e,
            NiftiError::TruncatedHeader {
                got: 100,
                need: 348,
                ..
            }
        ),
        "{e}"
    );
    let e = err_of(&write(dir.path(), "empty.nii", &[]));
    assert!(
        matches!(e, NiftiError::TruncatedHeader { got: 0, .. }),
        "{e}"
    );
}

#[test]
fn wrong_sizeof_hdr_and_bad_magic() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = good_bytes();
    b[0..4].copy_from_slice(&349i32.to_le_bytes());
    let e = err_of(&write(dir.path(), "size.nii", &b));
    assert!(matches!(e, NiftiError::SizeofHdr { value: 349, .. }), "{e}");
    assert!(e.to_string().contains("sizeof_hdr"));
    let mut b = good_bytes();
    b[344..348].copy_from_slice(b"xyz\0");
    let e = err_of(&write(dir.path(), "magic.nii", &b));
    assert!(
        matches!(e, NiftiError::BadMagic { .. }) && e.to_string().contains("magic"),
        "{e}"
    );
    let mut b = good_bytes();
    b[344..348].copy_from_slice(b"ni1\0");
    let e = err_of(&write(dir.path(), "pairmagic.nii", &b));
    assert!(e.to_string().contains("magic"), "{e}");
}

#[test]
fn dim_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    for (d0, name) in [(0i16, "d0.nii"), (8, "d8.nii"), (-3, "dneg.nii")] {
        let mut b = good_bytes();
        b[40..42].copy_from_slice(&d0.to_le_bytes());
        let e = err_of(&write(dir.path(), name, &b));
        assert!(e.to_string().contains("dim[0]"), "{e}");
    }
    let mut b = good_bytes();
    b[44..46].copy_from_slice(&(-5i16).to_le_bytes());
    let e = err_of(&write(dir.path(), "dim2.nii", &b));
    assert!(e.to_string().contains("dim[2]"), "{e}");
}

/// Compression is read from the file's first bytes, not its name: a plain file named `.nii.gz`
/// and a gzipped one named `.nii` read the same as the originals.
#[test]
fn compression_is_sniffed_not_taken_from_the_name() {
    let dir = tempfile::tempdir().unwrap();
    let plain = fixture("anatomical.nii");
    let want = read_volume(&plain).unwrap();
    let bytes = std::fs::read(&plain).unwrap();
    let mut packed = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut packed, &bytes).unwrap();
    let renamed_plain = write(dir.path(), "plain.nii.gz", &bytes);
    let renamed_gz = write(dir.path(), "packed.nii", &packed.finish().unwrap());
    for p in [&renamed_plain, &renamed_gz] {
        let got = read_volume(p).unwrap();
        assert_eq!(got.volume.data(), want.volume.data(), "{}", p.display());
        assert_eq!(
            got.volume.geometry(),
            want.volume.geometry(),
            "{}",
            p.display()
        );
    }
    let mut streamed = Vec::new();
    oncolens_nifti::stream_volume(&renamed_plain, |b| streamed.extend_from_slice(b)).unwrap();
    assert_eq!(streamed.len(), want.volume.data().len());
}

#[test]
fn truncated_data_plain_and_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let b = good_bytes();
    let e = err_of(&write(dir.path(), "trunc.nii", &b[..b.len() - 1]));
    assert!(
        matches!(
            e,
            NiftiError::TruncatedData {
                expected: 140,
                found: 139,
                ..
            }
        ),
        "{e}"
    );
    // A gzip stream cut short is an error too (not a panic, not a silent short read).
    let gz = std::fs::read(fixture("standard.nii.gz")).unwrap();
    let e = err_of(&write(dir.path(), "trunc.nii.gz", &gz[..gz.len() / 2]));
    assert!(
        matches!(e, NiftiError::Io { .. } | NiftiError::TruncatedData { .. }),
        "{e}"
    );
    // Every prefix of a valid file fails cleanly.
    for n in 0..b.len() {
        let p = write(dir.path(), "prefix.nii", &b[..n]);
        assert!(read_volume(&p).is_err(), "prefix {n}");
    }
}

#[test]
fn unsupported_datatypes_are_named() {
    let dir = tempfile::tempdir().unwrap();
    for (code, name) in [
        (128i16, "RGB24"),
        (1792, "complex128"),
        (1, "binary"),
        (7, "invalid"),
    ] {
        let mut b = good_bytes();
        b[70..72].copy_from_slice(&code.to_le_bytes());
        let e = err_of(&write(dir.path(), "dt.nii", &b));
        assert!(matches!(e, NiftiError::UnsupportedDatatype { .. }), "{e}");
        assert!(e.to_string().contains(name), "{e}");
        // The header itself is still inspectable.
        assert_eq!(
            read_header_info(&dir.path().join("dt.nii"))
                .unwrap()
                .datatype
                .code,
            code
        );
    }
}

#[test]
fn non_orthogonal_and_degenerate_affines() {
    let e = err_of(&fixture("sheared_sform.nii"));
    assert!(matches!(e, NiftiError::NonOrthogonal { .. }), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let mut b = good_bytes();
    b[254..256].copy_from_slice(&1i16.to_le_bytes()); // sform_code 1, srow all zero
    let e = err_of(&write(dir.path(), "zero_sform.nii", &b));
    assert!(e.to_string().contains("zero length"), "{e}");
    let mut b = good_bytes();
    b[252..254].copy_from_slice(&1i16.to_le_bytes()); // qform_code 1 with |bcd| > 1
    b[256..260].copy_from_slice(&0.9f32.to_le_bytes());
    b[260..264].copy_from_slice(&0.9f32.to_le_bytes());
    let e = err_of(&write(dir.path(), "quat.nii", &b));
    assert!(e.to_string().contains("quatern"), "{e}");
    let mut b = good_bytes();
    b[112..116].copy_from_slice(&2.0f32.to_le_bytes());
    b[116..120].copy_from_slice(&f32::INFINITY.to_le_bytes());
    let e = err_of(&write(dir.path(), "inter.nii", &b));
    assert!(e.to_string().contains("scl_inter"), "{e}");
}

#[test]
fn four_d_files_need_an_index() {
    let p = fixture("functional.nii");
    let e = err_of(&p);
    assert!(
        matches!(e, NiftiError::NotThreeD { volumes: 20, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("20 volumes"), "{e}");
    assert!(read_volume_at(&p, 19).is_ok());
    let e = read_volume_at(&p, 20).unwrap_err();
    assert!(
        matches!(
            e,
            NiftiError::VolumeIndex {
                index: 20,
                volumes: 20,
                ..
            }
        ),
        "{e}"
    );
    assert!(read_label_map(&p).is_err());
}

#[test]
fn pair_without_image_and_unknown_extension() {
    let dir = tempfile::tempdir().unwrap();
    let hdr = std::fs::read(fixture("pair.hdr")).unwrap();
    let p = write(dir.path(), "lonely.hdr", &hdr);
    let e = read_volume(&p).unwrap_err();
    assert!(
        matches!(e, NiftiError::Io { .. }) && e.to_string().contains("lonely.img"),
        "{e}"
    );
    let p = write(dir.path(), "x.mgz", &hdr);
    assert!(matches!(err_of(&p), NiftiError::Extension { .. }));
    // The .img of a pair can be named instead of the .hdr.
    assert!(read_volume(&fixture("pair.img")).is_ok());
}

/// Deterministic "fuzzing": random bytes, and a valid file with random header bytes changed,
/// must give Ok or Err, never a panic or an absurd allocation.
#[test]
fn random_bytes_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let good = good_bytes();
    let v2 = {
        let p = dir.path().join("v2.nii");
        let img = read_volume(&fixture("standard.nii.gz")).unwrap();
        oncolens_nifti::write_volume_with(
            &p,
            &img.volume,
            &oncolens_nifti::WriteOptions {
                version: 2,
                ..Default::default()
            },
        )
        .unwrap();
        std::fs::read(&p).unwrap()
    };
    for round in 0..1500 {
        let bytes: Vec<u8> = match round % 3 {
            0 => {
                let n = (next() % 1200) as usize;
                let mut b: Vec<u8> = (0..n).map(|_| next() as u8).collect();
                if n >= 4 && round % 2 == 0 {
                    b[0..4].copy_from_slice(&348i32.to_le_bytes());
                }
                b
            }
            1 => {
                let mut b = good.clone();
                for _ in 0..(1 + next() % 6) {
                    let i = (next() % 352) as usize;
                    b[i] = next() as u8;
                }
                b
            }
            _ => {
                let mut b = v2.clone();
                for _ in 0..(1 + next() % 6) {
                    let i = (next() % 544) as usize;
                    b[i] = next() as u8;
                }
                b
            }
        };
        let p = write(dir.path(), "fuzz.nii", &bytes);
        let _ = read_volume(&p);
        let _ = read_label_map(&p);
        let _ = read_volume_at(&p, 1);
    }
}

/// Gzip members concatenated (as `cat a.gz b.gz` or a parallel compressor makes): read whole,
/// whatever the split. Splitting in halves makes the trailer's size field (the last member's)
/// equal to what the first member alone inflates to, the case a reader that trusts the
/// trailer and inflates one member would get wrong.
#[test]
fn multi_member_gzip_reads_whole() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let plain = good_bytes();
    let want = read_volume(&write(dir.path(), "plain.nii", &plain)).unwrap();
    let member = |bytes: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    };
    let half = plain.len() / 2;
    assert_eq!(plain.len() % 2, 0, "the halves must be equal");
    for split in [half, 100, plain.len() - 3] {
        let mut gz = member(&plain[..split]);
        gz.extend(member(&plain[split..]));
        let p = write(dir.path(), "members.nii.gz", &gz);
        let got = read_volume(&p).unwrap();
        assert_eq!(got.volume.data(), want.volume.data(), "split at {split}");
        assert_eq!(
            read_label_map(&p).unwrap().data().len(),
            want.volume.data().len()
        );
    }
}

/// A damaged byte inside the compressed data (the CRC no longer matches, or the DEFLATE
/// stream breaks) is an error naming the file, never a panic or silently wrong voxels.
#[test]
fn corrupt_gzip_data_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let gz = std::fs::read(fixture("standard.nii.gz")).unwrap();
    let good = read_volume(&write(dir.path(), "good.nii.gz", &gz)).unwrap();
    for at in [gz.len() / 2, gz.len() - 6] {
        let mut bad = gz.clone();
        bad[at] ^= 0x5a;
        let p = write(dir.path(), "bad.nii.gz", &bad);
        match read_volume(&p) {
            Err(e) => assert!(e.to_string().contains("bad.nii.gz"), "{e}"),
            // A flip the DEFLATE decoder tolerates must still be caught: the voxels differ
            // and the CRC check rejects them, so a successful read can only be the same data.
            Ok(v) => assert_eq!(v.volume.data(), good.volume.data(), "byte {at}"),
        }
    }
}
