//! Writes sample images with this crate's writer for fixtures/nifti/check_written.py, which reads
//! them with nibabel and SimpleITK. Usage: `cargo run -p oncolens-nifti --example write_samples
//! -- OUT_DIR`. Also writes OUT_DIR/expected.json (geometry we meant, voxel sha256).

use std::path::PathBuf;

use ndarray::Array3;
use oncolens_core::{Direction, Geometry, LabelMap, Volume};
use oncolens_nifti::{WriteOptions, write_label_map_with, write_volume_with};
use sha2::{Digest, Sha256};

fn rot(axis: usize, t: f64) -> [[f64; 3]; 3] {
    let (c, s) = (t.cos(), t.sin());
    let (i, j) = [(1, 2), (0, 2), (0, 1)][axis];
    let mut m = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    m[i][i] = c;
    m[i][j] = -s;
    m[j][i] = s;
    m[j][j] = c;
    m
}

fn mul(a: [[f64; 3]; 3], b: [[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let mut m = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            m[i][j] = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    m
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: write_samples OUT_DIR")?,
    );
    std::fs::create_dir_all(&out)?;
    let geometries = [
        (
            "axial",
            Geometry::new(
                [20, 16, 9],
                [0.8, 0.8, 2.5],
                [-120.5, -98.25, -40.0],
                Direction::identity(),
            )?,
        ),
        (
            "oblique",
            Geometry::new(
                [17, 13, 7],
                [0.7, 1.1, 3.0],
                [33.3, -12.0, 250.75],
                Direction(mul(rot(2, 0.4), rot(0, -0.25))),
            )?,
        ),
        (
            "flipped",
            Geometry::new(
                [11, 9, 6],
                [1.0, 1.5, 2.0],
                [5.0, 6.0, 7.0],
                Direction::from_axes([0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]),
            )?,
        ),
    ];
    let mut entries = Vec::new();
    for (name, g) in &geometries {
        let [x, y, z] = g.size;
        let data = Array3::from_shape_fn((z, y, x), |(k, j, i)| {
            (i as f32) * 1.5 - (j as f32) * 0.25 + (k as f32) * 100.0 - 1000.0
        });
        let vol = Volume::new(data, g.clone())?;
        let labels = Array3::from_shape_fn((z, y, x), |(k, j, i)| ((i + 2 * j + 3 * k) % 7) as u16);
        let mut big = labels.clone();
        big[[0, 0, 0]] = 300;
        for version in [1u8, 2] {
            let opts = WriteOptions {
                version,
                ..WriteOptions::default()
            };
            for ext in ["nii", "nii.gz"] {
                let file = format!("{name}_v{version}.{ext}");
                write_volume_with(&out.join(&file), &vol, &opts)?;
                entries.push((
                    file,
                    g.clone(),
                    version,
                    "float32",
                    sha(vol.data().iter().map(|v| f64::from(*v))),
                ));
            }
            for (kind, arr, dt) in [("labels8", &labels, "uint8"), ("labels16", &big, "uint16")] {
                let file = format!("{name}_{kind}_v{version}.nii.gz");
                let mask = LabelMap::new(arr.clone(), g.clone())?;
                write_label_map_with(&out.join(&file), &mask, &opts)?;
                entries.push((
                    file,
                    g.clone(),
                    version,
                    dt,
                    sha(arr.iter().map(|v| f64::from(*v))),
                ));
            }
        }
    }
    let json: Vec<serde_json::Value> = entries
        .into_iter()
        .map(|(file, g, version, dtype, sha)| {
            serde_json::json!({
                "file": file, "version": version, "dtype": dtype, "sha256_f32_zyx": sha,
                "size": g.size, "spacing": g.spacing_mm, "origin": g.origin_mm,
                "direction": g.direction.row_major(),
            })
        })
        .collect();
    std::fs::write(
        out.join("expected.json"),
        serde_json::to_string_pretty(&json)?,
    )?;
    println!("wrote {} files to {}", json.len(), out.display());
    Ok(())
}

/// sha256 of the voxels as little-endian f32 in [z, y, x] C order (make_reference.py's layout).
fn sha(values: impl Iterator<Item = f64>) -> String {
    let mut h = Sha256::new();
    for v in values {
        h.update((v as f32).to_le_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
