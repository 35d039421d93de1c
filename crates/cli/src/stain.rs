//! `oncolens stain-normalise`: H&E tiles mapped onto a reference tile's stain (Macenko or
//! Reinhard), one file or a folder of tiles in parallel.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use oncolens_pathology::{RgbImage, macenko, reinhard};
use rayon::prelude::*;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum StainMethod {
    Macenko,
    Reinhard,
}

#[derive(clap::Args)]
pub struct StainArgs {
    /// A tile (PNG, JPEG or TIFF) or a folder of tiles.
    #[arg(long)]
    pub input: PathBuf,
    /// The reference tile whose stain the others take on (Macenko without one: torchstain's
    /// default reference).
    #[arg(long)]
    pub reference: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "macenko")]
    pub method: StainMethod,
    /// Also write the separated haematoxylin and eosin images (Macenko).
    #[arg(long)]
    pub stains: bool,
    /// Output folder (PNG files named after the inputs).
    #[arg(long)]
    pub out: PathBuf,
}

fn is_tile(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .is_some_and(|e| ["png", "jpg", "jpeg", "tif", "tiff"].contains(&e.as_str()))
}

enum Reference {
    Macenko(macenko::StainFit),
    Reinhard(reinhard::LabStatistics),
}

pub fn run(args: &StainArgs) -> Result<()> {
    let tiles: Vec<PathBuf> = if args.input.is_dir() {
        let mut t: Vec<PathBuf> = std::fs::read_dir(&args.input)
            .with_context(|| format!("reading {}", args.input.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_tile(p))
            .collect();
        t.sort();
        t
    } else {
        vec![args.input.clone()]
    };
    if tiles.is_empty() {
        bail!("{}: no PNG, JPEG or TIFF tile", args.input.display());
    }
    let options = macenko::MacenkoOptions::default();
    let reference = match (args.method, &args.reference) {
        (StainMethod::Macenko, None) => Reference::Macenko(macenko::StainFit::DEFAULT_REFERENCE),
        (StainMethod::Macenko, Some(path)) => Reference::Macenko(
            macenko::fit(&RgbImage::read(path)?, &options)
                .with_context(|| format!("reference {}", path.display()))?,
        ),
        (StainMethod::Reinhard, None) => bail!("--method reinhard needs --reference"),
        (StainMethod::Reinhard, Some(path)) => Reference::Reinhard(
            reinhard::fit(&RgbImage::read(path)?)
                .with_context(|| format!("reference {}", path.display()))?,
        ),
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let bar = crate::progress::bar(tiles.len() as u64, "stain normalisation");
    let results: Vec<Result<()>> = tiles
        .par_iter()
        .map(|tile| {
            let r = (|| -> Result<()> {
                let image = RgbImage::read(tile)?;
                let stem = tile
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "tile".into());
                let out = |suffix: &str| args.out.join(format!("{stem}{suffix}.png"));
                match &reference {
                    Reference::Macenko(fit) => {
                        let n = macenko::normalise(&image, fit, &options)?;
                        n.image.write_png(&out(""))?;
                        if args.stains {
                            n.hematoxylin.write_png(&out("_hematoxylin"))?;
                            n.eosin.write_png(&out("_eosin"))?;
                        }
                    }
                    Reference::Reinhard(stats) => {
                        reinhard::normalise(&image, stats)?.write_png(&out(""))?;
                    }
                }
                Ok(())
            })();
            bar.inc(1);
            r.with_context(|| format!("{}", tile.display()))
        })
        .collect();
    bar.finish_and_clear();
    let failed: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(|e| format!("{e:#}")))
        .collect();
    println!(
        "normalised {} of {} tiles into {}",
        tiles.len() - failed.len(),
        tiles.len(),
        args.out.display()
    );
    for f in &failed {
        eprintln!("  skipped {f}");
    }
    if failed.len() == tiles.len() {
        bail!("no tile could be normalised");
    }
    Ok(())
}
