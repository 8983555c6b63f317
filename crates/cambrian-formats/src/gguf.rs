//! GGUF (v1–v3) header parsing: key/value metadata, tensor infos, alignment,
//! and the ggml tensor type table (block sizes and bytes per block from the
//! GGUF specification / `ggml.c` type traits).
//!
//! Layout (little-endian): magic `GGUF`, `u32` version, tensor count and KV
//! count (`u64`; `u32` in v1), the KV pairs (string key, `u32` value type,
//! value; arrays carry an element type and a count), then per tensor: name,
//! `u32` dimension count, dimensions (`u64`; `u32` in v1), `u32` ggml type and
//! `u64` offset relative to the data section, which starts at the end of the
//! header rounded up to `general.alignment` (default 32).
//!
//! Every count and length is checked against the bytes that can still follow
//! (the file length when known, else [`ParseOptions::max_header_bytes`])
//! before anything is allocated, so a declared 2^60 tensors or a 1 TB string
//! is an error in O(1) memory. Long arrays (tokenizer vocabularies) are
//! validated in full but only the first [`ParseOptions::max_array_values`]
//! values are kept.

use crate::{Issue, Parse, Severity};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

pub const MAGIC: &[u8; 4] = b"GGUF";
/// Default data alignment when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// ggml's `GGML_MAX_DIMS`.
pub const MAX_DIMS: u32 = 4;
const MAX_NESTING: u32 = 8;

/// Parser limits.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// Upper bound on the header size when the file length is unknown.
    pub max_header_bytes: u64,
    /// Values kept per array (the rest are validated and counted, not stored).
    pub max_array_values: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            max_header_bytes: 1 << 30,
            max_array_values: 256,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GgufError {
    #[error("not a GGUF file: magic bytes are {found:02x?}, expected \"GGUF\"")]
    BadMagic { found: [u8; 4] },
    #[error("GGUF version {version} is not supported (1, 2 and 3 are){}", if *.big_endian { "; this looks like a big-endian GGUF file" } else { "" })]
    UnsupportedVersion { version: u32, big_endian: bool },
    #[error(
        "file is truncated: {what} at byte offset {offset} needs {needed} bytes but the file ends at byte {file_len}"
    )]
    Truncated {
        what: String,
        offset: u64,
        needed: u64,
        file_len: u64,
    },
    #[error(
        "{what} declares {count} entries at byte offset {offset}; at least {min_bytes} bytes each cannot fit in the {available} bytes that remain"
    )]
    CountTooLarge {
        what: String,
        count: u64,
        offset: u64,
        min_bytes: u64,
        available: u64,
    },
    #[error(
        "{what} at byte offset {offset} declares a length of {len} bytes, more than the {available} bytes that remain"
    )]
    LengthTooLarge {
        what: String,
        len: u64,
        offset: u64,
        available: u64,
    },
    #[error("header is larger than the {limit}-byte limit (needs at least {needed} bytes)")]
    HeaderTooLarge { needed: u64, limit: u64 },
    #[error("{what} at byte offset {offset} is not valid UTF-8")]
    NotUtf8 { what: String, offset: u64 },
    #[error("metadata key {key:?} at byte offset {offset}: unknown value type {value_type}")]
    BadValueType {
        key: String,
        value_type: u32,
        offset: u64,
    },
    #[error("metadata key {key:?}: arrays nested deeper than {MAX_NESTING} levels")]
    TooDeep { key: String },
    #[error("tensor {name:?}: {detail}")]
    InvalidTensor { name: String, detail: String },
}

/// ggml tensor type traits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GgmlType {
    pub id: u32,
    pub name: &'static str,
    /// Elements per block.
    pub block_size: u64,
    /// Bytes per block.
    pub type_size: u64,
}

impl GgmlType {
    /// Bits per weight: `8 × type_size / block_size`.
    pub fn bits_per_weight(&self) -> f64 {
        8.0 * self.type_size as f64 / self.block_size as f64
    }
    /// Bytes for `numel` elements; `None` if not a whole number of blocks or on overflow.
    pub fn bytes_for(&self, numel: u64) -> Option<u64> {
        if !numel.is_multiple_of(self.block_size) {
            return None;
        }
        (numel / self.block_size).checked_mul(self.type_size)
    }
}

macro_rules! t {
    ($id:expr, $n:expr, $b:expr, $s:expr) => {
        GgmlType {
            id: $id,
            name: $n,
            block_size: $b,
            type_size: $s,
        }
    };
}

/// The ggml type table (ids as in `enum ggml_type`; removed ids 4, 5 and
/// 36–38 are absent; 31–33 are the retired Q4_0 repacked layouts).
pub const GGML_TYPES: &[GgmlType] = &[
    t!(0, "F32", 1, 4),
    t!(1, "F16", 1, 2),
    t!(2, "Q4_0", 32, 18),
    t!(3, "Q4_1", 32, 20),
    t!(6, "Q5_0", 32, 22),
    t!(7, "Q5_1", 32, 24),
    t!(8, "Q8_0", 32, 34),
    t!(9, "Q8_1", 32, 36),
    t!(10, "Q2_K", 256, 84),
    t!(11, "Q3_K", 256, 110),
    t!(12, "Q4_K", 256, 144),
    t!(13, "Q5_K", 256, 176),
    t!(14, "Q6_K", 256, 210),
    t!(15, "Q8_K", 256, 292),
    t!(16, "IQ2_XXS", 256, 66),
    t!(17, "IQ2_XS", 256, 74),
    t!(18, "IQ3_XXS", 256, 98),
    t!(19, "IQ1_S", 256, 50),
    t!(20, "IQ4_NL", 32, 18),
    t!(21, "IQ3_S", 256, 110),
    t!(22, "IQ2_S", 256, 82),
    t!(23, "IQ4_XS", 256, 136),
    t!(24, "I8", 1, 1),
    t!(25, "I16", 1, 2),
    t!(26, "I32", 1, 4),
    t!(27, "I64", 1, 8),
    t!(28, "F64", 1, 8),
    t!(29, "IQ1_M", 256, 56),
    t!(30, "BF16", 1, 2),
    t!(31, "Q4_0_4_4", 32, 18),
    t!(32, "Q4_0_4_8", 32, 18),
    t!(33, "Q4_0_8_8", 32, 18),
    t!(34, "TQ1_0", 256, 54),
    t!(35, "TQ2_0", 256, 66),
    t!(39, "MXFP4", 32, 17),
];

/// Look up a ggml type by id.
pub fn ggml_type(id: u32) -> Option<&'static GgmlType> {
    GGML_TYPES.iter().find(|t| t.id == id)
}

/// Look up a ggml type by name (case-insensitive).
pub fn ggml_type_by_name(name: &str) -> Option<&'static GgmlType> {
    GGML_TYPES
        .iter()
        .find(|t| t.name.eq_ignore_ascii_case(name))
}

/// `general.file_type` (llama.cpp `enum llama_ftype`) → its name.
pub fn file_type_name(ft: u64) -> Option<&'static str> {
    Some(match ft {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        19 => "IQ2_XXS",
        20 => "IQ2_XS",
        21 => "Q2_K_S",
        22 => "IQ3_XS",
        23 => "IQ3_XXS",
        24 => "IQ1_S",
        25 => "IQ4_NL",
        26 => "IQ3_S",
        27 => "IQ3_M",
        28 => "IQ2_S",
        29 => "IQ2_M",
        30 => "IQ4_XS",
        31 => "IQ1_M",
        32 => "BF16",
        36 => "TQ1_0",
        37 => "TQ2_0",
        38 => "MXFP4_MOE",
        _ => return None,
    })
}

/// A metadata value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum GgufValue {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    String(String),
    Array(GgufArray),
    U64(u64),
    I64(i64),
    F64(f64),
}

/// An array value: element type, declared length, and the first values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GgufArray {
    /// GGUF value type id of the elements.
    pub elem_type: u32,
    pub len: u64,
    /// The first `min(len, max_array_values)` values.
    pub values: Vec<GgufValue>,
}

impl GgufValue {
    /// Any integer type as `u64` (negative → `None`).
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            GgufValue::U8(v) => Some(v.into()),
            GgufValue::U16(v) => Some(v.into()),
            GgufValue::U32(v) => Some(v.into()),
            GgufValue::U64(v) => Some(v),
            GgufValue::I8(v) => u64::try_from(v).ok(),
            GgufValue::I16(v) => u64::try_from(v).ok(),
            GgufValue::I32(v) => u64::try_from(v).ok(),
            GgufValue::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }
    /// Any numeric type as `f64`.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            GgufValue::F32(v) => Some(v.into()),
            GgufValue::F64(v) => Some(v),
            GgufValue::I8(v) => Some(v.into()),
            GgufValue::I16(v) => Some(v.into()),
            GgufValue::I32(v) => Some(v.into()),
            GgufValue::I64(v) => Some(v as f64),
            _ => self.as_u64().map(|v| v as f64),
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            GgufValue::String(s) => Some(s),
            _ => None,
        }
    }
    /// Name of the GGUF value type.
    pub fn type_name(&self) -> &'static str {
        match self {
            GgufValue::U8(_) => "u8",
            GgufValue::I8(_) => "i8",
            GgufValue::U16(_) => "u16",
            GgufValue::I16(_) => "i16",
            GgufValue::U32(_) => "u32",
            GgufValue::I32(_) => "i32",
            GgufValue::F32(_) => "f32",
            GgufValue::Bool(_) => "bool",
            GgufValue::String(_) => "string",
            GgufValue::Array(_) => "array",
            GgufValue::U64(_) => "u64",
            GgufValue::I64(_) => "i64",
            GgufValue::F64(_) => "f64",
        }
    }
}

/// One tensor info record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GgufTensorInfo {
    pub name: String,
    /// Dimensions as stored (innermost first, ggml order).
    pub dims: Vec<u64>,
    /// ggml type id (see [`ggml_type`]).
    pub ggml_type: u32,
    /// Offset relative to the start of the data section.
    pub offset: u64,
}

impl GgufTensorInfo {
    pub fn numel(&self) -> u64 {
        // Checked when parsed.
        self.dims
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .unwrap_or(u64::MAX)
    }
    pub fn type_info(&self) -> Option<&'static GgmlType> {
        ggml_type(self.ggml_type)
    }
    /// Bytes of data, when the type is known and the element count is a whole number of blocks.
    pub fn byte_size(&self) -> Option<u64> {
        self.type_info()?.bytes_for(self.numel())
    }
}

/// A parsed GGUF header.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GgufHeader {
    pub version: u32,
    /// Metadata in file order.
    pub metadata: Vec<(String, GgufValue)>,
    pub tensors: Vec<GgufTensorInfo>,
    /// `general.alignment`, or 32.
    pub alignment: u64,
    /// Byte offset where the tensor infos end.
    pub header_end: u64,
    /// Byte offset of the data section (`header_end` rounded up to `alignment`).
    pub data_start: u64,
    pub issues: Vec<Issue>,
}

impl GgufHeader {
    pub fn get(&self, key: &str) -> Option<&GgufValue> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.get(key).and_then(GgufValue::as_u64)
    }
    pub fn get_f64(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(GgufValue::as_f64)
    }
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(GgufValue::as_str)
    }
    /// `general.architecture`.
    pub fn architecture(&self) -> Option<&str> {
        self.get_str("general.architecture")
    }
    /// `{architecture}.{suffix}` as an integer (e.g. `block_count`).
    pub fn arch_u64(&self, suffix: &str) -> Option<u64> {
        let a = self.architecture()?;
        self.get_u64(&format!("{a}.{suffix}"))
    }
    /// `general.file_type` name (e.g. `Q4_K_M`).
    pub fn file_type(&self) -> Option<&'static str> {
        self.get_u64("general.file_type").and_then(file_type_name)
    }
    /// Total number of elements over all tensors.
    pub fn param_count(&self) -> u64 {
        self.tensors
            .iter()
            .map(|t| t.numel())
            .fold(0u64, u64::saturating_add)
    }
    /// Total tensor data bytes (tensors of unknown type count as 0).
    pub fn data_bytes(&self) -> u64 {
        self.tensors
            .iter()
            .filter_map(|t| t.byte_size())
            .fold(0u64, u64::saturating_add)
    }
    /// (element count, bytes) per ggml type name.
    pub fn by_type(&self) -> BTreeMap<String, (u64, u64)> {
        let mut m = BTreeMap::new();
        for t in &self.tensors {
            let name = t
                .type_info()
                .map(|x| x.name.to_owned())
                .unwrap_or_else(|| format!("type{}", t.ggml_type));
            let e: &mut (u64, u64) = m.entry(name).or_default();
            e.0 = e.0.saturating_add(t.numel());
            e.1 = e.1.saturating_add(t.byte_size().unwrap_or(0));
        }
        m
    }
}

enum Stop {
    More(u64),
    Err(GgufError),
}

impl From<GgufError> for Stop {
    fn from(e: GgufError) -> Self {
        Stop::Err(e)
    }
}

struct Cur<'a> {
    buf: &'a [u8],
    pos: u64,
    /// End of what may exist: file length, or the header limit.
    limit: u64,
    file_len: Option<u64>,
    max_header: u64,
    wide: bool,
}

impl<'a> Cur<'a> {
    fn available(&self) -> u64 {
        self.limit.saturating_sub(self.pos)
    }
    fn take(&mut self, n: u64, what: &dyn Fn() -> String) -> Result<&'a [u8], Stop> {
        let end = self.pos.checked_add(n).ok_or_else(|| {
            Stop::Err(GgufError::LengthTooLarge {
                what: what(),
                len: n,
                offset: self.pos,
                available: self.available(),
            })
        })?;
        if let Some(fl) = self.file_len
            && end > fl
        {
            return Err(Stop::Err(GgufError::Truncated {
                what: what(),
                offset: self.pos,
                needed: n,
                file_len: fl,
            }));
        }
        if end > self.max_header && self.file_len.is_none() {
            return Err(Stop::Err(GgufError::HeaderTooLarge {
                needed: end,
                limit: self.max_header,
            }));
        }
        let s = self.pos as usize;
        match self.buf.get(s..end as usize) {
            Some(b) => {
                self.pos = end;
                Ok(b)
            }
            None => Err(Stop::More(end)),
        }
    }
    fn arr<const N: usize>(&mut self, what: &dyn Fn() -> String) -> Result<[u8; N], Stop> {
        let b = self.take(N as u64, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(b);
        Ok(a)
    }
    fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32, Stop> {
        Ok(u32::from_le_bytes(self.arr(what)?))
    }
    fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64, Stop> {
        Ok(u64::from_le_bytes(self.arr(what)?))
    }
    /// A count or length: u64, or u32 in v1.
    fn len(&mut self, what: &dyn Fn() -> String) -> Result<u64, Stop> {
        if self.wide {
            self.u64(what)
        } else {
            self.u32(what).map(u64::from)
        }
    }
    fn check_count(
        &self,
        what: &dyn Fn() -> String,
        count: u64,
        min_bytes: u64,
    ) -> Result<(), Stop> {
        let avail = self.available();
        if count.checked_mul(min_bytes).is_none_or(|need| need > avail) {
            return Err(Stop::Err(GgufError::CountTooLarge {
                what: what(),
                count,
                offset: self.pos,
                min_bytes,
                available: avail,
            }));
        }
        Ok(())
    }
    fn string(&mut self, what: &dyn Fn() -> String) -> Result<String, Stop> {
        let at = self.pos;
        let n = self.len(what)?;
        if n > self.available() {
            return Err(Stop::Err(GgufError::LengthTooLarge {
                what: what(),
                len: n,
                offset: at,
                available: self.available(),
            }));
        }
        let b = self.take(n, what)?;
        match std::str::from_utf8(b) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(Stop::Err(GgufError::NotUtf8 {
                what: what(),
                offset: at,
            })),
        }
    }
    fn skip_string(&mut self, what: &dyn Fn() -> String) -> Result<(), Stop> {
        let at = self.pos;
        let n = self.len(what)?;
        if n > self.available() {
            return Err(Stop::Err(GgufError::LengthTooLarge {
                what: what(),
                len: n,
                offset: at,
                available: self.available(),
            }));
        }
        self.take(n, what).map(|_| ())
    }
}

/// Minimum encoded size of a value of the given type (for count checks).
fn min_size(ty: u32, wide: bool) -> Option<u64> {
    Some(match ty {
        0 | 1 | 7 => 1,
        2 | 3 => 2,
        4..=6 => 4,
        10..=12 => 8,
        8 => {
            if wide {
                8
            } else {
                4
            }
        }
        9 => {
            if wide {
                12
            } else {
                8
            }
        }
        _ => return None,
    })
}

fn read_value(
    c: &mut Cur,
    ty: u32,
    key: &str,
    depth: u32,
    keep: bool,
    opts: &ParseOptions,
) -> Result<Option<GgufValue>, Stop> {
    let w = || format!("value of {key:?}");
    let v = match ty {
        0 => GgufValue::U8(c.arr::<1>(&w)?[0]),
        1 => GgufValue::I8(i8::from_le_bytes(c.arr(&w)?)),
        2 => GgufValue::U16(u16::from_le_bytes(c.arr(&w)?)),
        3 => GgufValue::I16(i16::from_le_bytes(c.arr(&w)?)),
        4 => GgufValue::U32(u32::from_le_bytes(c.arr(&w)?)),
        5 => GgufValue::I32(i32::from_le_bytes(c.arr(&w)?)),
        6 => GgufValue::F32(f32::from_le_bytes(c.arr(&w)?)),
        7 => GgufValue::Bool(c.arr::<1>(&w)?[0] != 0),
        8 => {
            if keep {
                GgufValue::String(c.string(&w)?)
            } else {
                c.skip_string(&w)?;
                return Ok(None);
            }
        }
        9 => {
            if depth >= MAX_NESTING {
                return Err(GgufError::TooDeep {
                    key: key.to_owned(),
                }
                .into());
            }
            let at = c.pos;
            let elem = c.u32(&w)?;
            let Some(min) = min_size(elem, c.wide) else {
                return Err(GgufError::BadValueType {
                    key: key.to_owned(),
                    value_type: elem,
                    offset: at,
                }
                .into());
            };
            let len = c.len(&w)?;
            c.check_count(&|| format!("array {key:?}"), len, min)?;
            let mut values = Vec::with_capacity((len as usize).min(opts.max_array_values).min(256));
            for i in 0..len {
                let k = keep && (i as usize) < opts.max_array_values;
                if let Some(v) = read_value(c, elem, key, depth + 1, k, opts)?
                    && k
                {
                    values.push(v);
                }
            }
            GgufValue::Array(GgufArray {
                elem_type: elem,
                len,
                values,
            })
        }
        10 => GgufValue::U64(u64::from_le_bytes(c.arr(&w)?)),
        11 => GgufValue::I64(i64::from_le_bytes(c.arr(&w)?)),
        12 => GgufValue::F64(f64::from_le_bytes(c.arr(&w)?)),
        _ => {
            return Err(GgufError::BadValueType {
                key: key.to_owned(),
                value_type: ty,
                offset: c.pos.saturating_sub(4),
            }
            .into());
        }
    };
    Ok(if keep { Some(v) } else { None })
}

fn issue(code: &'static str, severity: Severity, subject: Option<&str>, message: String) -> Issue {
    Issue {
        code,
        severity,
        subject: subject.map(str::to_owned),
        message,
    }
}

/// Parse a GGUF header from a prefix of the file. `file_len`, when known,
/// bounds every count and enables checks of tensor data against the file end.
pub fn parse(
    prefix: &[u8],
    file_len: Option<u64>,
    opts: &ParseOptions,
) -> Result<Parse<GgufHeader>, GgufError> {
    match parse_inner(prefix, file_len, opts) {
        Ok(h) => Ok(Parse::Complete(h)),
        Err(Stop::More(total)) => Ok(Parse::NeedMore { total }),
        Err(Stop::Err(e)) => Err(e),
    }
}

fn parse_inner(buf: &[u8], file_len: Option<u64>, opts: &ParseOptions) -> Result<GgufHeader, Stop> {
    let limit = file_len.unwrap_or(opts.max_header_bytes);
    let mut c = Cur {
        buf,
        pos: 0,
        limit,
        file_len,
        max_header: opts.max_header_bytes,
        wide: true,
    };
    let magic: [u8; 4] = c.arr(&|| "magic".into())?;
    if &magic != MAGIC {
        return Err(GgufError::BadMagic { found: magic }.into());
    }
    let version = c.u32(&|| "version".into())?;
    if !(1..=3).contains(&version) {
        let big_endian = (1..=3).contains(&version.swap_bytes());
        return Err(GgufError::UnsupportedVersion {
            version,
            big_endian,
        }
        .into());
    }
    c.wide = version >= 2;
    let tensor_count = c.len(&|| "tensor count".into())?;
    let kv_count = c.len(&|| "metadata count".into())?;
    let key_min = if c.wide { 8 + 4 + 1 } else { 4 + 4 + 1 };
    c.check_count(&|| "metadata count".into(), kv_count, key_min)?;
    let ti_min = if c.wide { 8 + 4 + 4 + 8 } else { 4 + 4 + 4 + 8 };
    // Tensor infos follow the metadata, so they must fit in what remains after it.
    c.check_count(&|| "tensor count".into(), tensor_count, ti_min)?;

    let mut issues = Vec::new();
    let mut metadata = Vec::with_capacity((kv_count as usize).min(1024));
    let mut seen = BTreeSet::new();
    for i in 0..kv_count {
        let key = c.string(&|| format!("metadata key #{i}"))?;
        let at = c.pos;
        let ty = c.u32(&|| format!("value type of {key:?}"))?;
        if min_size(ty, c.wide).is_none() {
            return Err(GgufError::BadValueType {
                key,
                value_type: ty,
                offset: at,
            }
            .into());
        }
        let v = read_value(&mut c, ty, &key, 0, true, opts)?;
        if !seen.insert(key.clone()) {
            issues.push(issue(
                "duplicate-key",
                Severity::Error,
                Some(&key),
                format!("metadata key {key:?} appears more than once"),
            ));
        }
        if let Some(v) = v {
            metadata.push((key, v));
        }
    }
    c.check_count(&|| "tensor count".into(), tensor_count, ti_min)?;
    let mut tensors = Vec::with_capacity((tensor_count as usize).min(4096));
    let mut names = BTreeSet::new();
    for i in 0..tensor_count {
        let name = c.string(&|| format!("tensor #{i} name"))?;
        let n_dims = c.u32(&|| format!("tensor {name:?} dimension count"))?;
        if n_dims > MAX_DIMS {
            return Err(GgufError::InvalidTensor {
                name,
                detail: format!("{n_dims} dimensions, ggml allows at most {MAX_DIMS}"),
            }
            .into());
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            dims.push(c.len(&|| format!("tensor {name:?} dimensions"))?);
        }
        let ggml_t = c.u32(&|| format!("tensor {name:?} type"))?;
        let offset = c.u64(&|| format!("tensor {name:?} offset"))?;
        if dims
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .is_none()
        {
            return Err(GgufError::InvalidTensor {
                name,
                detail: format!("dimensions {dims:?}: element count overflows 64 bits"),
            }
            .into());
        }
        if !names.insert(name.clone()) {
            issues.push(issue(
                "duplicate-tensor",
                Severity::Error,
                Some(&name),
                format!("tensor name {name:?} appears more than once"),
            ));
        }
        tensors.push(GgufTensorInfo {
            name,
            dims,
            ggml_type: ggml_t,
            offset,
        });
    }
    let header_end = c.pos;
    let mut alignment = DEFAULT_ALIGNMENT;
    match metadata.iter().find(|(k, _)| k == "general.alignment").map(|(_, v)| v) {
        None => {}
        Some(GgufValue::U32(a)) if *a > 0 && a.is_power_of_two() => alignment = u64::from(*a),
        Some(v) => issues.push(issue(
            "bad-alignment",
            Severity::Error,
            Some("general.alignment"),
            format!("general.alignment is {v:?} ({}); it must be a u32 power of two; using {DEFAULT_ALIGNMENT}", v.type_name()),
        )),
    }
    let data_start = header_end.div_ceil(alignment).saturating_mul(alignment);
    let h = GgufHeader {
        version,
        metadata,
        tensors,
        alignment,
        header_end,
        data_start,
        issues,
    };
    Ok(validate(h, file_len))
}

fn validate(mut h: GgufHeader, file_len: Option<u64>) -> GgufHeader {
    let mut spans: Vec<(u64, u64, usize)> = Vec::new();
    for (i, t) in h.tensors.iter().enumerate() {
        let Some(ty) = t.type_info() else {
            h.issues.push(issue(
                "unknown-type",
                Severity::Error,
                Some(&t.name),
                format!("ggml type id {} is unknown", t.ggml_type),
            ));
            continue;
        };
        let numel = t.numel();
        let Some(size) = ty.bytes_for(numel) else {
            h.issues.push(issue(
                "partial-block",
                Severity::Error,
                Some(&t.name),
                format!(
                    "{numel} elements is not a whole number of {}-element {} blocks",
                    ty.block_size, ty.name
                ),
            ));
            continue;
        };
        if t.offset % h.alignment != 0 {
            h.issues.push(issue(
                "misaligned-tensor",
                Severity::Error,
                Some(&t.name),
                format!(
                    "data offset {} is not a multiple of the alignment {}",
                    t.offset, h.alignment
                ),
            ));
        }
        match t.offset.checked_add(size) {
            Some(end) => spans.push((t.offset, end, i)),
            None => h.issues.push(issue(
                "offset-overflow",
                Severity::Error,
                Some(&t.name),
                "offset + size overflows 64 bits".into(),
            )),
        }
    }
    spans.sort();
    let mut cursor = 0u64;
    let mut issues = Vec::new();
    for &(b, e, i) in &spans {
        let name = h.tensors.get(i).map(|t| t.name.as_str());
        if b < cursor {
            issues.push(issue(
                "offsets-overlap",
                Severity::Error,
                name,
                format!("data [{b}, {e}) overlaps the previous tensor, which ends at {cursor}"),
            ));
        } else if b.saturating_sub(cursor) >= h.alignment {
            issues.push(issue(
                "offsets-hole",
                Severity::Warning,
                name,
                format!(
                    "{} unreferenced bytes before this tensor's data (more than alignment padding)",
                    b - cursor
                ),
            ));
        }
        cursor = cursor.max(e);
    }
    if let Some(fl) = file_len {
        let end = h.data_start.saturating_add(cursor);
        if end > fl {
            issues.push(issue(
                "data-beyond-file",
                Severity::Error,
                None,
                format!("tensor data ends at byte {end} but the file has only {fl} bytes (truncated file?)"),
            ));
        }
    }
    h.issues.extend(issues);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny GGUF writer for tests.
    pub(crate) struct W(pub Vec<u8>);
    impl W {
        pub fn new(version: u32, tensors: u64, kvs: u64) -> W {
            let mut w = W(MAGIC.to_vec());
            w.0.extend(version.to_le_bytes());
            w.0.extend(tensors.to_le_bytes());
            w.0.extend(kvs.to_le_bytes());
            w
        }
        pub fn str(&mut self, s: &str) -> &mut Self {
            self.0.extend((s.len() as u64).to_le_bytes());
            self.0.extend(s.as_bytes());
            self
        }
        pub fn u32(&mut self, v: u32) -> &mut Self {
            self.0.extend(v.to_le_bytes());
            self
        }
        pub fn u64(&mut self, v: u64) -> &mut Self {
            self.0.extend(v.to_le_bytes());
            self
        }
    }

    #[test]
    fn ggml_table_bits() {
        assert_eq!(ggml_type(12).map(|t| t.bits_per_weight()), Some(4.5));
        assert_eq!(ggml_type(8).map(|t| t.bits_per_weight()), Some(8.5));
        assert_eq!(ggml_type(14).map(|t| t.bits_per_weight()), Some(6.5625));
        assert_eq!(ggml_type_by_name("q4_k").map(|t| t.id), Some(12));
    }

    #[test]
    fn small_valid_file() {
        let mut w = W::new(3, 1, 2);
        w.str("general.architecture").u32(8).str("llama");
        w.str("llama.block_count").u32(4).u32(2);
        w.str("t").u32(2).u64(64).u64(2).u32(0).u64(0);
        let mut f = w.0.clone();
        let pad = f.len().div_ceil(32) * 32 - f.len();
        f.extend(std::iter::repeat_n(0u8, pad + 64 * 2 * 4));
        let h = parse(&f, Some(f.len() as u64), &ParseOptions::default())
            .unwrap()
            .complete()
            .unwrap();
        assert_eq!(h.architecture(), Some("llama"));
        assert_eq!(h.arch_u64("block_count"), Some(2));
        assert_eq!(h.param_count(), 128);
        assert!(h.issues.is_empty(), "{:?}", h.issues);
        // Every shorter prefix asks for more, never errors.
        for n in 0..w.0.len() {
            match parse(&f[..n], None, &ParseOptions::default()) {
                Ok(Parse::NeedMore { total }) => assert!(total > n as u64),
                other => panic!("prefix {n}: {other:?}"),
            }
        }
    }

    #[test]
    fn hostile_counts_and_lengths() {
        let o = ParseOptions::default();
        // 2^60 tensors.
        let w = W::new(3, 1 << 60, 0);
        assert!(matches!(
            parse(&w.0, None, &o),
            Err(GgufError::CountTooLarge { .. })
        ));
        assert!(matches!(
            parse(&w.0, Some(w.0.len() as u64), &o),
            Err(GgufError::CountTooLarge { .. })
        ));
        // 1 TB string.
        let mut w = W::new(3, 0, 1);
        w.u64(1 << 40);
        assert!(matches!(
            parse(&w.0, None, &o),
            Err(GgufError::LengthTooLarge { .. })
        ));
        // 2^62 array elements.
        let mut w = W::new(3, 0, 1);
        w.str("a").u32(9).u32(0).u64(1 << 62);
        assert!(matches!(
            parse(&w.0, None, &o),
            Err(GgufError::CountTooLarge { .. })
        ));
        // Overflowing dims.
        let mut w = W::new(3, 1, 0);
        w.str("t").u32(2).u64(1 << 40).u64(1 << 40).u32(0).u64(0);
        assert!(matches!(
            parse(&w.0, None, &o),
            Err(GgufError::InvalidTensor { .. })
        ));
        // Bad magic, version, value type.
        assert!(matches!(
            parse(b"GGUX\x03\0\0\0", None, &o),
            Err(GgufError::BadMagic { .. })
        ));
        assert!(matches!(
            parse(b"GGUF\0\0\0\x03", None, &o),
            Err(GgufError::UnsupportedVersion {
                big_endian: true,
                ..
            })
        ));
        let mut w = W::new(3, 0, 1);
        w.str("a").u32(99);
        assert!(matches!(
            parse(&w.0, None, &o),
            Err(GgufError::BadValueType { .. })
        ));
        // Truncated with known length.
        let mut w = W::new(3, 0, 1);
        w.str("general.name").u32(8).u64(100);
        assert!(matches!(
            parse(&w.0, Some(w.0.len() as u64 + 10), &o),
            Err(GgufError::LengthTooLarge { .. })
        ));
    }

    #[test]
    fn deep_nesting_rejected() {
        let mut w = W::new(3, 0, 1);
        w.str("a");
        w.u32(9);
        for _ in 0..20 {
            w.u32(9).u64(1);
        }
        w.u32(0).u64(1).0.push(1);
        assert!(matches!(
            parse(&w.0, None, &ParseOptions::default()),
            Err(GgufError::TooDeep { .. })
        ));
    }
}
