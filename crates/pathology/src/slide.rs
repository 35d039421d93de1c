//! Whole-slide images stored as tiled pyramidal TIFF (Aperio SVS and generic tiled TIFF):
//! levels, physical pixel size, associated images, regions read as OpenSlide reads them, and
//! tissue tiles at a chosen resolution.
//!
//! Levels are the tiled pages, largest first; an untiled page after the first is the
//! thumbnail, and pages whose description says `label` or `macro` are those images. Aperio's
//! description gives the pixel size (`MPP`, µm) and the scanning objective (`AppMag`).
//! Tiles compressed with JPEG (Aperio's usual), LZW, Deflate or none are decoded by the `tiff`
//! crate; Aperio's JPEG 2000 RGB tiles (compression 33005) by `jpeg2k` over openjp2 (pure Rust);
//! JPEG 2000 YCbCr tiles (33003) are refused with their name.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use serde::Serialize;
use tiff::decoder::{Decoder, DecodingResult};
use tiff::tags::Tag;

use crate::{PathologyError, RgbImage};

/// One resolution of the pyramid.
#[derive(Debug, Clone, Serialize)]
pub struct Level {
    /// TIFF page (image file directory) index.
    pub page: usize,
    pub width: u32,
    pub height: u32,
    pub tile_width: u32,
    pub tile_height: u32,
    /// Level-0 pixels per pixel of this level (OpenSlide's: the mean of both axes' ratios).
    pub downsample: f64,
    pub compression: u16,
}

/// A whole-slide image.
#[derive(Debug, Clone, Serialize)]
pub struct Slide {
    pub path: PathBuf,
    pub vendor: String,
    pub levels: Vec<Level>,
    /// Pixel size at level 0 in µm (x, y), when the file says.
    pub mpp: Option<(f64, f64)>,
    /// Scanning objective magnification (e.g. 20), when the file says.
    pub objective_power: Option<f64>,
    /// Associated images (`thumbnail`, `label`, `macro`) and their pages.
    pub associated: Vec<(String, usize)>,
}

fn err(path: &Path, message: impl std::fmt::Display) -> PathologyError {
    PathologyError::Image {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

fn decoder(path: &Path) -> Result<Decoder<BufReader<File>>, PathologyError> {
    let file = File::open(path).map_err(|e| err(path, e))?;
    Decoder::new(BufReader::new(file)).map_err(|e| err(path, e))
}

/// `key = value` pairs of an Aperio description (`...|MPP = 0.499|AppMag = 20|...`).
fn aperio_field(description: &str, key: &str) -> Option<f64> {
    description.split('|').find_map(|part| {
        let (k, v) = part.split_once('=')?;
        (k.trim() == key).then(|| v.trim().parse::<f64>().ok())?
    })
}

impl Slide {
    /// Reads the slide's structure (no pixels).
    pub fn open(path: &Path) -> Result<Self, PathologyError> {
        let mut d = decoder(path)?;
        let mut levels = Vec::new();
        let mut associated = Vec::new();
        let mut first_description = None;
        let mut page = 0usize;
        loop {
            let (width, height) = d.dimensions().map_err(|e| err(path, e))?;
            let description = d.get_tag_ascii_string(Tag::ImageDescription).ok();
            let tile = (
                d.get_tag_u32(Tag::TileWidth).ok(),
                d.get_tag_u32(Tag::TileLength).ok(),
            );
            let compression = d
                .get_tag_u32(Tag::Compression)
                .ok()
                .and_then(|c| u16::try_from(c).ok())
                .unwrap_or(1);
            if page == 0 {
                first_description = description.clone();
            }
            let lower = description.as_deref().unwrap_or("").to_ascii_lowercase();
            match tile {
                (Some(tw), Some(th)) => levels.push(Level {
                    page,
                    width,
                    height,
                    tile_width: tw,
                    tile_height: th,
                    downsample: 1.0,
                    compression,
                }),
                _ if lower.contains("label") => associated.push(("label".to_owned(), page)),
                _ if lower.contains("macro") => associated.push(("macro".to_owned(), page)),
                _ if page == 1 => associated.push(("thumbnail".to_owned(), page)),
                _ => {}
            }
            if !d.more_images() {
                break;
            }
            d.next_image().map_err(|e| err(path, e))?;
            page += 1;
        }
        let Some(base) = levels.first().cloned() else {
            return Err(err(path, "no tiled page: not a tiled pyramidal TIFF"));
        };
        for l in &mut levels {
            l.downsample = (f64::from(base.width) / f64::from(l.width)
                + f64::from(base.height) / f64::from(l.height))
                / 2.0;
        }
        let description = first_description.unwrap_or_default();
        let aperio = description.starts_with("Aperio");
        let mpp = aperio_field(&description, "MPP").map(|m| (m, m));
        Ok(Self {
            path: path.to_path_buf(),
            vendor: if aperio { "aperio" } else { "generic-tiff" }.to_owned(),
            levels,
            mpp,
            objective_power: aperio_field(&description, "AppMag"),
            associated,
        })
    }

    /// The `width` x `height` pixels of `level` whose top-left corner is at level-0
    /// coordinates (`x`, `y`), as OpenSlide's `read_region`; outside the slide is white.
    ///
    /// Above level 0 a level-0 position falls between the level's pixels (`x / downsample`
    /// is fractional); like OpenSlide the region is then interpolated bilinearly at that
    /// position.
    pub fn read_region(
        &self,
        x: i64,
        y: i64,
        level: usize,
        width: u32,
        height: u32,
    ) -> Result<RgbImage, PathologyError> {
        let ds = self.levels.get(level).map_or(1.0, |l| l.downsample);
        let (px, py) = (x as f64 / ds, y as f64 / ds);
        let (lx, ly) = (px.floor() as i64, py.floor() as i64);
        let (fx, fy) = (px - lx as f64, py - ly as f64);
        if fx < 1e-9 && fy < 1e-9 {
            return self.read_level(lx, ly, level, width, height);
        }
        let src = self.read_level(lx, ly, level, width + 1, height + 1)?;
        let at = |c: u32, r: u32| src.pixels[(r * (width + 1) + c) as usize];
        let pixels = (0..height)
            .flat_map(|r| (0..width).map(move |c| (c, r)))
            .map(|(c, r)| {
                let (p00, p10, p01, p11) = (at(c, r), at(c + 1, r), at(c, r + 1), at(c + 1, r + 1));
                std::array::from_fn(|k| {
                    let top = f64::from(p00[k]) * (1.0 - fx) + f64::from(p10[k]) * fx;
                    let bottom = f64::from(p01[k]) * (1.0 - fx) + f64::from(p11[k]) * fx;
                    (top * (1.0 - fy) + bottom * fy).round() as u8
                })
            })
            .collect();
        Ok(RgbImage {
            width,
            height,
            pixels,
        })
    }

    /// The `width` x `height` pixels of `level` from its pixel (`lx`, `ly`); outside is white.
    fn read_level(
        &self,
        lx: i64,
        ly: i64,
        level: usize,
        width: u32,
        height: u32,
    ) -> Result<RgbImage, PathologyError> {
        let l = self.levels.get(level).ok_or_else(|| {
            err(
                &self.path,
                format!("no level {level} (slide has {})", self.levels.len()),
            )
        })?;
        if l.compression == 33003 {
            return Err(err(
                &self.path,
                format!(
                    "level {level} holds Aperio JPEG 2000 YCbCr tiles (compression 33003), which are not supported yet"
                ),
            ));
        }
        let mut d = decoder(&self.path)?;
        d.seek_to_image(l.page).map_err(|e| err(&self.path, e))?;
        // Aperio's JPEG 2000 RGB tiles: the raw codestream of each tile, decoded here.
        let j2k = if l.compression == 33005 {
            let offsets = d
                .get_tag_u64_vec(Tag::TileOffsets)
                .map_err(|e| err(&self.path, e))?;
            let counts = d
                .get_tag_u64_vec(Tag::TileByteCounts)
                .map_err(|e| err(&self.path, e))?;
            Some((
                offsets,
                counts,
                File::open(&self.path).map_err(|e| err(&self.path, e))?,
            ))
        } else {
            None
        };
        let mut j2k = j2k;
        let mut out = RgbImage {
            width,
            height,
            pixels: vec![[255, 255, 255]; width as usize * height as usize],
        };
        let (tw, th) = (i64::from(l.tile_width), i64::from(l.tile_height));
        let tiles_across = (i64::from(l.width) + tw - 1) / tw;
        let (x_end, y_end) = (
            (lx + i64::from(width)).min(i64::from(l.width)),
            (ly + i64::from(height)).min(i64::from(l.height)),
        );
        let (x_start, y_start) = (lx.max(0), ly.max(0));
        if x_start >= x_end || y_start >= y_end {
            return Ok(out);
        }
        for ty in y_start / th..=(y_end - 1) / th {
            for tx in x_start / tw..=(x_end - 1) / tw {
                let index = (ty * tiles_across + tx) as u32;
                let (tile, cw, ch) = match &mut j2k {
                    Some((offsets, counts, file)) => {
                        let (w, h, pixels) =
                            read_j2k_tile(file, offsets, counts, index as usize)
                                .map_err(|m| err(&self.path, format!("tile {index}: {m}")))?;
                        (pixels, i64::from(w), i64::from(h))
                    }
                    None => {
                        let tile = match d.read_chunk(index).map_err(|e| err(&self.path, e))? {
                            DecodingResult::U8(v) => v,
                            _ => return Err(err(&self.path, "tiles are not 8-bit")),
                        };
                        // Edge tiles come cropped to the image.
                        let (cw, ch) = d.chunk_data_dimensions(index);
                        (tile, i64::from(cw), i64::from(ch))
                    }
                };
                let spp = tile.len() / (cw * ch).max(1) as usize;
                if spp < 3 {
                    return Err(err(&self.path, "tiles are not RGB"));
                }
                for row in 0..ch {
                    let gy = ty * th + row;
                    if gy < y_start || gy >= y_end {
                        continue;
                    }
                    for col in 0..cw {
                        let gx = tx * tw + col;
                        if gx < x_start || gx >= x_end {
                            continue;
                        }
                        let s = ((row * cw + col) as usize) * spp;
                        let o = ((gy - ly) * i64::from(width) + (gx - lx)) as usize;
                        out.pixels[o] = [tile[s], tile[s + 1], tile[s + 2]];
                    }
                }
            }
        }
        Ok(out)
    }

    /// An associated image (`thumbnail`, `label`, `macro`).
    pub fn associated_image(&self, name: &str) -> Result<RgbImage, PathologyError> {
        let page = self
            .associated
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| *p)
            .ok_or_else(|| err(&self.path, format!("no associated image `{name}`")))?;
        let mut d = decoder(&self.path)?;
        d.seek_to_image(page).map_err(|e| err(&self.path, e))?;
        let (width, height) = d.dimensions().map_err(|e| err(&self.path, e))?;
        let data = match d.read_image().map_err(|e| err(&self.path, e))? {
            DecodingResult::U8(v) => v,
            _ => return Err(err(&self.path, "associated image is not 8-bit")),
        };
        let spp = data.len() / (width as usize * height as usize);
        if spp < 3 {
            return Err(err(&self.path, "associated image is not RGB"));
        }
        Ok(RgbImage {
            width,
            height,
            pixels: data.chunks_exact(spp).map(|p| [p[0], p[1], p[2]]).collect(),
        })
    }
}

/// One JPEG 2000 tile: its codestream read from the file and decoded to interleaved RGB.
fn read_j2k_tile(
    file: &mut File,
    offsets: &[u64],
    counts: &[u64],
    index: usize,
) -> Result<(u32, u32, Vec<u8>), String> {
    use std::io::{Read, Seek, SeekFrom};
    let (Some(&offset), Some(&count)) = (offsets.get(index), counts.get(index)) else {
        return Err("no such tile".into());
    };
    let mut bytes = vec![0u8; usize::try_from(count).map_err(|e| e.to_string())?];
    file.seek(SeekFrom::Start(offset))
        .and_then(|_| file.read_exact(&mut bytes))
        .map_err(|e| e.to_string())?;
    let image = jpeg2k::Image::from_bytes(&bytes).map_err(|e| e.to_string())?;
    let components = image.components();
    if components.len() < 3 {
        return Err(format!("{} components, not RGB", components.len()));
    }
    let (w, h) = (components[0].width(), components[0].height());
    let planes: Vec<Vec<u8>> = components[..3]
        .iter()
        .map(|c| c.data_u8().collect())
        .collect();
    let n = (w * h) as usize;
    if planes.iter().any(|p| p.len() != n) {
        return Err("components of different sizes".into());
    }
    let pixels = (0..n)
        .flat_map(|i| [planes[0][i], planes[1][i], planes[2][i]])
        .collect();
    Ok((w, h, pixels))
}

/// Otsu's threshold of 8-bit values: the level that maximises the between-class variance.
pub fn otsu_threshold(values: impl Iterator<Item = u8>) -> u8 {
    let mut histogram = [0u64; 256];
    let mut n = 0u64;
    for v in values {
        histogram[v as usize] += 1;
        n += 1;
    }
    let total: f64 = histogram
        .iter()
        .enumerate()
        .map(|(i, &c)| i as f64 * c as f64)
        .sum();
    let (mut below, mut below_sum, mut best, mut best_t) = (0u64, 0.0f64, -1.0f64, 0u8);
    for (t, &c) in histogram.iter().enumerate() {
        below += c;
        below_sum += t as f64 * c as f64;
        let above = n - below;
        if below == 0 || above == 0 {
            continue;
        }
        let (m0, m1) = (below_sum / below as f64, (total - below_sum) / above as f64);
        let between = below as f64 * above as f64 * (m0 - m1).powi(2);
        if between > best {
            best = between;
            best_t = t as u8;
        }
    }
    best_t
}

/// Tissue of an RGB image: saturation (max − min of the channels) above Otsu's threshold of
/// the image's saturations. Background glass is bright and grey; stained tissue is coloured.
pub fn tissue_mask(image: &RgbImage) -> Vec<bool> {
    let saturation: Vec<u8> = image
        .pixels
        .iter()
        .map(|p| p.iter().max().unwrap_or(&0) - p.iter().min().unwrap_or(&0))
        .collect();
    let t = otsu_threshold(saturation.iter().copied());
    saturation.iter().map(|&s| s > t).collect()
}

/// Largest level read whole to find the tissue on (16 million pixels, 48 MB of RGB).
const MAX_OVERVIEW_PIXELS: u64 = 16_000_000;

/// Where the tiles of a slide are, at one resolution.
#[derive(Debug, Clone, Serialize)]
pub struct TileGrid {
    /// Level the tiles are read from, and the square read there for each tile.
    pub level: usize,
    pub read_size: u32,
    /// Side of the written tiles, and their pixel size (µm) when the slide gives one.
    pub size: u32,
    pub mpp: Option<f64>,
    /// Tiles with at least the requested tissue fraction.
    pub tiles: Vec<TileInfo>,
    /// Tiles of the whole grid, tissue or not.
    pub grid_tiles: usize,
}

/// One tile: its top-left corner in level-0 pixels and the tissue fraction under it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TileInfo {
    pub x: i64,
    pub y: i64,
    pub tissue: f64,
}

impl Slide {
    /// The grid of `size`-pixel tiles at `mpp` µm per pixel (level 0's when `None`), read from
    /// the level closest to it without upsampling, keeping tiles whose tissue fraction (on the
    /// smallest level's [`tissue_mask`]) is at least `min_tissue`.
    pub fn tissue_tiles(
        &self,
        mpp: Option<f64>,
        size: u32,
        min_tissue: f64,
    ) -> Result<TileGrid, PathologyError> {
        if size == 0 {
            return Err(err(&self.path, "tile size must be > 0"));
        }
        let factor = match (mpp, self.mpp) {
            (None, _) => 1.0,
            (Some(target), Some((base, _))) => {
                if target < base {
                    return Err(err(
                        &self.path,
                        format!("{target} µm per pixel is finer than the scan ({base} µm)"),
                    ));
                }
                target / base
            }
            (Some(_), None) => {
                return Err(err(&self.path, "the slide records no pixel size (MPP)"));
            }
        };
        let level = self
            .levels
            .iter()
            .enumerate()
            .filter(|(_, l)| l.downsample <= factor * (1.0 + 1e-3))
            .max_by(|a, b| a.1.downsample.total_cmp(&b.1.downsample))
            .map_or(0, |(i, _)| i);
        let read_size =
            ((f64::from(size) * factor / self.levels[level].downsample).round() as u32).max(1);
        // Tissue on an overview: the smallest level, or the thumbnail when that level is too
        // large to read whole (a single-level slide of 50 000 pixels a side).
        let base = &self.levels[0];
        let small = &self.levels[self.levels.len() - 1];
        let overview = if u64::from(small.width) * u64::from(small.height) <= MAX_OVERVIEW_PIXELS {
            self.read_region(0, 0, self.levels.len() - 1, small.width, small.height)?
        } else if self.associated.iter().any(|(n, _)| n == "thumbnail") {
            self.associated_image("thumbnail")?
        } else {
            return Err(err(
                &self.path,
                format!(
                    "no level small enough to find the tissue on (smallest {} x {}) and no thumbnail",
                    small.width, small.height
                ),
            ));
        };
        let mask = tissue_mask(&overview);
        // The overview's size in level-0 pixels per pixel, as a level's downsample.
        let s = Level {
            page: 0,
            width: overview.width,
            height: overview.height,
            tile_width: 0,
            tile_height: 0,
            downsample: (f64::from(base.width) / f64::from(overview.width)
                + f64::from(base.height) / f64::from(overview.height))
                / 2.0,
            compression: 0,
        };
        let step = (f64::from(size) * factor).round() as i64;
        let mut tiles = Vec::new();
        let mut grid_tiles = 0;
        let mut y = 0i64;
        while y + step <= i64::from(base.height) {
            let mut x = 0i64;
            while x + step <= i64::from(base.width) {
                grid_tiles += 1;
                // The tile's footprint on the overview.
                let to =
                    |v: i64, size: u32| ((v as f64 / s.downsample) as i64).min(i64::from(size) - 1);
                let (x0, y0) = (to(x, s.width), to(y, s.height));
                let x1 = (to(x + step, s.width) + 1).max(x0 + 1);
                let y1 = (to(y + step, s.height) + 1).max(y0 + 1);
                let mut inside = 0usize;
                let mut all = 0usize;
                for yy in y0..y1 {
                    for xx in x0..x1 {
                        all += 1;
                        inside += usize::from(mask[(yy * i64::from(s.width) + xx) as usize]);
                    }
                }
                let tissue = inside as f64 / all.max(1) as f64;
                if tissue >= min_tissue {
                    tiles.push(TileInfo { x, y, tissue });
                }
                x += step;
            }
            y += step;
        }
        Ok(TileGrid {
            level,
            read_size,
            size,
            mpp: mpp.or(self.mpp.map(|m| m.0)),
            tiles,
            grid_tiles,
        })
    }

    /// One tile of `grid`, resampled to the grid's size when its level is not exact.
    pub fn read_tile(&self, grid: &TileGrid, tile: &TileInfo) -> Result<RgbImage, PathologyError> {
        let region =
            self.read_region(tile.x, tile.y, grid.level, grid.read_size, grid.read_size)?;
        if grid.read_size == grid.size {
            return Ok(region);
        }
        let bytes: Vec<u8> = region.pixels.iter().flatten().copied().collect();
        let buffer = image::RgbImage::from_raw(region.width, region.height, bytes)
            .ok_or_else(|| err(&self.path, "region size mismatch"))?;
        let resized = image::imageops::resize(
            &buffer,
            grid.size,
            grid.size,
            image::imageops::FilterType::Triangle,
        );
        Ok(RgbImage {
            width: grid.size,
            height: grid.size,
            pixels: resized.pixels().map(|p| p.0).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otsu_splits_two_groups() {
        let values = [10u8, 12, 11, 13, 200, 201, 199, 202];
        let t = otsu_threshold(values.iter().copied());
        assert!((13..199).contains(&t), "{t}");
    }

    #[test]
    fn aperio_fields_are_read() {
        let d = "Aperio Image Library v11\r\n46000x32914 (240x240) JPEG/RGB Q=30|AppMag = 20|MPP = 0.4990|Left = 25.6";
        assert_eq!(aperio_field(d, "MPP"), Some(0.499));
        assert_eq!(aperio_field(d, "AppMag"), Some(20.0));
        assert_eq!(aperio_field(d, "Filename"), None);
    }
}
