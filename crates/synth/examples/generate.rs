//! Generates a cohort without the CLI: `cargo run -p oncolens-synth --example generate -- OUT [PATIENTS]`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args.next().ok_or("usage: generate OUT [PATIENTS]")?;
    let patients = args.next().map(|p| p.parse()).transpose()?.unwrap_or(60);
    let config = oncolens_synth::SynthConfig {
        patients,
        ..Default::default()
    };
    let t = std::time::Instant::now();
    let s = oncolens_synth::generate(&config, std::path::Path::new(&out), &|| {})?;
    println!(
        "{} patients, {} malignant, {} DICOM files in {:.1} s",
        s.patients,
        s.malignant,
        s.dicom_files,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
