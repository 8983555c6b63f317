//! The packed row encoding (schema v3) and the small hashing helpers of the
//! write path.
//!
//! A *row* is one model in one snapshot: its integer model key, 1-based rank,
//! volatile counters, category term ids and detail id. Rows are stored as
//! blobs of consecutive rows:
//!
//! * `seg` (complete snapshots): up to [`SEGMENT_ROWS`] rows sorted by model
//!   key, keyed by `(snapshot, first_key)`. A point lookup reads one segment;
//!   movers merge two snapshots' segment streams on keys.
//! * `pending` (in-progress snapshots): one blob per appended batch, in
//!   listing order. Completion sorts them into segments.
//!
//! Row layout (all integers LEB128 varints, little-endian groups of 7 bits):
//!
//! ```text
//! flags: u8            bit0 likes, bit1 dl30, bit2 dlall, bit3 trending present
//! key delta: zigzag    key - previous row's key (first row: key - 0)
//! rank: varint
//! likes, dl30, dlall:  varint each, only when present
//! trending: f64 LE     8 bytes, only when present
//! pipeline, library, family: varint term ids (0 = none)
//! detail: varint       id in `detail`
//! ```

use crate::error::StoreError;
use std::hash::{BuildHasher, Hasher};

/// Rows per segment of a complete snapshot.
pub(crate) const SEGMENT_ROWS: usize = 256;

/// One model in one snapshot, with interned categories.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Row {
    pub key: i64,
    pub rank: i64,
    pub likes: Option<i64>,
    pub dl30: Option<i64>,
    pub dlall: Option<i64>,
    pub trending: Option<f64>,
    pub pipeline: i64,
    pub library: i64,
    pub family: i64,
    pub detail: i64,
}

#[inline]
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Encode `rows` (in the given order) into `out` (appended).
pub(crate) fn encode_rows(rows: &[Row], out: &mut Vec<u8>) {
    let mut prev = 0i64;
    for r in rows {
        let flags = u8::from(r.likes.is_some())
            | u8::from(r.dl30.is_some()) << 1
            | u8::from(r.dlall.is_some()) << 2
            | u8::from(r.trending.is_some()) << 3;
        out.push(flags);
        let d = r.key.wrapping_sub(prev);
        put_varint(out, ((d << 1) ^ (d >> 63)) as u64);
        prev = r.key;
        put_varint(out, r.rank as u64);
        for v in [r.likes, r.dl30, r.dlall].into_iter().flatten() {
            put_varint(out, v as u64);
        }
        if let Some(t) = r.trending {
            out.extend_from_slice(&t.to_le_bytes());
        }
        put_varint(out, r.pipeline as u64);
        put_varint(out, r.library as u64);
        put_varint(out, r.family as u64);
        put_varint(out, r.detail as u64);
    }
}

/// Reads rows back from a blob written by [`encode_rows`].
pub(crate) struct RowReader<'a> {
    buf: &'a [u8],
    pos: usize,
    prev: i64,
}

fn corrupt(what: &str, pos: usize) -> StoreError {
    StoreError::BadInput(format!(
        "corrupt store: packed rows end inside {what} at byte {pos}"
    ))
}

impl<'a> RowReader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        RowReader {
            buf,
            pos: 0,
            prev: 0,
        }
    }

    #[inline]
    fn varint(&mut self, what: &str) -> Result<u64, StoreError> {
        let mut v = 0u64;
        let mut shift = 0u32;
        loop {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(corrupt(what, self.pos));
            };
            self.pos += 1;
            if shift >= 64 {
                return Err(StoreError::BadInput(format!(
                    "corrupt store: over-long varint in {what} at byte {}",
                    self.pos
                )));
            }
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
            shift += 7;
        }
    }

    #[inline]
    fn int(&mut self, what: &str) -> Result<i64, StoreError> {
        let v = self.varint(what)?;
        i64::try_from(v)
            .map_err(|_| StoreError::BadInput(format!("corrupt store: {what} {v} out of range")))
    }

    /// The next row, `None` at the end of the blob.
    #[inline]
    pub(crate) fn next_row(&mut self) -> Result<Option<Row>, StoreError> {
        let Some(&flags) = self.buf.get(self.pos) else {
            return Ok(None);
        };
        self.pos += 1;
        let z = self.varint("a model key")?;
        let d = ((z >> 1) as i64) ^ -((z & 1) as i64);
        let key = self.prev.wrapping_add(d);
        self.prev = key;
        let rank = self.int("a rank")?;
        let likes = if flags & 1 != 0 {
            Some(self.int("likes")?)
        } else {
            None
        };
        let dl30 = if flags & 2 != 0 {
            Some(self.int("downloads")?)
        } else {
            None
        };
        let dlall = if flags & 4 != 0 {
            Some(self.int("downloadsAllTime")?)
        } else {
            None
        };
        let trending = if flags & 8 != 0 {
            let b = self
                .buf
                .get(self.pos..self.pos + 8)
                .ok_or_else(|| corrupt("a trending score", self.pos))?;
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            self.pos += 8;
            Some(f64::from_le_bytes(a))
        } else {
            None
        };
        let pipeline = self.int("a pipeline term")?;
        let library = self.int("a library term")?;
        let family = self.int("a family term")?;
        let detail = self.int("a detail id")?;
        Ok(Some(Row {
            key,
            rank,
            likes,
            dl30,
            dlall,
            trending,
            pipeline,
            library,
            family,
            detail,
        }))
    }
}

/// Decode every row of a blob, appending to `out`.
pub(crate) fn decode_into(buf: &[u8], out: &mut Vec<Row>) -> Result<(), StoreError> {
    let mut r = RowReader::new(buf);
    while let Some(row) = r.next_row()? {
        out.push(row);
    }
    Ok(())
}

/// A fast, seeded hasher for the write path's in-memory maps (model names,
/// integer keys): 8 bytes per step with a 128-bit folded multiply. The seed
/// is random per process, so crafted model names cannot force collisions.
#[derive(Clone, Copy)]
pub(crate) struct FastState(u64);

impl Default for FastState {
    fn default() -> Self {
        // std's RandomState carries per-process random keys; draw a seed from it.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(0x5eed);
        FastState(h.finish() | 1)
    }
}

impl BuildHasher for FastState {
    type Hasher = FastHasher;
    fn build_hasher(&self) -> FastHasher {
        FastHasher(self.0)
    }
}

#[inline]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a).wrapping_mul(u128::from(b));
    (p as u64) ^ ((p >> 64) as u64)
}

const K1: u64 = 0x9E37_79B9_7F4A_7C15;
const K2: u64 = 0xD6E8_FEB8_6659_FD93;

pub(crate) struct FastHasher(u64);

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut a = [0u8; 8];
            a.copy_from_slice(c);
            self.0 = fold_mul(self.0 ^ u64::from_le_bytes(a), K1);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut a = [0u8; 8];
            a[..rest.len()].copy_from_slice(rest);
            self.0 = fold_mul(
                self.0 ^ u64::from_le_bytes(a) ^ ((rest.len() as u64) << 59),
                K1,
            );
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.0 = fold_mul(self.0 ^ u64::from(i), K2);
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0 = fold_mul(self.0 ^ i, K2);
    }
    #[inline]
    fn write_i64(&mut self, i: i64) {
        self.write_u64(i as u64);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        fold_mul(self.0, K2)
    }
}

pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, FastState>;

/// A stable 64-bit fingerprint builder (fixed seed, same on every run and
/// machine): stored in the database, so it must never change for a given
/// input. Fields are written length-prefixed into a reused buffer, which is
/// then hashed 32 bytes per step in four independent lanes.
pub(crate) struct Fp<'a>(&'a mut Vec<u8>);

impl<'a> Fp<'a> {
    pub(crate) fn new(buf: &'a mut Vec<u8>) -> Self {
        buf.clear();
        Fp(buf)
    }
    #[inline]
    pub(crate) fn str(&mut self, s: &str) {
        self.0.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.0.extend_from_slice(s.as_bytes());
    }
    #[inline]
    pub(crate) fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.0.push(0),
            Some(s) => {
                self.0.push(1);
                self.str(s);
            }
        }
    }
    #[inline]
    pub(crate) fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    #[inline]
    pub(crate) fn opt_u64(&mut self, v: Option<u64>) {
        match v {
            None => self.0.push(0),
            Some(v) => {
                self.0.push(1);
                self.u64(v);
            }
        }
    }
    pub(crate) fn list(&mut self, v: &[String]) {
        self.0.extend_from_slice(&(v.len() as u32).to_le_bytes());
        for s in v {
            self.str(s);
        }
    }
    pub(crate) fn finish(&self) -> i64 {
        hash_bytes(0x243F_6A88_85A3_08D3, self.0) as i64
    }
}

#[inline]
fn word(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        a.copy_from_slice(s);
    }
    u64::from_le_bytes(a)
}

/// A stable 64-bit hash of `b` (4 lanes of 128-bit folded multiplies).
pub(crate) fn hash_bytes(seed: u64, b: &[u8]) -> u64 {
    let (mut l0, mut l1, mut l2, mut l3) = (seed, seed ^ K1, seed ^ K2, seed.rotate_left(32));
    let mut blocks = b.chunks_exact(32);
    for c in &mut blocks {
        l0 = fold_mul(l0 ^ word(c, 0), K1);
        l1 = fold_mul(l1 ^ word(c, 8), K2);
        l2 = fold_mul(l2 ^ word(c, 16), K1);
        l3 = fold_mul(l3 ^ word(c, 24), K2);
    }
    let mut h = fold_mul(l0 ^ l1.rotate_left(17), K2) ^ fold_mul(l2 ^ l3.rotate_left(31), K1);
    let rest = blocks.remainder();
    let mut words = rest.chunks_exact(8);
    for c in &mut words {
        h = fold_mul(h ^ word(c, 0), K1);
    }
    let tail = words.remainder();
    let mut a = [0u8; 8];
    a[..tail.len()].copy_from_slice(tail);
    h = fold_mul(h ^ u64::from_le_bytes(a), K2);
    fold_mul(h ^ b.len() as u64, K1)
}

/// A set of model keys (small non-negative integers): one bit per key.
#[derive(Default, Debug, Clone)]
pub(crate) struct KeySet {
    bits: Vec<u64>,
    len: u64,
}

impl KeySet {
    /// Insert; `false` if already present. Keys outside 0..2^28 (268 M
    /// models; the bitset is then at most 32 MB) are refused as corrupt
    /// rather than allocating for them.
    pub(crate) fn insert(&mut self, key: i64) -> Result<bool, StoreError> {
        let k = u64::try_from(key)
            .ok()
            .filter(|k| *k < 1 << 28)
            .ok_or_else(|| StoreError::BadInput(format!("corrupt store: model key {key}")))?;
        let (w, b) = ((k / 64) as usize, k % 64);
        if w >= self.bits.len() {
            self.bits.resize((w + 1).max(self.bits.len() * 2), 0);
        }
        let word = &mut self.bits[w];
        let was = *word & (1 << b) != 0;
        *word |= 1 << b;
        self.len += u64::from(!was);
        Ok(!was)
    }
    pub(crate) fn len(&self) -> u64 {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: i64, rank: i64) -> Row {
        Row {
            key,
            rank,
            likes: Some(3),
            dl30: None,
            dlall: Some(1 << 40),
            trending: Some(1.5),
            pipeline: 2,
            library: 0,
            family: 7,
            detail: 99,
        }
    }

    #[test]
    fn rows_round_trip_in_any_key_order() {
        let mut rows = vec![row(5, 1), row(2, 2), row(i64::MAX, 3), row(0, 4)];
        rows[1].likes = None;
        rows[1].trending = None;
        rows[3].dl30 = Some(i64::MAX);
        let mut buf = Vec::new();
        encode_rows(&rows, &mut buf);
        let mut back = Vec::new();
        decode_into(&buf, &mut back).unwrap();
        assert_eq!(back, rows);
    }

    #[test]
    fn truncated_blobs_are_errors_not_panics() {
        let mut buf = Vec::new();
        encode_rows(&[row(300, 1), row(70_000, 2)], &mut buf);
        for cut in 1..buf.len() {
            let mut out = Vec::new();
            let r = decode_into(&buf[..cut], &mut out);
            // Either a clean prefix of whole rows (cut at a row boundary) or an error.
            if let Ok(()) = r {
                assert!(out.len() < 2, "cut {cut}");
            }
        }
        let mut out = Vec::new();
        assert!(
            decode_into(
                &[
                    0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
                ],
                &mut out
            )
            .is_err()
        );
    }

    #[test]
    fn fingerprint_is_stable() {
        let mut buf = Vec::new();
        let mut f = Fp::new(&mut buf);
        f.str("a/b");
        f.opt_u64(Some(7));
        f.list(&["x".to_string()]);
        // Stored in databases: this value must never change.
        assert_eq!(f.finish(), FP_OF_SAMPLE);
    }
    const FP_OF_SAMPLE: i64 = -2363420106703551930;

    #[test]
    fn key_set() {
        let mut k = KeySet::default();
        assert!(k.insert(5).unwrap());
        assert!(!k.insert(5).unwrap());
        assert!(k.insert(100_000).unwrap());
        assert_eq!(k.len(), 2);
        assert!(k.insert(-1).is_err());
        assert!(k.insert(1 << 28).is_err());
        assert!(k.insert((1 << 28) - 1).unwrap());
    }

    #[test]
    fn hash_depends_on_every_byte_and_the_length() {
        let base: Vec<u8> = (0..100u8).collect();
        let h = hash_bytes(1, &base);
        for i in 0..base.len() {
            let mut b = base.clone();
            b[i] ^= 1;
            assert_ne!(hash_bytes(1, &b), h, "byte {i}");
        }
        assert_ne!(hash_bytes(1, &base[..99]), h);
        assert_ne!(hash_bytes(1, &[0]), hash_bytes(1, &[0, 0]));
    }
}
