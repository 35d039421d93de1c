//! Shape features from a mask alone.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

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
        assert!(
            (f.value - g.value).abs() <= 1e-9 * g.value.abs().max(1.0)
                || (f.value.is_nan() && g.value.is_nan()),
            "{}: {} vs {}",
            f.name,
            f.value,
            g.value
        );
    }
}
