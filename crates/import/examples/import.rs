//! Runs one converter from the command line (until the `oncolens import` command exists):
//!
//! ```text
//! cargo run --release -p oncolens-import --example import -- medmnist FILE.npz OUT
//! cargo run --release -p oncolens-import --example import -- kits19 KITS_DIR OUT
//! cargo run --release -p oncolens-import --example import -- lidc LIDC_DIR OUT
//! cargo run --release -p oncolens-import --example import -- tcga T14_test.csv OUT
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use oncolens_import::{
    Kits19Options, LidcOptions, MedmnistOptions, TcgaOptions, import_kits19, import_lidc,
    import_medmnist, import_tcga_reports,
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [kind, src, out] = args.as_slice() else {
        eprintln!("usage: import (medmnist|kits19|lidc|tcga) SOURCE OUT");
        return ExitCode::from(2);
    };
    let (src, out) = (PathBuf::from(src), PathBuf::from(out));
    let progress = |done: usize, total: usize| eprint!("\r{done}/{total}");
    let result = match kind.as_str() {
        "medmnist" => import_medmnist(&src, &out, &MedmnistOptions::default(), &progress),
        "kits19" => import_kits19(&src, &out, &Kits19Options::default(), &progress),
        "lidc" => import_lidc(&src, &out, &LidcOptions::default(), &progress),
        "tcga" => import_tcga_reports(&src, &out, &TcgaOptions::default(), &progress),
        other => {
            eprintln!("unknown data set `{other}`");
            return ExitCode::from(2);
        }
    };
    eprintln!();
    match result {
        Ok(summary) => {
            match serde_json::to_string_pretty(&summary) {
                Ok(s) => println!("{s}"),
                Err(e) => eprintln!("{e}"),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
