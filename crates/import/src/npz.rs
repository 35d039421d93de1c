//! Reading NumPy `.npz` archives (a zip of `.npy` files, stored or deflated) without Python.
//!
//! Only what MedMNIST needs: C-order arrays of integer types, read whole (labels) or streamed
//! item by item along the first axis (images, so a 300 MB array never sits in memory).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use zip::ZipArchive;

use crate::error::{ImportError, Result, read_err};

/// The header of one `.npy` array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    /// NumPy dtype string, e.g. `|u1`, `<i8`.
    pub descr: String,
    pub fortran_order: bool,
    pub shape: Vec<usize>,
}

impl NpyHeader {
    /// Bytes per element, from the dtype string (`<i8` → 8).
    pub fn item_size(&self) -> Option<usize> {
        self.descr.get(2..)?.parse().ok()
    }

    /// Elements in the whole array.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An open `.npz` file.
pub struct NpzArchive {
    path: PathBuf,
    zip: ZipArchive<BufReader<File>>,
}

/// One array being read item by item (an item is one index along the first axis).
pub struct NpyStream<'a> {
    pub header: NpyHeader,
    entry: zip::read::ZipFile<'a, BufReader<File>>,
    path: PathBuf,
    name: String,
}

impl NpzArchive {
    /// Opens an archive; errors name the file.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(read_err(path))?;
        let zip = ZipArchive::new(BufReader::new(file))
            .map_err(|e| ImportError::format(path, format!("not a .npz (zip) archive: {e}")))?;
        Ok(NpzArchive {
            path: path.to_path_buf(),
            zip,
        })
    }

    /// Array names (file names without `.npy`), sorted.
    pub fn names(&self) -> Vec<String> {
        let mut n: Vec<String> = self
            .zip
            .file_names()
            .map(|n| n.strip_suffix(".npy").unwrap_or(n).to_owned())
            .collect();
        n.sort();
        n
    }

    /// Whether the archive holds array `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.zip.index_for_name(&format!("{name}.npy")).is_some()
    }

    /// Opens array `name` for streaming; the header is parsed and checked (C order).
    pub fn stream(&mut self, name: &str) -> Result<NpyStream<'_>> {
        let path = self.path.clone();
        let mut entry = self.zip.by_name(&format!("{name}.npy")).map_err(|e| {
            ImportError::field(&path, name, format!("array missing from the archive: {e}"))
        })?;
        let header = read_header(&mut entry, &path, name)?;
        if header.fortran_order {
            return Err(ImportError::field(
                &path,
                name,
                "Fortran-order arrays are not supported",
            ));
        }
        Ok(NpyStream {
            header,
            entry,
            path,
            name: name.to_owned(),
        })
    }

    /// The header of array `name`.
    pub fn header(&mut self, name: &str) -> Result<NpyHeader> {
        Ok(self.stream(name)?.header)
    }

    /// Reads a whole integer array (any NumPy integer or bool dtype) as `i64`.
    pub fn read_ints(&mut self, name: &str) -> Result<(NpyHeader, Vec<i64>)> {
        let mut s = self.stream(name)?;
        let n = s.header.len();
        let size = s.item_size()?;
        let mut bytes = vec![0u8; n * size];
        s.read_exact_named(&mut bytes)?;
        let descr = s.header.descr.clone();
        let values = decode_ints(&descr, &bytes).ok_or_else(|| {
            ImportError::field(
                &s.path,
                name,
                format!("dtype `{descr}` is not an integer type"),
            )
        })?;
        Ok((s.header, values))
    }
}

impl NpyStream<'_> {
    fn item_size(&self) -> Result<usize> {
        self.header.item_size().ok_or_else(|| {
            ImportError::field(
                &self.path,
                &self.name,
                format!("unsupported dtype `{}`", self.header.descr),
            )
        })
    }

    /// Elements in one item (the product of all axes but the first).
    pub fn item_elements(&self) -> usize {
        self.header.shape.iter().skip(1).product()
    }

    /// Number of items (length of the first axis).
    pub fn items(&self) -> usize {
        self.header.shape.first().copied().unwrap_or(0)
    }

    /// Reads the next item's raw bytes into `buf` (resized to one item).
    pub fn next_item(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        let size = self.item_size()?;
        buf.resize(self.item_elements() * size, 0);
        self.read_exact_named(buf)
    }

    fn read_exact_named(&mut self, buf: &mut [u8]) -> Result<()> {
        self.entry.read_exact(buf).map_err(|e| {
            ImportError::field(
                &self.path,
                &self.name,
                format!("array data truncated or unreadable: {e}"),
            )
        })
    }
}

fn read_header(r: &mut impl Read, path: &Path, name: &str) -> Result<NpyHeader> {
    let bad = |m: String| ImportError::field(path, name, m);
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic)
        .map_err(|e| bad(format!("truncated .npy header: {e}")))?;
    if &magic[..6] != b"\x93NUMPY" {
        return Err(bad("not a .npy array (bad magic)".into()));
    }
    let len = match magic[6] {
        1 => {
            let mut l = [0u8; 2];
            r.read_exact(&mut l)
                .map_err(|e| bad(format!("truncated .npy header: {e}")))?;
            usize::from(u16::from_le_bytes(l))
        }
        2 | 3 => {
            let mut l = [0u8; 4];
            r.read_exact(&mut l)
                .map_err(|e| bad(format!("truncated .npy header: {e}")))?;
            u32::from_le_bytes(l) as usize
        }
        v => return Err(bad(format!(".npy format version {v} is not supported"))),
    };
    let mut text = vec![0u8; len];
    r.read_exact(&mut text)
        .map_err(|e| bad(format!("truncated .npy header: {e}")))?;
    let text = String::from_utf8_lossy(&text);
    parse_header_dict(&text).map_err(bad)
}

/// Parses the Python dict literal of a `.npy` header.
pub fn parse_header_dict(text: &str) -> std::result::Result<NpyHeader, String> {
    let after = |key: &str| -> std::result::Result<&str, String> {
        let k = text
            .find(&format!("'{key}'"))
            .ok_or_else(|| format!("header lacks `{key}`: {text}"))?;
        let rest = &text[k + key.len() + 2..];
        let colon = rest
            .find(':')
            .ok_or_else(|| format!("header `{key}` has no value"))?;
        Ok(rest[colon + 1..].trim_start())
    };
    let d = after("descr")?;
    let quote = d
        .chars()
        .next()
        .filter(|c| *c == '\'' || *c == '"')
        .ok_or_else(|| format!("`descr` is not a simple dtype string: {d}"))?;
    let end = d[1..]
        .find(quote)
        .ok_or_else(|| "unterminated `descr`".to_owned())?;
    let descr = d[1..1 + end].to_owned();
    let f = after("fortran_order")?;
    let fortran_order = if f.starts_with("True") {
        true
    } else if f.starts_with("False") {
        false
    } else {
        return Err(format!("`fortran_order` is neither True nor False: {f}"));
    };
    let s = after("shape")?;
    let close = s
        .find(')')
        .filter(|_| s.starts_with('('))
        .ok_or_else(|| format!("`shape` is not a tuple: {s}"))?;
    let shape = s[1..close]
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.trim_end_matches('L')
                .parse::<usize>()
                .map_err(|_| format!("`shape` entry `{p}` is not a size"))
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(NpyHeader {
        descr,
        fortran_order,
        shape,
    })
}

/// Decodes integer (or bool) NumPy data of dtype `descr` into `i64`.
pub fn decode_ints(descr: &str, bytes: &[u8]) -> Option<Vec<i64>> {
    let mut chars = descr.chars();
    let order = chars.next()?;
    let big = order == '>';
    let kind = chars.next()?;
    let size: usize = descr.get(2..)?.parse().ok()?;
    if !matches!(kind, 'u' | 'i' | 'b') || !matches!(size, 1 | 2 | 4 | 8) {
        return None;
    }
    let out = bytes
        .chunks_exact(size)
        .map(|c| {
            let mut b = [0u8; 8];
            if big {
                for (i, v) in c.iter().rev().enumerate() {
                    b[i] = *v;
                }
            } else {
                b[..size].copy_from_slice(c);
            }
            let u = u64::from_le_bytes(b);
            if kind == 'i' {
                let shift = 64 - 8 * size as u32;
                ((u << shift) as i64) >> shift
            } else {
                u as i64
            }
        })
        .collect();
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_dict_parses() {
        let h = parse_header_dict(
            "{'descr': '|u1', 'fortran_order': False, 'shape': (1188, 28, 28, 28), }   ",
        )
        .unwrap();
        assert_eq!(h.descr, "|u1");
        assert_eq!(h.shape, vec![1188, 28, 28, 28]);
        assert_eq!(h.item_size(), Some(1));
        let h =
            parse_header_dict("{'descr': '<i8', 'fortran_order': True, 'shape': (5,), }").unwrap();
        assert!(h.fortran_order);
        assert_eq!(h.shape, vec![5]);
        assert!(parse_header_dict("{'descr': '<i8'}").is_err());
    }

    #[test]
    fn ints_decode_with_sign_and_order() {
        assert_eq!(decode_ints("|u1", &[0, 255]).unwrap(), vec![0, 255]);
        assert_eq!(decode_ints("|i1", &[255]).unwrap(), vec![-1]);
        assert_eq!(decode_ints("<i2", &[0xfe, 0xff]).unwrap(), vec![-2]);
        assert_eq!(decode_ints(">u2", &[1, 0]).unwrap(), vec![256]);
        assert_eq!(decode_ints("<i8", &3i64.to_le_bytes()).unwrap(), vec![3]);
        assert!(decode_ints("<f4", &[0; 4]).is_none());
    }
}
