//! The generator's reference modality shares agree with an independent numpy implementation
//! (`fixtures/synth/oracle_shares.py`, other random numbers), to Monte Carlo error.

use oncolens_synth::oracle::modality_shares;

#[test]
fn oracle_shares_match_the_numpy_reimplementation() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/synth/oracle_shares.json"
    );
    let text = std::fs::read_to_string(path).expect("fixture present");
    let reference: serde_json::Value = serde_json::from_str(&text).expect("fixture is JSON");
    let ours = modality_shares(40_000, 11);
    for (m, name) in ours.modalities.iter().enumerate() {
        let share = reference["share"][name].as_f64().expect("share in fixture");
        let r2 = reference["r2_alone"][name].as_f64().expect("r2 in fixture");
        let logit_share = reference["share_expected_logit"][name]
            .as_f64()
            .expect("logit-scale share in fixture");
        assert!(
            (ours.share_expected_logit[m] - logit_share).abs() < 0.01,
            "{name}: logit-scale share {} vs numpy {logit_share}",
            ours.share_expected_logit[m]
        );
        assert!(
            (ours.share[m] - share).abs() < 0.01,
            "{name}: share {} vs numpy {share}",
            ours.share[m]
        );
        assert!(
            (ours.r2_alone[m] - r2).abs() < 0.015,
            "{name}: R² {} vs numpy {r2}",
            ours.r2_alone[m]
        );
    }
}
