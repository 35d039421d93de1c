//! The generator's reference shares when the image is seen the way the model's radiomic path
//! sees it: the lesion rendered on a site's scanner grid and read into the four lesion features
//! the model takes ([`oncolens_train::cases::lesion_radiomics`]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use oncolens_synth::oracle::{modality_shares, modality_shares_reading_ct};
use oncolens_train::cases::lesion_radiomics;

#[test]
fn reading_the_ct_credits_the_image_less_and_its_readers_more() {
    let patients: usize = std::env::var("ONCOLENS_READING_PATIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let start = std::time::Instant::now();
    let config = oncolens_synth::SynthConfig::default();
    let reading =
        modality_shares_reading_ct(patients, 1, &config, &|ct, mask| lesion_radiomics(ct, mask));
    let elapsed = start.elapsed();
    let exact = modality_shares(patients, 1);
    println!(
        "{patients} patients in {elapsed:?}\nexact   {:?} r2 {:?}\nreading {:?} r2 {:?} ({} kept)",
        exact.share, exact.r2_alone, reading.share, reading.r2_alone, reading.patients
    );
    // Every rendered lesion gives a reading.
    assert_eq!(reading.patients, patients);
    assert!((reading.share.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    // [image, clinical, text, omics]. The CT read through four features shows the image
    // factors less than the factors themselves: the image alone explains less of the logit,
    // takes a smaller share, and the report, which reads the factors with its own error, a
    // larger one. The clinical record is independent of the image either way.
    assert!(
        reading.r2_alone[0] < exact.r2_alone[0] - 0.02,
        "{reading:?}"
    );
    assert!(reading.r2_alone[0] > 0.6, "{reading:?}");
    assert!(reading.share[0] < exact.share[0] - 0.02, "{reading:?}");
    assert!(reading.share[2] > exact.share[2] + 0.01, "{reading:?}");
    assert!(
        (reading.r2_alone[1] - exact.r2_alone[1]).abs() < 0.03,
        "{reading:?}"
    );
}
