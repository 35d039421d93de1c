//! The settings file format: presets round-trip through TOML, the README example parses, and
//! malformed files are errors that name the problem.

use oncolens_radiomics::{Discretisation, RadiomicsError, Settings};

fn presets() -> Vec<Settings> {
    let mut all = vec![
        Settings::pyradiomics(),
        Settings::pyradiomics_with_ibsi(),
        Settings::ibsi_digital_phantom(),
        Settings::default(),
    ];
    for c in ['A', 'B', 'C', 'D', 'E'] {
        all.push(Settings::ibsi_config(c).expect("known configuration"));
    }
    all
}

#[test]
fn every_preset_round_trips_through_toml() {
    for s in presets() {
        let text = s.to_toml_string();
        let back = Settings::from_toml_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back, s, "{text}");
    }
}

#[test]
fn empty_file_is_the_default() {
    assert_eq!(Settings::from_toml_str("").ok(), Some(Settings::default()));
}

#[test]
fn readme_example_parses() {
    let readme = include_str!("../README.md");
    let start = readme.find("```toml").expect("README has a TOML example") + "```toml".len();
    let end = start + readme[start..].find("```").expect("TOML example is closed");
    let s = Settings::from_toml_str(&readme[start..end]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.resampling.spacing_mm, Some([2.0, 2.0, 2.0]));
    assert_eq!(
        s.discretisation,
        Discretisation::FixedBinNumber { bins: 32 }
    );
}

#[test]
fn ibsi_configs_follow_the_reference_table() {
    let a = Settings::ibsi_config('a').expect("lower case accepted");
    assert_eq!(a.resampling.spacing_mm, None);
    assert_eq!(a.resegmentation.range_min, Some(-500.0));
    assert_eq!(
        a.discretisation,
        Discretisation::FixedBinSize {
            width: 25.0,
            lower_bound: None
        }
    );
    let b = Settings::ibsi_config('B').expect("B");
    assert!(b.resampling.in_plane_only && b.resampling.round_intensities);
    let d = Settings::ibsi_config('D').expect("D");
    assert_eq!(
        (d.resegmentation.range_min, d.resegmentation.outlier_sigma),
        (None, Some(3.0))
    );
    assert_eq!(
        Settings::ibsi_config('E').expect("E").ivh_discretisation,
        Discretisation::FixedBinNumber { bins: 1000 }
    );
    assert!(matches!(
        Settings::ibsi_config('F'),
        Err(RadiomicsError::UnknownConfig('F'))
    ));
}

#[test]
fn pyradiomics_preset_uses_aligned_bin_width_25() {
    let p = Settings::pyradiomics();
    assert_eq!(
        p.discretisation,
        Discretisation::PyradiomicsBinWidth { width: 25.0 }
    );
    assert_eq!(p.resampling.spacing_mm, None);
    assert_eq!(p.resegmentation.range_min, None);
}

#[test]
fn malformed_files_are_errors() {
    let unknown_field = "[resampling]\nspacing = [2.0, 2.0, 2.0]\n";
    let err = Settings::from_toml_str(unknown_field).expect_err("unknown field");
    assert!(matches!(err, RadiomicsError::SettingsParse(_)), "{err}");
    assert!(err.to_string().contains("spacing"), "{err}");
    let bad_method = "[discretisation]\nmethod = \"fixed_bin_count\"\nbins = 3\n";
    assert!(matches!(
        Settings::from_toml_str(bad_method),
        Err(RadiomicsError::SettingsParse(_))
    ));
    let zero_width = "[discretisation]\nmethod = \"fixed_bin_size\"\nwidth = 0.0\n";
    assert!(matches!(
        Settings::from_toml_str(zero_width),
        Err(RadiomicsError::InvalidSetting { .. })
    ));
    let threshold = "[resampling]\nmask_threshold = 1.5\n";
    assert!(matches!(
        Settings::from_toml_str(threshold),
        Err(RadiomicsError::InvalidSetting { .. })
    ));
}
