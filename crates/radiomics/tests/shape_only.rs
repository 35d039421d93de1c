//! Shape features from a mask alone.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

/// Equal to 1e-9 relative (absolute below 1), or both NaN.
fn assert_close(f: &oncolens_radiomics::Feature, g: &oncolens_radiomics::Feature) {
    assert!(
        (f.value - g.value).abs() <= 1e-9 * g.value.abs().max(1.0)
            || (f.value.is_nan() && g.value.is_nan()),
        "{}: {} vs {}",
        f.name,
        f.value,
        g.value
    );
}

/// Shape features of a mask without its image equal the full extraction's, minus the three
/// intensity-reading morphology features.
#[test]
fn shape_only_matches_full_extraction() {
    let (image, mask) = common::digital_phantom();
    let settings = oncolens_radiomics::Settings::ibsi_digital_phantom();
    let full = oncolens_radiomics::extract(&image, &mask, 1, &settings).unwrap();
    let shape = oncolens_radiomics::extract_shape(&mask, 1, &settings).unwrap();
    assert!(shape.features.len() >= 20);
    assert!(shape.get("morph_integ_int").is_none());
    for f in &shape.features {
        let g = full.get(&f.name).unwrap();
        assert_close(f, g);
    }
}

/// A mask inside a much larger grid, with another label beside it, gives the same shape
/// features (the shape path crops to the label before anything else).
#[test]
fn shape_only_is_unchanged_by_a_larger_grid() {
    let (_, mask) = common::digital_phantom();
    let settings = oncolens_radiomics::Settings::ibsi_digital_phantom();
    let small = oncolens_radiomics::extract_shape(&mask, 1, &settings).unwrap();
    let (z, y, x) = mask.data().dim();
    let mut big = ndarray::Array3::<u16>::zeros((z + 20, y + 30, x + 40));
    let at = [7, 11, 13];
    let n = [z, y, x];
    big.slice_each_axis_mut(|ax| {
        let a = ax.axis.index();
        ndarray::Slice::from(at[a]..at[a] + n[a])
    })
    .assign(mask.data());
    big[[z + 15, y + 25, x + 30]] = 2;
    let g = mask.geometry();
    let geometry = oncolens_core::Geometry::new(
        [x + 40, y + 30, z + 20],
        g.spacing_mm,
        [-50.0, 20.0, 3.5],
        g.direction,
    )
    .unwrap();
    let big = oncolens_core::LabelMap::new(big, geometry).unwrap();
    let shape = oncolens_radiomics::extract_shape(&big, 1, &settings).unwrap();
    assert_eq!(shape.features.len(), small.features.len());
    for (f, g) in shape.features.iter().zip(&small.features) {
        assert_eq!(f.name, g.name);
        assert_close(f, g);
    }
}
