//! Numpy arrays as Flower ships them: the `.npy` bytes `np.save(buf, a, allow_pickle=False)`
//! writes (format 1.0, or 2.0/3.0 for huge headers when reading), never pickles.

use crate::error::FlowerError;

/// Element type of an [`NdArray`], named as numpy names it (`str(a.dtype)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    /// `bool` (`|b1`)
    Bool,
    /// `int8` (`|i1`)
    Int8,
    /// `uint8` (`|u1`)
    Uint8,
    /// `int16` (`<i2`)
    Int16,
    /// `uint16` (`<u2`)
    Uint16,
    /// `int32` (`<i4`)
    Int32,
    /// `uint32` (`<u4`)
    Uint32,
    /// `int64` (`<i8`)
    Int64,
    /// `uint64` (`<u8`)
    Uint64,
    /// `float16` (`<f2`)
    Float16,
    /// `float32` (`<f4`)
    Float32,
    /// `float64` (`<f8`)
    Float64,
}

impl DType {
    /// The numpy name (`"float32"`), as Flower's `Array.dtype` holds it.
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::Int8 => "int8",
            DType::Uint8 => "uint8",
            DType::Int16 => "int16",
            DType::Uint16 => "uint16",
            DType::Int32 => "int32",
            DType::Uint32 => "uint32",
            DType::Int64 => "int64",
            DType::Uint64 => "uint64",
            DType::Float16 => "float16",
            DType::Float32 => "float32",
            DType::Float64 => "float64",
        }
    }

    /// Parses a numpy name (`"float32"`).
    pub fn from_name(name: &str) -> Option<DType> {
        Some(match name {
            "bool" => DType::Bool,
            "int8" => DType::Int8,
            "uint8" => DType::Uint8,
            "int16" => DType::Int16,
            "uint16" => DType::Uint16,
            "int32" => DType::Int32,
            "uint32" => DType::Uint32,
            "int64" => DType::Int64,
            "uint64" => DType::Uint64,
            "float16" => DType::Float16,
            "float32" => DType::Float32,
            "float64" => DType::Float64,
            _ => return None,
        })
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::Bool | DType::Int8 | DType::Uint8 => 1,
            DType::Int16 | DType::Uint16 | DType::Float16 => 2,
            DType::Int32 | DType::Uint32 | DType::Float32 => 4,
            DType::Int64 | DType::Uint64 | DType::Float64 => 8,
        }
    }

    /// The `.npy` `descr` numpy writes on a little-endian machine.
    fn descr(self) -> &'static str {
        match self {
            DType::Bool => "|b1",
            DType::Int8 => "|i1",
            DType::Uint8 => "|u1",
            DType::Int16 => "<i2",
            DType::Uint16 => "<u2",
            DType::Int32 => "<i4",
            DType::Uint32 => "<u4",
            DType::Int64 => "<i8",
            DType::Uint64 => "<u8",
            DType::Float16 => "<f2",
            DType::Float32 => "<f4",
            DType::Float64 => "<f8",
        }
    }

    /// Parses a `descr` (`"<f4"`, `">f8"`, `"|u1"`); returns the type and whether the bytes are
    /// big-endian.
    fn from_descr(descr: &str) -> Option<(DType, bool)> {
        let (order, code) = descr.split_at_checked(1)?;
        let big = match order {
            "<" | "|" | "=" => false,
            ">" => true,
            _ => return None,
        };
        let dtype = match code {
            "b1" | "?" => DType::Bool,
            "i1" => DType::Int8,
            "u1" => DType::Uint8,
            "i2" => DType::Int16,
            "u2" => DType::Uint16,
            "i4" => DType::Int32,
            "u4" => DType::Uint32,
            "i8" => DType::Int64,
            "u8" => DType::Uint64,
            "f2" => DType::Float16,
            "f4" => DType::Float32,
            "f8" => DType::Float64,
            _ => return None,
        };
        Some((dtype, big && dtype.size() > 1))
    }
}

/// A dense n-dimensional array in C order with little-endian element bytes: the payload of one
/// Flower `Array` (`stype = "numpy.ndarray"`).
#[derive(Debug, Clone, PartialEq)]
pub struct NdArray {
    /// Element type.
    pub dtype: DType,
    /// Shape (empty for a 0-d scalar).
    pub shape: Vec<usize>,
    /// `product(shape) * dtype.size()` bytes, C order, little-endian.
    pub data: Vec<u8>,
}

impl NdArray {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the array has no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A float32 array; fails when `values.len()` differs from the shape's product.
    pub fn from_f32(shape: Vec<usize>, values: &[f32]) -> Result<Self, FlowerError> {
        check_len(&shape, values.len())?;
        let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Ok(NdArray {
            dtype: DType::Float32,
            shape,
            data,
        })
    }

    /// A float64 array; fails when `values.len()` differs from the shape's product.
    pub fn from_f64(shape: Vec<usize>, values: &[f64]) -> Result<Self, FlowerError> {
        check_len(&shape, values.len())?;
        let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Ok(NdArray {
            dtype: DType::Float64,
            shape,
            data,
        })
    }

    /// An int64 array; fails when `values.len()` differs from the shape's product.
    pub fn from_i64(shape: Vec<usize>, values: &[i64]) -> Result<Self, FlowerError> {
        check_len(&shape, values.len())?;
        let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Ok(NdArray {
            dtype: DType::Int64,
            shape,
            data,
        })
    }

    /// The values as f64 (every numeric dtype converts; float16 is widened exactly).
    pub fn to_f64(&self) -> Vec<f64> {
        let n = self.dtype.size();
        self.data
            .chunks_exact(n)
            .map(|c| element_to_f64(self.dtype, c))
            .collect()
    }

    /// The values as f32 (float32 exactly; other types converted with `as`).
    pub fn to_f32(&self) -> Vec<f32> {
        if self.dtype == DType::Float32 {
            return self
                .data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
        }
        self.to_f64().into_iter().map(|v| v as f32).collect()
    }

    /// Same shape, values replaced (converted back to this array's dtype; integers round to
    /// nearest). Fails when the value count differs.
    pub fn with_values_f64(&self, values: &[f64]) -> Result<Self, FlowerError> {
        check_len(&self.shape, values.len())?;
        let mut data = Vec::with_capacity(self.data.len());
        for &v in values {
            push_f64_as(self.dtype, v, &mut data);
        }
        Ok(NdArray {
            dtype: self.dtype,
            shape: self.shape.clone(),
            data,
        })
    }

    /// Encodes as `.npy` bytes equal to those of `np.save(buf, a, allow_pickle=False)` for a
    /// C-contiguous array (format 1.0; 2.0 when the header exceeds 65535 bytes).
    pub fn to_npy(&self) -> Vec<u8> {
        let shape = match self.shape.len() {
            0 => "()".to_string(),
            1 => format!("({},)", self.shape[0]),
            _ => format!(
                "({})",
                self.shape
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let dict = format!(
            "{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
            self.dtype.descr(),
            shape
        );
        // numpy pads with spaces so that magic + version + length + header + '\n' is a
        // multiple of 64 bytes.
        let mut version = 1u8;
        let mut prefix = 10usize;
        if dict.len() + 1 + prefix > 65535 + 10 {
            version = 2;
            prefix = 12;
        }
        let unpadded = prefix + dict.len() + 1;
        let pad = (64 - unpadded % 64) % 64;
        let header_len = dict.len() + pad + 1;
        let mut out = Vec::with_capacity(prefix + header_len + self.data.len());
        out.extend_from_slice(b"\x93NUMPY");
        out.push(version);
        out.push(0);
        if version == 1 {
            out.extend_from_slice(&(header_len as u16).to_le_bytes());
        } else {
            out.extend_from_slice(&(header_len as u32).to_le_bytes());
        }
        out.extend_from_slice(dict.as_bytes());
        out.extend(std::iter::repeat_n(b' ', pad));
        out.push(b'\n');
        out.extend_from_slice(&self.data);
        out
    }

    /// Decodes `.npy` bytes (format 1.0, 2.0 or 3.0; either byte order; C or Fortran order).
    /// Object arrays (pickles) are refused.
    pub fn from_npy(bytes: &[u8]) -> Result<Self, FlowerError> {
        let bad = |why: &str| FlowerError::Npy(why.to_string());
        if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
            return Err(bad("missing .npy magic"));
        }
        let major = bytes[6];
        let (header_len, start): (usize, usize) = match major {
            1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
            2 | 3 => {
                if bytes.len() < 12 {
                    return Err(bad("truncated .npy header"));
                }
                (
                    u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                    12,
                )
            }
            v => return Err(FlowerError::Npy(format!("unsupported .npy version {v}"))),
        };
        let end = start
            .checked_add(header_len)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| bad("truncated .npy header"))?;
        let header = std::str::from_utf8(&bytes[start..end]).map_err(|_| bad("header not text"))?;
        let descr = dict_value(header, "descr").ok_or_else(|| bad("no 'descr' in header"))?;
        let descr = descr.trim().trim_matches(|c| c == '\'' || c == '"');
        let (dtype, big) = DType::from_descr(descr)
            .ok_or_else(|| FlowerError::Npy(format!("unsupported dtype descr {descr:?}")))?;
        let fortran = dict_value(header, "fortran_order")
            .ok_or_else(|| bad("no 'fortran_order' in header"))?
            .trim()
            .starts_with("True");
        let shape_txt = dict_value(header, "shape").ok_or_else(|| bad("no 'shape' in header"))?;
        let shape_txt = shape_txt.trim().trim_start_matches('(');
        let shape_txt = shape_txt.split(')').next().unwrap_or("");
        let mut shape = Vec::new();
        for part in shape_txt.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            shape.push(
                part.trim_end_matches('L')
                    .parse::<usize>()
                    .map_err(|_| FlowerError::Npy(format!("bad shape entry {part:?}")))?,
            );
        }
        let count = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| bad("shape overflows"))?;
        let nbytes = count
            .checked_mul(dtype.size())
            .ok_or_else(|| bad("shape overflows"))?;
        let payload = &bytes[end..];
        if payload.len() != nbytes {
            return Err(FlowerError::Npy(format!(
                "expected {nbytes} data bytes for shape {shape:?} {}, found {}",
                dtype.name(),
                payload.len()
            )));
        }
        let mut data = payload.to_vec();
        if big {
            for c in data.chunks_exact_mut(dtype.size()) {
                c.reverse();
            }
        }
        if fortran && shape.len() > 1 {
            data = fortran_to_c(&data, &shape, dtype.size());
        }
        Ok(NdArray { dtype, shape, data })
    }
}

fn check_len(shape: &[usize], len: usize) -> Result<(), FlowerError> {
    let n: usize = shape.iter().product();
    if n != len {
        return Err(FlowerError::Npy(format!(
            "shape {shape:?} holds {n} values, {len} given"
        )));
    }
    Ok(())
}

/// The text after `'key':` up to the next top-level comma (tuples are kept whole).
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let quoted = [format!("'{key}'"), format!("\"{key}\"")];
    let pos = quoted
        .iter()
        .find_map(|q| header.find(q.as_str()).map(|p| p + q.len()))?;
    let rest = header[pos..].trim_start().strip_prefix(':')?;
    let mut depth = 0i32;
    for (i, ch) in rest.char_indices() {
        match ch {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' | '}' if depth == 0 => return Some(&rest[..i]),
            _ => {}
        }
    }
    Some(rest)
}

fn fortran_to_c(data: &[u8], shape: &[usize], size: usize) -> Vec<u8> {
    let count: usize = shape.iter().product();
    let mut out = vec![0u8; data.len()];
    let nd = shape.len();
    // Fortran strides (in elements).
    let mut fstrides = vec![1usize; nd];
    for d in 1..nd {
        fstrides[d] = fstrides[d - 1] * shape[d - 1];
    }
    let mut idx = vec![0usize; nd];
    for c_pos in 0..count {
        let f_pos: usize = idx.iter().zip(&fstrides).map(|(i, s)| i * s).sum();
        out[c_pos * size..(c_pos + 1) * size]
            .copy_from_slice(&data[f_pos * size..(f_pos + 1) * size]);
        // Increment the C-order multi-index (last axis fastest).
        for d in (0..nd).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    out
}

fn element_to_f64(dtype: DType, c: &[u8]) -> f64 {
    match dtype {
        DType::Bool => f64::from(u8::from(c[0] != 0)),
        DType::Int8 => f64::from(c[0] as i8),
        DType::Uint8 => f64::from(c[0]),
        DType::Int16 => f64::from(i16::from_le_bytes([c[0], c[1]])),
        DType::Uint16 => f64::from(u16::from_le_bytes([c[0], c[1]])),
        DType::Float16 => f16_to_f64(u16::from_le_bytes([c[0], c[1]])),
        DType::Int32 => f64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        DType::Uint32 => f64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        DType::Float32 => f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        DType::Int64 => i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f64,
        DType::Uint64 => {
            u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f64
        }
        DType::Float64 => f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]),
    }
}

fn push_f64_as(dtype: DType, v: f64, out: &mut Vec<u8>) {
    match dtype {
        DType::Bool => out.push(u8::from(v != 0.0)),
        DType::Int8 => out.extend_from_slice(&(v.round() as i8).to_le_bytes()),
        DType::Uint8 => out.extend_from_slice(&(v.round() as u8).to_le_bytes()),
        DType::Int16 => out.extend_from_slice(&(v.round() as i16).to_le_bytes()),
        DType::Uint16 => out.extend_from_slice(&(v.round() as u16).to_le_bytes()),
        DType::Float16 => out.extend_from_slice(&f64_to_f16(v).to_le_bytes()),
        DType::Int32 => out.extend_from_slice(&(v.round() as i32).to_le_bytes()),
        DType::Uint32 => out.extend_from_slice(&(v.round() as u32).to_le_bytes()),
        DType::Float32 => out.extend_from_slice(&(v as f32).to_le_bytes()),
        DType::Int64 => out.extend_from_slice(&(v.round() as i64).to_le_bytes()),
        DType::Uint64 => out.extend_from_slice(&(v.round() as u64).to_le_bytes()),
        DType::Float64 => out.extend_from_slice(&v.to_le_bytes()),
    }
}

fn f16_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let frac = f64::from(h & 0x3ff);
    match exp {
        0 => sign * frac * 2f64.powi(-24),
        31 if frac == 0.0 => sign * f64::INFINITY,
        31 => f64::NAN,
        e => sign * (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}

fn f64_to_f16(v: f64) -> u16 {
    // Round-to-nearest-even through f32 bits (adequate for parameters; exact for values that are
    // representable).
    let x = (v as f32).to_bits();
    let sign = ((x >> 16) & 0x8000) as u16;
    let exp = ((x >> 23) & 0xff) as i32;
    let mant = x & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if mant != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 31 {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let m = mant | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = 1u32 << (shift - 1);
        let mut r = m >> shift;
        let rem = m & ((1u32 << shift) - 1);
        if rem > half || (rem == half && r & 1 == 1) {
            r += 1;
        }
        return sign | r as u16;
    }
    let mut r = ((e as u32) << 10) | (mant >> 13);
    let rem = mant & 0x1fff;
    if rem > 0x1000 || (rem == 0x1000 && r & 1 == 1) {
        r += 1;
    }
    sign | r as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_round_trip_float32() {
        let a = NdArray::from_f32(vec![2, 3], &[1.0, -2.5, 3.0, 4.0, 5.0, 6.25]).unwrap();
        let bytes = a.to_npy();
        assert_eq!((bytes.len() - a.data.len()) % 64, 0);
        assert_eq!(NdArray::from_npy(&bytes).unwrap(), a);
    }

    #[test]
    fn npy_header_matches_numpy() {
        // np.save(buf, np.arange(3, dtype=np.float64), allow_pickle=False)
        let a = NdArray::from_f64(vec![3], &[0.0, 1.0, 2.0]).unwrap();
        let bytes = a.to_npy();
        let header = std::str::from_utf8(&bytes[10..128]).unwrap();
        assert!(header.starts_with("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }"));
        assert!(header.ends_with('\n'));
        assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), 118);
        // Scalars and 3-d shapes.
        let s = NdArray::from_f64(vec![], &[7.0]).unwrap();
        assert_eq!(NdArray::from_npy(&s.to_npy()).unwrap(), s);
        let c = NdArray::from_i64(vec![1, 2, 2], &[1, 2, 3, 4]).unwrap();
        assert_eq!(NdArray::from_npy(&c.to_npy()).unwrap(), c);
    }

    #[test]
    fn npy_reads_big_endian_and_fortran() {
        // A 2x3 float32 big-endian Fortran-ordered array holding [[0,1,2],[3,4,5]].
        let header = "{'descr': '>f4', 'fortran_order': True, 'shape': (2, 3), }";
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend_from_slice(&(header.len() as u16 + 1).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        bytes.push(b'\n');
        for v in [0.0f32, 3.0, 1.0, 4.0, 2.0, 5.0] {
            bytes.extend_from_slice(&v.to_be_bytes());
        }
        let a = NdArray::from_npy(&bytes).unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.to_f32(), vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    }

    #[test]
    fn npy_refuses_objects_and_truncation() {
        let header = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }";
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend_from_slice(&(header.len() as u16 + 1).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        bytes.push(b'\n');
        assert!(NdArray::from_npy(&bytes).is_err());
        let a = NdArray::from_f32(vec![4], &[1.0, 2.0, 3.0, 4.0])
            .unwrap()
            .to_npy();
        assert!(NdArray::from_npy(&a[..a.len() - 1]).is_err());
        assert!(NdArray::from_npy(b"nonsense").is_err());
    }

    #[test]
    fn conversions() {
        let a = NdArray::from_f64(vec![2], &[1.5, -2.0]).unwrap();
        assert_eq!(a.to_f32(), vec![1.5, -2.0]);
        let b = a.with_values_f64(&[3.0, 4.0]).unwrap();
        assert_eq!(b.to_f64(), vec![3.0, 4.0]);
        assert!(a.with_values_f64(&[1.0]).is_err());
        let h = NdArray {
            dtype: DType::Float16,
            shape: vec![3],
            data: [f64_to_f16(1.0), f64_to_f16(-0.5), f64_to_f16(65504.0)]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        };
        assert_eq!(h.to_f64(), vec![1.0, -0.5, 65504.0]);
        for name in ["float32", "int64", "bool", "uint8"] {
            assert_eq!(DType::from_name(name).unwrap().name(), name);
        }
    }
}
