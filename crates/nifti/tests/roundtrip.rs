//! Write -> read round trips of volumes and label maps, NIfTI-1 and NIfTI-2, .nii and .nii.gz.

// Tests fail by panicking; index loops mirror the matrix maths they check.
#![allow(clippy::unwrap_used, clippy::needless_range_loop)]

use std::path::Path;

use ndarray::Array3;
use oncolens_core::{Direction, Geometry, LabelMap, Volume};
use oncolens_nifti::{
    AffineSource, WriteOptions, read_header_info, read_label_map, read_volume, write_label_map,
    write_label_map_with, write_volume, write_volume_with,
};

/// An oblique geometry with a reflection-free rotation about two axes and odd spacings/origin.
fn oblique(size: [usize; 3]) -> Geometry {
    let (a, b) = (0.31f64, -0.17f64);
    let rz = [
        [a.cos(), -a.sin(), 0.0],
        [a.sin(), a.cos(), 0.0],
        [0.0, 0.0, 1.0],
    ];
    let rx = [
        [1.0, 0.0, 0.0],
        [0.0, b.cos(), -b.sin()],
        [0.0, b.sin(), b.cos()],
    ];
    let mut m = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            m[i][j] = (0..3).map(|k| rz[i][k] * rx[k][j]).sum();
        }
    }
    Geometry::new(
        size,
        [0.781_25, 0.9, 2.5],
        [-123.4, 87.65, -301.2],
        Direction(m),
    )
    .unwrap()
}

/// A left-handed (LPS identity with the slice axis reversed) geometry: qfac must be -1.
fn flipped(size: [usize; 3]) -> Geometry {
    let d = Direction::from_axes([1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]);
    Geometry::new(size, [1.0, 1.25, 3.0], [10.0, -20.5, 44.0], d).unwrap()
}

fn volume(g: Geometry) -> Volume<f32> {
    let [x, y, z] = g.size;
    let mut s = 12345u32;
    let data = Array3::from_shape_fn((z, y, x), |(k, j, i)| {
        s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        match (i + j + k) % 17 {
            0 => f32::NAN,
            1 => -0.0,
            2 => f32::MIN_POSITIVE / 3.0,
            _ => (s >> 8) as f32 / 1024.0 - 3000.0,
        }
    });
    Volume::new(data, g).unwrap()
}

fn assert_bits_equal(a: &Array3<f32>, b: &Array3<f32>) {
    assert_eq!(a.dim(), b.dim());
    for (x, y) in a.iter().zip(b.iter()) {
        assert_eq!(x.to_bits(), y.to_bits());
    }
}

fn assert_geometry_close(a: &Geometry, b: &Geometry, tol: f64) {
    assert_eq!(a.size, b.size);
    for i in 0..3 {
        assert!(
            (a.spacing_mm[i] - b.spacing_mm[i]).abs() <= tol * b.spacing_mm[i],
            "{a:?} vs {b:?}"
        );
        assert!(
            (a.origin_mm[i] - b.origin_mm[i]).abs() <= tol * b.origin_mm[i].abs().max(1.0),
            "{a:?} vs {b:?}"
        );
    }
    for (x, y) in a.direction.row_major().iter().zip(b.direction.row_major()) {
        assert!((x - y).abs() <= tol, "{a:?} vs {b:?}");
    }
}

#[test]
fn volumes_round_trip_exactly_in_all_four_flavours() {
    let dir = tempfile::tempdir().unwrap();
    for g in [oblique([7, 5, 3]), flipped([4, 6, 2])] {
        let v = volume(g.clone());
        for (name, version, tol) in [
            ("a.nii", 1u8, 2e-7),
            ("a.nii.gz", 1, 2e-7),
            ("b.nii", 2, 1e-14),
            ("b.nii.gz", 2, 1e-14),
        ] {
            let p = dir.path().join(name);
            let opts = WriteOptions {
                version,
                ..WriteOptions::default()
            };
            write_volume_with(&p, &v, &opts).unwrap();
            let back = read_volume(&p).unwrap();
            assert_bits_equal(back.volume.data(), v.data());
            assert_geometry_close(back.volume.geometry(), &g, tol);
            let h = &back.header;
            assert_eq!(h.version, version);
            assert_eq!((h.datatype.code, h.qform_code, h.sform_code), (16, 1, 1));
            assert_eq!(h.affine_source, AffineSource::Sform);
            assert_eq!(h.xyzt_units & 7, 2, "mm");
            assert_eq!(h.vox_offset, if version == 1 { 352.0 } else { 544.0 });
        }
    }
}

#[test]
fn default_writer_is_nifti1_float32() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("d.nii.gz");
    write_volume(&p, &volume(oblique([3, 3, 3]))).unwrap();
    let h = read_header_info(&p).unwrap();
    assert_eq!((h.version, h.datatype.name.as_str()), (1, "float32"));
    // gzip magic: it really is compressed.
    assert_eq!(&std::fs::read(&p).unwrap()[..2], &[0x1f, 0x8b]);
}

/// Zeroes sform_code in a written file so the reader must use the qform: the quaternion, qfac
/// and qoffset we write must place the image where the sform does.
fn drop_sform(p: &Path, version: u8) {
    let mut b = std::fs::read(p).unwrap();
    if version == 1 {
        b[254..256].copy_from_slice(&0i16.to_le_bytes());
    } else {
        b[348..352].copy_from_slice(&0i32.to_le_bytes());
    }
    std::fs::write(p, b).unwrap();
}

#[test]
fn written_qform_places_the_image_like_the_sform() {
    let dir = tempfile::tempdir().unwrap();
    for g in [oblique([5, 4, 3]), flipped([2, 3, 4])] {
        for (version, tol) in [(1u8, 1e-6), (2, 1e-12)] {
            let p = dir.path().join(format!("q{version}.nii"));
            let opts = WriteOptions {
                version,
                ..WriteOptions::default()
            };
            write_volume_with(&p, &volume(g.clone()), &opts).unwrap();
            drop_sform(&p, version);
            let back = read_volume(&p).unwrap();
            assert_eq!(back.header.affine_source, AffineSource::Qform);
            assert_geometry_close(back.volume.geometry(), &g, tol);
        }
    }
}

#[test]
fn label_maps_round_trip_as_u8_and_u16() {
    let dir = tempfile::tempdir().unwrap();
    let g = oblique([6, 5, 4]);
    for (max, code) in [(255u16, 2i16), (256, 512), (65535, 512)] {
        let data = Array3::from_shape_fn((4, 5, 6), |(k, j, i)| {
            ((i * 7 + j * 13 + k * 29) % (max as usize + 1)) as u16
        });
        let mut data = data;
        data[[3, 4, 5]] = max;
        let mask = LabelMap::new(data, g.clone()).unwrap();
        for name in ["m.nii", "m.nii.gz"] {
            let p = dir.path().join(name);
            write_label_map(&p, &mask).unwrap();
            assert_eq!(
                read_header_info(&p).unwrap().datatype.code,
                code,
                "max {max}"
            );
            let back = read_label_map(&p).unwrap();
            assert_eq!(back.data(), mask.data());
            assert_geometry_close(back.geometry(), &g, 2e-7);
            let v2 = dir.path().join(format!("v2-{name}"));
            write_label_map_with(
                &v2,
                &mask,
                &WriteOptions {
                    version: 2,
                    ..Default::default()
                },
            )
            .unwrap();
            let back = read_label_map(&v2).unwrap();
            assert_eq!(back.data(), mask.data());
            assert_geometry_close(back.geometry(), &g, 1e-14);
        }
    }
}

#[test]
fn writer_rejects_bad_names_and_options_without_leaving_files() {
    let dir = tempfile::tempdir().unwrap();
    let v = volume(oblique([2, 2, 2]));
    let p = dir.path().join("x.mha");
    let err = write_volume(&p, &v).unwrap_err();
    assert!(err.to_string().contains("x.mha"), "{err}");
    let p = dir.path().join("x.nii");
    let err = write_volume_with(
        &p,
        &v,
        &WriteOptions {
            version: 3,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("version"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
