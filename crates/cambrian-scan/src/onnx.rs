//! ONNX external data: a minimal protobuf wire-format walk of
//! `ModelProto` → `GraphProto` (initializers, node attributes, subgraphs,
//! functions) → `TensorProto.external_data` entries, to find `location`
//! paths that escape the model's directory. No protobuf crate: only the
//! fields on that path are followed; everything else is skipped by length.
//!
//! Field numbers (onnx/onnx.proto3): ModelProto.graph = 7,
//! ModelProto.functions = 25; GraphProto.node = 1, .initializer = 5,
//! .sparse_initializer = 15; NodeProto.attribute = 5; FunctionProto.node = 7;
//! AttributeProto.t = 5, .g = 6, .tensors = 10, .graphs = 11,
//! .sparse_tensor = 22, .sparse_tensors = 23; SparseTensorProto.values = 1,
//! .indices = 2; TensorProto.name = 8, .external_data = 13,
//! .data_location = 14; StringStringEntryProto.key = 1, .value = 2.

use crate::source::{Source, read_vec};
use crate::{Finding, Level};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Msg {
    Model,
    Graph,
    Node,
    Function,
    Attribute,
    Sparse,
    Tensor,
    Entry,
}

fn children(m: Msg, field: u64) -> Option<Msg> {
    use Msg::*;
    Some(match (m, field) {
        (Model, 7) => Graph,
        (Model, 25) => Function,
        (Graph, 1) => Node,
        (Graph, 5) => Tensor,
        (Graph, 15) => Sparse,
        (Node, 5) => Attribute,
        (Function, 7) => Node,
        (Attribute, 5) | (Attribute, 10) => Tensor,
        (Attribute, 6) | (Attribute, 11) => Graph,
        (Attribute, 22) | (Attribute, 23) => Sparse,
        (Sparse, 1) | (Sparse, 2) => Tensor,
        (Tensor, 13) => Entry,
        _ => return None,
    })
}

/// An external-data reference found in the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalRef {
    pub tensor: String,
    pub location: String,
    pub offset: u64,
}

struct Walker<'a> {
    src: &'a dyn Source,
    refs: Vec<ExternalRef>,
    errors: Vec<String>,
    budget: u64,
}

impl Walker<'_> {
    fn read(&self, off: u64, n: u64) -> Option<Vec<u8>> {
        read_vec(self.src, off, n).ok()
    }

    fn varint(&self, off: &mut u64, end: u64) -> Option<u64> {
        let b = self.read(*off, 10.min(end.saturating_sub(*off)))?;
        let mut v = 0u64;
        for (i, &x) in b.iter().enumerate() {
            if i == 10 {
                return None;
            }
            v |= ((x & 0x7f) as u64) << (7 * i as u32).min(63);
            if x & 0x80 == 0 {
                *off += i as u64 + 1;
                return Some(v);
            }
        }
        None
    }

    /// Walk one message spanning [start, end). Returns (name, entry k/v).
    fn message(
        &mut self,
        m: Msg,
        start: u64,
        end: u64,
        depth: u32,
    ) -> (Option<String>, Vec<(String, String)>, Option<String>) {
        let mut off = start;
        let mut name = None;
        let mut entries = Vec::new();
        let (mut key, mut val) = (None, None);
        if depth > 64 {
            self.errors
                .push(format!("messages nested deeper than 64 at byte {start}"));
            return (None, entries, None);
        }
        while off < end {
            self.budget = self.budget.saturating_sub(1);
            if self.budget == 0 {
                self.errors.push("field budget exhausted".into());
                break;
            }
            let Some(tag) = self.varint(&mut off, end) else {
                self.errors.push(format!("bad varint at byte {off}"));
                break;
            };
            let (field, wire) = (tag >> 3, tag & 7);
            match wire {
                0 => {
                    if self.varint(&mut off, end).is_none() {
                        self.errors.push(format!("bad varint at byte {off}"));
                        break;
                    }
                }
                1 => off += 8,
                5 => off += 4,
                2 => {
                    let Some(len) = self.varint(&mut off, end) else {
                        self.errors.push(format!("bad length at byte {off}"));
                        break;
                    };
                    if len > end - off.min(end) {
                        self.errors.push(format!(
                            "field {field} at byte {off} claims {len} bytes past its message end"
                        ));
                        break;
                    }
                    let body = off;
                    off += len;
                    if let Some(child) = children(m, field) {
                        let (n, e, _) = self.message(child, body, body + len, depth + 1);
                        if m == Msg::Tensor && child == Msg::Entry {
                            entries.extend(e);
                        } else if child == Msg::Tensor {
                            for (k, v) in e {
                                if k == "location" {
                                    self.refs.push(ExternalRef {
                                        tensor: n.clone().unwrap_or_default(),
                                        location: v,
                                        offset: body,
                                    });
                                }
                            }
                        }
                    } else if (m == Msg::Tensor && field == 8)
                        || (m == Msg::Entry && (field == 1 || field == 2))
                    {
                        let s = self
                            .read(body, len.min(4096))
                            .map(|b| String::from_utf8_lossy(&b).into_owned());
                        match (m, field) {
                            (Msg::Tensor, _) => name = s,
                            (_, 1) => key = s,
                            _ => val = s,
                        }
                    }
                }
                _ => {
                    self.errors
                        .push(format!("unknown wire type {wire} at byte {off}"));
                    break;
                }
            }
        }
        if let (Some(k), Some(v)) = (key, val) {
            return (None, vec![(k, v)], None);
        }
        (name, entries, None)
    }
}

/// External-data references of an ONNX model, and wire-format errors.
pub fn external_refs(src: &dyn Source) -> (Vec<ExternalRef>, Vec<String>) {
    let mut w = Walker {
        src,
        refs: Vec::new(),
        errors: Vec::new(),
        budget: 50_000_000,
    };
    w.message(Msg::Model, 0, src.len(), 0);
    (w.refs, w.errors)
}

/// Does an external-data location leave the model directory?
pub fn escapes(location: &str) -> Option<&'static str> {
    if location.starts_with('/') || location.starts_with('\\') {
        return Some("absolute path");
    }
    let b = location.as_bytes();
    if b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
        return Some("drive-letter path");
    }
    if location.contains('\0') {
        return Some("NUL byte");
    }
    let mut depth: i64 = 0;
    for c in location.split(['/', '\\']) {
        match c {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return Some("'..' leaves the model directory");
                }
            }
            _ => depth += 1,
        }
    }
    None
}

pub fn scan_onnx(src: &dyn Source, member: Option<&str>, f: &mut Vec<Finding>) {
    let m = member.map(String::from);
    let (refs, errors) = external_refs(src);
    for r in &refs {
        if let Some(why) = escapes(&r.location) {
            f.push(
                Finding::new(
                    "onnx.external-data-escape",
                    Level::Dangerous,
                    format!("tensor {:?} reads external data from {:?} ({why}): loading reads a file outside the model directory", r.tensor, r.location),
                )
                .symbol(r.tensor.clone())
                .member(m.clone())
                .offset(r.offset),
            );
        }
    }
    if let Some(e) = errors.first() {
        f.push(
            Finding::new(
                "onnx.unreadable",
                Level::Unreadable,
                format!("protobuf wire format: {e}"),
            )
            .member(m),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ld(field: u64, body: &[u8]) -> Vec<u8> {
        let mut v = vec![((field << 3) | 2) as u8];
        let mut n = body.len() as u64;
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                v.push(b);
                break;
            }
            v.push(b | 0x80);
        }
        v.extend_from_slice(body);
        v
    }

    pub(crate) fn model_with_location(loc: &str) -> Vec<u8> {
        let entry = [ld(1, b"location"), ld(2, loc.as_bytes())].concat();
        let tensor = [ld(8, b"w"), ld(13, &entry), vec![14 << 3, 1]].concat();
        let graph = ld(5, &tensor);
        [vec![8, 7], ld(7, &graph)].concat()
    }

    #[test]
    fn finds_escaping_location() {
        let m = model_with_location("../../etc/passwd");
        let (refs, errs) = external_refs(&m);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0].tensor, "w");
        assert!(escapes(&refs[0].location).is_some());
        assert!(escapes("weights/w.bin").is_none());
        assert!(escapes("a/../../b").is_some());
    }
}
