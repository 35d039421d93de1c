//! `oncolens slide`: a whole-slide image's structure, and its tissue tiles at a chosen
//! resolution (optionally stain-normalised) for patch models.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use oncolens_pathology::{RgbImage, macenko, slide::Slide};
use rayon::prelude::*;

#[derive(clap::Args)]
pub struct SlideArgs {
    /// Whole-slide image: tiled pyramidal TIFF (Aperio SVS, generic tiled TIFF).
    pub slide: PathBuf,
    /// Print the structure as JSON.
    #[arg(long)]
    pub json: bool,
    /// Write the tissue tiles into this folder (PNG) with `tiles.csv`.
    #[arg(long)]
    pub tiles: Option<PathBuf>,
    /// Pixel size of the tiles in µm (1.0 is about 10x, 0.5 about 20x); default the scan's.
    #[arg(long)]
    pub mpp: Option<f64>,
    /// Tile side in pixels.
    #[arg(long, default_value_t = 224)]
    pub size: u32,
    /// Smallest tissue fraction of a kept tile.
    #[arg(long, default_value_t = 0.5)]
    pub min_tissue: f64,
    /// Stain-normalise every tile onto this reference tile (Macenko).
    #[arg(long, requires = "tiles")]
    pub stain_reference: Option<PathBuf>,
}

pub fn run(args: &SlideArgs) -> Result<()> {
    let slide = Slide::open(&args.slide)?;
    let Some(out) = &args.tiles else {
        if args.json {
            println!("{}", serde_json::to_string_pretty(&slide)?);
        } else {
            let mut s = format!(
                "{} ({}): {} level(s)",
                args.slide.display(),
                slide.vendor,
                slide.levels.len()
            );
            if let Some((x, _)) = slide.mpp {
                let _ = write!(s, ", {x} µm per pixel");
            }
            if let Some(m) = slide.objective_power {
                let _ = write!(s, ", {m}x objective");
            }
            println!("{s}");
            for (i, l) in slide.levels.iter().enumerate() {
                println!(
                    "  level {i}: {} x {} (downsample {:.4}), tiles {} x {}, compression {}",
                    l.width, l.height, l.downsample, l.tile_width, l.tile_height, l.compression
                );
            }
            for (name, _) in &slide.associated {
                println!("  associated image: {name}");
            }
        }
        return Ok(());
    };
    if !(0.0..=1.0).contains(&args.min_tissue) {
        bail!("--min-tissue must be between 0 and 1");
    }
    let grid = slide.tissue_tiles(args.mpp, args.size, args.min_tissue)?;
    let reference = match &args.stain_reference {
        Some(p) => Some(
            macenko::fit(&RgbImage::read(p)?, &macenko::MacenkoOptions::default())
                .with_context(|| format!("stain reference {}", p.display()))?,
        ),
        None => None,
    };
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let bar = crate::progress::bar(grid.tiles.len() as u64, "tiles");
    let results: Vec<Result<bool>> = grid
        .tiles
        .par_iter()
        .map(|t| {
            let r = (|| -> Result<bool> {
                let mut tile = slide.read_tile(&grid, t)?;
                // A tile Macenko cannot estimate stains on is written as read.
                let mut normalised = false;
                if let Some(fit) = &reference
                    && let Ok(n) =
                        macenko::normalise(&tile, fit, &macenko::MacenkoOptions::default())
                {
                    tile = n.image;
                    normalised = true;
                }
                tile.write_png(&out.join(format!("x{}_y{}.png", t.x, t.y)))?;
                Ok(normalised)
            })();
            bar.inc(1);
            r
        })
        .collect();
    bar.finish_and_clear();
    let mut csv = String::from("file,x,y,level,read_size,size,mpp,tissue\n");
    for t in &grid.tiles {
        let _ = writeln!(
            csv,
            "x{}_y{}.png,{},{},{},{},{},{},{:.4}",
            t.x,
            t.y,
            t.x,
            t.y,
            grid.level,
            grid.read_size,
            grid.size,
            grid.mpp.map_or(String::new(), |m| m.to_string()),
            t.tissue
        );
    }
    oncolens_core::fs::write_atomic(&out.join("tiles.csv"), csv.as_bytes())
        .with_context(|| format!("writing {}", out.join("tiles.csv").display()))?;
    let mut normalised = 0;
    for r in results {
        normalised += usize::from(r?);
    }
    println!(
        "{} of {} grid tiles have tissue >= {}: written to {} ({} x {} px{}, from level {}){}",
        grid.tiles.len(),
        grid.grid_tiles,
        args.min_tissue,
        out.display(),
        grid.size,
        grid.size,
        grid.mpp.map_or(String::new(), |m| format!(" at {m} µm")),
        grid.level,
        if reference.is_some() {
            format!("; {normalised} stain-normalised")
        } else {
            String::new()
        }
    );
    Ok(())
}
