//! safetensors header parsing and validation.
//!
//! Layout: an 8-byte little-endian `u64` header length `N`, then `N` bytes of
//! UTF-8 JSON (an object mapping tensor names to `{dtype, shape,
//! data_offsets}` plus an optional `__metadata__` string map, possibly padded
//! with trailing spaces), then the data buffer. The rules follow the
//! reference implementation (`safetensors` crate, `Metadata::validate`):
//! header ≤ 100 MB, first JSON byte `{`, data offsets contiguous from 0 with no
//! holes or overlaps, each tensor's byte size equal to dtype bits × ∏shape / 8
//! (checked arithmetic), and the data buffer ending exactly at the end of the
//! file. Violations of the rules that still leave every tensor interpretable
//! are reported as [`Issue`]s; anything else is a [`SafetensorsError`].

use crate::{Issue, Parse, Severity};
use serde::Serialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The reference implementation's limit on the JSON header size (bytes).
pub const MAX_HEADER_SIZE: u64 = 100_000_000;

/// Hard errors: the header cannot be interpreted.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SafetensorsError {
    #[error(
        "file is {file_len} bytes, too short for a safetensors header (needs at least {needed})"
    )]
    Truncated { file_len: u64, needed: u64 },
    #[error("declared header length {len} bytes exceeds the {limit}-byte limit")]
    HeaderTooLarge { len: u64, limit: u64 },
    #[error(
        "declared header length {header_len} bytes (+8) goes beyond the end of the {file_len}-byte file"
    )]
    HeaderBeyondFile { header_len: u64, file_len: u64 },
    #[error("header JSON must start with '{{' at byte 8, found byte 0x{found:02x}")]
    InvalidHeaderStart { found: u8 },
    #[error("header is not valid UTF-8 (byte offset {offset} in the file)")]
    NotUtf8 { offset: u64 },
    #[error("header is not valid JSON at byte offset {offset} in the file: {message}")]
    InvalidJson { offset: u64, message: String },
    #[error("tensor {name:?}: field `{field}` {detail}")]
    InvalidTensor {
        name: String,
        field: &'static str,
        detail: String,
    },
    #[error("tensor {name:?}: element count or byte size overflows 64 bits (shape {shape:?})")]
    SizeOverflow { name: String, shape: Vec<u64> },
    #[error("index file is not valid: {0}")]
    InvalidIndex(String),
    #[error("I/O error while reading the header: {0}")]
    Io(String),
}

/// Bits per element of a safetensors dtype, `None` when unknown.
pub fn dtype_bits(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "F4" => 4,
        "F6_E2M3" | "F6_E3M2" => 6,
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" => 8,
        "I16" | "U16" | "F16" | "BF16" => 16,
        "I32" | "U32" | "F32" => 32,
        "F64" | "I64" | "U64" | "C64" => 64,
        _ => return None,
    })
}

/// One tensor entry of the header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TensorInfo {
    pub name: String,
    /// The dtype string as written (e.g. `BF16`).
    pub dtype: String,
    pub shape: Vec<u64>,
    /// `[begin, end)` relative to the start of the data buffer.
    pub data_offsets: (u64, u64),
}

impl TensorInfo {
    /// Number of elements (∏ shape); `None` on overflow (never for a parsed header).
    pub fn numel(&self) -> Option<u64> {
        self.shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
    }
}

/// A parsed safetensors header.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SafetensorsHeader {
    /// The JSON length `N` declared in the first 8 bytes.
    pub header_len: u64,
    /// Tensors in the order they appear in the JSON.
    pub tensors: Vec<TensorInfo>,
    /// The `__metadata__` map (string values only; others become issues).
    pub metadata: BTreeMap<String, String>,
    /// Structural problems found.
    pub issues: Vec<Issue>,
}

impl SafetensorsHeader {
    /// Byte offset of the data buffer in the file (`8 + N`).
    pub fn data_start(&self) -> u64 {
        8 + self.header_len
    }
    /// Largest `end` offset of any tensor: the data buffer length the header implies.
    pub fn data_len(&self) -> u64 {
        self.tensors
            .iter()
            .map(|t| t.data_offsets.1)
            .max()
            .unwrap_or(0)
    }
    /// The file size the header implies.
    pub fn expected_file_len(&self) -> u64 {
        self.data_start().saturating_add(self.data_len())
    }
    /// Total number of elements over all tensors.
    pub fn param_count(&self) -> u64 {
        self.tensors
            .iter()
            .map(|t| t.numel().unwrap_or(0))
            .fold(0u64, u64::saturating_add)
    }
    /// Elements per dtype (the Hub's `safetensors.parameters` shape).
    pub fn params_by_dtype(&self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        for t in &self.tensors {
            let e = m.entry(t.dtype.clone()).or_insert(0u64);
            *e = e.saturating_add(t.numel().unwrap_or(0));
        }
        m
    }
    /// Whether any issue has [`Severity::Error`] (the reference loader would refuse the file).
    pub fn has_errors(&self) -> bool {
        self.issues.iter().any(|i| i.severity == Severity::Error)
    }
}

/// Read the declared header length from the first 8 bytes.
pub fn header_len(prefix: &[u8]) -> Parse<u64> {
    match prefix.get(..8) {
        Some(b) => {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            Parse::Complete(u64::from_le_bytes(a))
        }
        None => Parse::NeedMore { total: 8 },
    }
}

/// Parse a header from a prefix of the file. `file_len`, when known (local
/// file, or the total of an HTTP `Content-Range`), enables the checks against
/// the end of the file.
pub fn parse(
    prefix: &[u8],
    file_len: Option<u64>,
) -> Result<Parse<SafetensorsHeader>, SafetensorsError> {
    if let Some(fl) = file_len
        && fl < 8
    {
        return Err(SafetensorsError::Truncated {
            file_len: fl,
            needed: 8,
        });
    }
    let n = match header_len(prefix) {
        Parse::Complete(n) => n,
        Parse::NeedMore { total } => return Ok(Parse::NeedMore { total }),
    };
    check_header_len(n, file_len)?;
    // n ≤ 100 MB, so the cast cannot truncate.
    let end = 8 + n as usize;
    let Some(json) = prefix.get(8..end) else {
        return Ok(Parse::NeedMore { total: 8 + n });
    };
    let mut h = parse_json(json, n)?;
    if let Some(fl) = file_len {
        let expected = h.expected_file_len();
        if expected > fl {
            h.issues.push(issue(
                "data-beyond-file",
                Severity::Error,
                None,
                format!("tensor data ends at byte {expected} but the file has only {fl} bytes (truncated file?)"),
            ));
        } else if expected < fl {
            h.issues.push(issue(
                "trailing-bytes",
                Severity::Error,
                None,
                format!(
                    "{} bytes after the last tensor's data (data ends at byte {expected}, file is {fl} bytes): \
                     hidden content or a corrupt header",
                    fl - expected
                ),
            ));
        }
    }
    Ok(Parse::Complete(h))
}

/// Read and parse a header from a reader positioned at the start of a file.
/// Allocates at most the declared header length, which is checked against
/// [`MAX_HEADER_SIZE`] and `file_len` first.
pub fn read_header<R: std::io::Read>(
    mut r: R,
    file_len: Option<u64>,
) -> Result<SafetensorsHeader, SafetensorsError> {
    let mut first = [0u8; 8];
    let mut got = 0usize;
    while got < 8 {
        match r.read(&mut first[got..]) {
            Ok(0) => {
                return Err(SafetensorsError::Truncated {
                    file_len: got as u64,
                    needed: 8,
                });
            }
            Ok(k) => got += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(SafetensorsError::Io(e.to_string())),
        }
    }
    let n = u64::from_le_bytes(first);
    check_header_len(n, file_len)?;
    let mut buf = first.to_vec();
    let body = crate::read_prefix(&mut r, n).map_err(|e| SafetensorsError::Io(e.to_string()))?;
    let got = body.len() as u64;
    buf.extend_from_slice(&body);
    match parse(&buf, file_len)? {
        Parse::Complete(h) => Ok(h),
        Parse::NeedMore { .. } => Err(SafetensorsError::HeaderBeyondFile {
            header_len: n,
            file_len: 8 + got,
        }),
    }
}

fn issue(code: &'static str, severity: Severity, subject: Option<&str>, message: String) -> Issue {
    Issue {
        code,
        severity,
        subject: subject.map(str::to_owned),
        message,
    }
}

/// Top-level JSON object kept as an ordered list of entries so that duplicate
/// names can be reported (a map would silently keep the last one).
struct Entries(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Entries, A::Error> {
                let mut v = Vec::new();
                while let Some((k, val)) = m.next_entry::<String, serde_json::Value>()? {
                    v.push((k, val));
                }
                Ok(Entries(v))
            }
        }
        d.deserialize_map(V)
    }
}

/// Parse and validate the JSON part of a header. `header_len` is the declared
/// `N` (used for offsets in messages).
pub fn parse_json(json: &[u8], header_len: u64) -> Result<SafetensorsHeader, SafetensorsError> {
    match json.first() {
        Some(b'{') => {}
        Some(&b) => return Err(SafetensorsError::InvalidHeaderStart { found: b }),
        None => {
            return Err(SafetensorsError::InvalidJson {
                offset: 8,
                message: "empty header".into(),
            });
        }
    }
    let text = std::str::from_utf8(json).map_err(|e| SafetensorsError::NotUtf8 {
        offset: 8 + e.valid_up_to() as u64,
    })?;
    let entries: Entries = serde_json::from_str(text).map_err(|e| {
        // The header is normally one line; turn line/column into a byte offset.
        let offset = line_col_to_offset(text, e.line(), e.column());
        SafetensorsError::InvalidJson {
            offset: 8 + offset as u64,
            message: e.to_string(),
        }
    })?;
    let mut issues = Vec::new();
    let mut metadata = BTreeMap::new();
    let mut tensors = Vec::new();
    let mut seen = BTreeSet::new();
    for (name, value) in entries.0 {
        if !seen.insert(name.clone()) {
            issues.push(issue(
                "duplicate-name",
                Severity::Error,
                Some(&name),
                format!("name {name:?} appears more than once in the header; loaders keep only one of them"),
            ));
            continue;
        }
        if name == "__metadata__" {
            match value {
                serde_json::Value::Object(m) => {
                    for (k, v) in m {
                        match v {
                            serde_json::Value::String(s) => {
                                metadata.insert(k, s);
                            }
                            other => issues.push(issue(
                                "metadata-not-string",
                                Severity::Error,
                                Some(&k),
                                format!(
                                    "__metadata__ value for {k:?} is {}, not a string",
                                    json_kind(&other)
                                ),
                            )),
                        }
                    }
                }
                other => issues.push(issue(
                    "metadata-not-object",
                    Severity::Error,
                    Some("__metadata__"),
                    format!(
                        "__metadata__ is {}, not an object of strings",
                        json_kind(&other)
                    ),
                )),
            }
            continue;
        }
        tensors.push(tensor_entry(name, value)?);
    }
    validate(&tensors, &mut issues)?;
    Ok(SafetensorsHeader {
        header_len,
        tensors,
        metadata,
        issues,
    })
}

fn line_col_to_offset(text: &str, line: usize, column: usize) -> usize {
    let mut off = 0usize;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            return off + column.saturating_sub(1);
        }
        off += l.len();
    }
    off
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn bad(name: &str, field: &'static str, detail: impl Into<String>) -> SafetensorsError {
    SafetensorsError::InvalidTensor {
        name: name.to_owned(),
        field,
        detail: detail.into(),
    }
}

fn tensor_entry(name: String, value: serde_json::Value) -> Result<TensorInfo, SafetensorsError> {
    let serde_json::Value::Object(obj) = value else {
        return Err(bad(
            &name,
            "(entry)",
            format!("is {}, expected an object", json_kind(&value)),
        ));
    };
    let dtype = match obj.get("dtype") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(v) => {
            return Err(bad(
                &name,
                "dtype",
                format!("is {}, expected a string", json_kind(v)),
            ));
        }
        None => return Err(bad(&name, "dtype", "is missing")),
    };
    let shape = match obj.get("shape") {
        Some(serde_json::Value::Array(a)) => {
            let mut s = Vec::with_capacity(a.len());
            for (i, d) in a.iter().enumerate() {
                match d.as_u64() {
                    Some(x) => s.push(x),
                    None => {
                        return Err(bad(
                            &name,
                            "shape",
                            format!(
                                "dimension {i} is {d}, expected a non-negative integer below 2^64"
                            ),
                        ));
                    }
                }
            }
            s
        }
        Some(v) => {
            return Err(bad(
                &name,
                "shape",
                format!("is {}, expected an array", json_kind(v)),
            ));
        }
        None => return Err(bad(&name, "shape", "is missing")),
    };
    let data_offsets = match obj.get("data_offsets") {
        Some(serde_json::Value::Array(a)) if a.len() == 2 => {
            let b = a.first().and_then(|v| v.as_u64());
            let e = a.get(1).and_then(|v| v.as_u64());
            match (b, e) {
                (Some(b), Some(e)) => (b, e),
                _ => {
                    return Err(bad(
                        &name,
                        "data_offsets",
                        format!(
                            "is {}, expected two non-negative integers",
                            serde_json::Value::Array(a.clone())
                        ),
                    ));
                }
            }
        }
        Some(v) => {
            return Err(bad(
                &name,
                "data_offsets",
                format!("is {v}, expected [begin, end]"),
            ));
        }
        None => return Err(bad(&name, "data_offsets", "is missing")),
    };
    let t = TensorInfo {
        name,
        dtype,
        shape,
        data_offsets,
    };
    if t.numel().is_none() {
        return Err(SafetensorsError::SizeOverflow {
            name: t.name,
            shape: t.shape,
        });
    }
    Ok(t)
}

fn validate(tensors: &[TensorInfo], issues: &mut Vec<Issue>) -> Result<(), SafetensorsError> {
    for t in tensors {
        let (b, e) = t.data_offsets;
        if e < b {
            issues.push(issue(
                "offsets-reversed",
                Severity::Error,
                Some(&t.name),
                format!("data_offsets [{b}, {e}]: end before begin"),
            ));
            continue;
        }
        let numel = t.numel().unwrap_or(0);
        match dtype_bits(&t.dtype) {
            None => issues.push(issue(
                "unknown-dtype",
                Severity::Error,
                Some(&t.name),
                format!("dtype {:?} is not a safetensors dtype", t.dtype),
            )),
            Some(bits) => {
                let Some(total_bits) = numel.checked_mul(bits) else {
                    return Err(SafetensorsError::SizeOverflow {
                        name: t.name.clone(),
                        shape: t.shape.clone(),
                    });
                };
                if total_bits % 8 != 0 {
                    issues.push(issue(
                        "misaligned-size",
                        Severity::Error,
                        Some(&t.name),
                        format!("{numel} elements × {bits} bits is not a whole number of bytes"),
                    ));
                } else if total_bits / 8 != e - b {
                    issues.push(issue(
                        "size-mismatch",
                        Severity::Error,
                        Some(&t.name),
                        format!(
                            "dtype {} × shape {:?} = {} bytes, but data_offsets [{b}, {e}] span {} bytes",
                            t.dtype,
                            t.shape,
                            total_bits / 8,
                            e - b
                        ),
                    ));
                }
            }
        }
    }
    // Contiguity: sorted by (begin, end), each must start where the previous ended, from 0.
    let mut order: Vec<&TensorInfo> = tensors
        .iter()
        .filter(|t| t.data_offsets.1 >= t.data_offsets.0)
        .collect();
    order.sort_by_key(|t| t.data_offsets);
    let mut cursor = 0u64;
    let mut prev: Option<&str> = None;
    for t in order {
        let (b, e) = t.data_offsets;
        if b > cursor {
            issues.push(issue(
                "offsets-hole",
                Severity::Error,
                Some(&t.name),
                format!(
                    "{} unreferenced bytes before this tensor (data [{cursor}, {b}) belongs to no tensor{})",
                    b - cursor,
                    prev.map(|p| format!("; previous tensor {p:?}")).unwrap_or_default()
                ),
            ));
        } else if b < cursor {
            issues.push(issue(
                "offsets-overlap",
                Severity::Error,
                Some(&t.name),
                format!(
                    "data [{b}, {e}) overlaps the previous tensor{} which ends at {cursor}",
                    prev.map(|p| format!(" {p:?}")).unwrap_or_default()
                ),
            ));
        }
        cursor = cursor.max(e);
        prev = Some(&t.name);
    }
    Ok(())
}

/// `model.safetensors.index.json` of a sharded checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShardIndex {
    /// `metadata.total_size` (bytes of tensor data) when present.
    pub total_size: Option<u64>,
    /// tensor name → shard file name.
    pub weight_map: BTreeMap<String, String>,
    pub issues: Vec<Issue>,
}

impl ShardIndex {
    /// Distinct shard file names, sorted.
    pub fn shards(&self) -> Vec<String> {
        let s: BTreeSet<&String> = self.weight_map.values().collect();
        s.into_iter().cloned().collect()
    }
}

/// Parse a `model.safetensors.index.json`. Shard names that could escape the
/// repository (absolute, `..`, backslashes) are reported as issues.
pub fn parse_index(bytes: &[u8]) -> Result<ShardIndex, SafetensorsError> {
    let v: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| SafetensorsError::InvalidIndex(format!("not JSON: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| SafetensorsError::InvalidIndex("top level is not an object".into()))?;
    let total_size = obj
        .get("metadata")
        .and_then(|m| m.get("total_size"))
        .and_then(|t| {
            t.as_u64().or_else(|| {
                t.as_f64()
                    .filter(|f| *f >= 0.0 && f.is_finite())
                    .map(|f| f as u64)
            })
        });
    let wm = obj
        .get("weight_map")
        .and_then(|w| w.as_object())
        .ok_or_else(|| SafetensorsError::InvalidIndex("missing `weight_map` object".into()))?;
    let mut weight_map = BTreeMap::new();
    let mut issues = Vec::new();
    for (k, f) in wm {
        let Some(f) = f.as_str() else {
            return Err(SafetensorsError::InvalidIndex(format!(
                "weight_map[{k:?}] is not a string"
            )));
        };
        if f.starts_with('/') || f.contains('\\') || f.split('/').any(|p| p == "..") {
            issues.push(issue(
                "shard-path-escapes",
                Severity::Error,
                Some(k),
                format!("shard file name {f:?} points outside the repository"),
            ));
        }
        weight_map.insert(k.clone(), f.to_owned());
    }
    Ok(ShardIndex {
        total_size,
        weight_map,
        issues,
    })
}

/// The declared header length `n` must be at most [`MAX_HEADER_SIZE`] and,
/// when the file's length is known, fit in the file after the 8-byte prefix.
fn check_header_len(n: u64, file_len: Option<u64>) -> Result<(), SafetensorsError> {
    if n > MAX_HEADER_SIZE {
        return Err(SafetensorsError::HeaderTooLarge {
            len: n,
            limit: MAX_HEADER_SIZE,
        });
    }
    if let Some(fl) = file_len
        && 8 + n > fl
    {
        return Err(SafetensorsError::HeaderBeyondFile {
            header_len: n,
            file_len: fl,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn file(json: &str, data_len: usize) -> Vec<u8> {
        let mut v = (json.len() as u64).to_le_bytes().to_vec();
        v.extend_from_slice(json.as_bytes());
        v.extend(std::iter::repeat_n(0u8, data_len));
        v
    }

    fn parse_full(b: &[u8]) -> Result<SafetensorsHeader, SafetensorsError> {
        match parse(b, Some(b.len() as u64))? {
            Parse::Complete(h) => Ok(h),
            Parse::NeedMore { total } => panic!("need more {total}"),
        }
    }

    #[test]
    fn valid_two_tensors() {
        let j = r#"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"BF16","shape":[3],"data_offsets":[16,22]}}"#;
        let h = parse_full(&file(j, 22)).unwrap();
        assert_eq!(h.tensors.len(), 2);
        assert!(h.issues.is_empty(), "{:?}", h.issues);
        assert_eq!(h.param_count(), 7);
        assert_eq!(h.metadata.get("format").map(String::as_str), Some("pt"));
        assert_eq!(h.params_by_dtype().get("BF16"), Some(&3));
    }

    #[test]
    fn hole_overlap_mismatch_are_issues() {
        let j = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"c":{"dtype":"F16","shape":[5],"data_offsets":[16,20]}}"#;
        let h = parse_full(&file(j, 20)).unwrap();
        let codes: Vec<_> = h.issues.iter().map(|i| i.code).collect();
        assert!(codes.contains(&"offsets-hole"), "{codes:?}");
        assert!(codes.contains(&"offsets-overlap"), "{codes:?}");
        assert!(codes.contains(&"size-mismatch"), "{codes:?}");
    }

    #[test]
    fn truncated_prefix_asks_for_more() {
        let j = r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
        let f = file(j, 4);
        assert_eq!(parse(&f[..5], None).unwrap(), Parse::NeedMore { total: 8 });
        assert_eq!(
            parse(&f[..20], None).unwrap(),
            Parse::NeedMore {
                total: 8 + j.len() as u64
            }
        );
        assert!(matches!(parse(&f, None).unwrap(), Parse::Complete(_)));
    }

    #[test]
    fn hostile_headers_are_errors() {
        // Truncated file.
        assert!(matches!(
            parse(&[1, 2, 3], Some(3)),
            Err(SafetensorsError::Truncated { .. })
        ));
        // Header length beyond the file.
        let mut f = 1000u64.to_le_bytes().to_vec();
        f.extend_from_slice(b"{}");
        assert!(matches!(
            parse(&f, Some(f.len() as u64)),
            Err(SafetensorsError::HeaderBeyondFile { .. })
        ));
        // Giant declared length.
        let f = u64::MAX.to_le_bytes();
        assert!(matches!(
            parse(&f, None),
            Err(SafetensorsError::HeaderTooLarge { .. })
        ));
        // Not an object.
        assert!(matches!(
            parse_full(&file("[1,2]", 0)),
            Err(SafetensorsError::InvalidHeaderStart { found: b'[' })
        ));
        assert!(matches!(
            parse_full(&file("{\"a\":1}", 0)),
            Err(SafetensorsError::InvalidTensor { .. })
        ));
        assert!(matches!(
            parse_full(&file("{\"a\":", 0)),
            Err(SafetensorsError::InvalidJson { .. })
        ));
        // Negative and overflowing dims.
        let neg = r#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#;
        assert!(matches!(
            parse_full(&file(neg, 4)),
            Err(SafetensorsError::InvalidTensor { field: "shape", .. })
        ));
        let big = r#"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#;
        assert!(matches!(
            parse_full(&file(big, 4)),
            Err(SafetensorsError::SizeOverflow { .. })
        ));
        let big2 = r#"{"a":{"dtype":"F64","shape":[4294967296,1073741824],"data_offsets":[0,4]}}"#;
        assert!(matches!(
            parse_full(&file(big2, 4)),
            Err(SafetensorsError::SizeOverflow { .. })
        ));
        let huge = r#"{"a":{"dtype":"F32","shape":[1e30],"data_offsets":[0,4]}}"#;
        assert!(matches!(
            parse_full(&file(huge, 4)),
            Err(SafetensorsError::InvalidTensor { .. })
        ));
    }

    #[test]
    fn invalid_json_reports_file_offset() {
        let j = r#"{"a":{"dtype":"F32" "shape":[1]}}"#;
        match parse_full(&file(j, 0)) {
            Err(SafetensorsError::InvalidJson { offset, .. }) => assert_eq!(offset, 8 + 20),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn trailing_bytes_and_truncated_data() {
        let j = r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
        let h = parse_full(&file(j, 10)).unwrap();
        assert_eq!(h.issues[0].code, "trailing-bytes");
        let h = parse_full(&file(j, 2)).unwrap();
        assert_eq!(h.issues[0].code, "data-beyond-file");
    }

    #[test]
    fn duplicate_names_reported() {
        let j = r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#;
        let h = parse_full(&file(j, 1)).unwrap();
        assert_eq!(h.issues[0].code, "duplicate-name");
    }

    #[test]
    fn index_parsing() {
        let j = br#"{"metadata":{"total_size":10},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors","c":"../evil.safetensors"}}"#;
        let ix = parse_index(j).unwrap();
        assert_eq!(ix.total_size, Some(10));
        assert_eq!(ix.shards().len(), 3);
        assert_eq!(ix.issues[0].code, "shard-path-escapes");
    }
}
