//! Schema v6: the per-model tables — names, details, each model's latest
//! detail — stored as blocks (one blob for many models) instead of one
//! SQLite row per model.
//!
//! Why: a first sync of 200,000 models inserted 200,000 `detail` rows and
//! 200,000 `model_new` rows (one B-tree insert each), then moved the names
//! into `model` under its unique name index at completion. Those per-model
//! inserts were most of a first ingest (bench/ingest, sync day 1: ≈ 1.0 s of
//! 1.2 s; docs/store.md). A batch now writes a handful of blobs.
//!
//! * `name_blk(first_key PK, n, data)`: the names of keys `first_key ..
//!   first_key + n - 1`, each as LEB128 length + UTF-8. Keys are assigned in
//!   order (max + 1), so a batch's new models are one run of keys.
//! * `detail_blk(first_id PK, n, data)`: details `first_id .. first_id + n
//!   - 1`, each as LEB128 model key + LEB128 length + the stored detail
//!   (binary since v5, or JSON written by v1–v4; see `record.rs`).
//! * `state(block PK, data)`: per model key, 16 bytes: its latest detail id
//!   (u64 LE; bit 63 set = fingerprint known; 0 = none) and that detail's
//!   fingerprint (i64 LE). Key `k` is slot `k % 1024` of block `k / 1024`.
//!   Read by the writer only; rewritten per touched block when a sync
//!   completes or an import commits.
//!
//! A block is closed at [`NAMES_PER_BLOCK`] / [`DETAILS_PER_BLOCK`] entries
//! or once its entries hold [`BLOCK_BYTES`]. A block's blob is one codec
//! byte and its entries: `0` = as they are, `1` = LZ4-compressed (block
//! format: u32 LE length of the entries, then the LZ4 block), used when it
//! saves at least an eighth. Why: a first ingest writes every detail once
//! through the WAL and once more at the checkpoint; details of neighbouring
//! models repeat tags, file names, licences and architectures, and LZ4 made
//! bench/ingest's details 2.5× smaller (73.6 → 29.7 MB per 200,000 models)
//! for ≈ 0.1 s of compression, and sync day 1 ≈ 1.3× faster (docs/store.md).
//! A point read finds the block with the largest first id not above the
//! wanted id. Every read is checked against the blob's end, the entry count
//! and the codec's lengths: a corrupt block is `BadInput("corrupt store:
//! …")`, never a panic.

use crate::error::{Ctx, StoreError};
use crate::packed::put_varint;
use rusqlite::{Connection, OptionalExtension, params};

/// Names per `name_blk` block at most.
pub(crate) const NAMES_PER_BLOCK: usize = 256;
/// Details per `detail_blk` block at most.
pub(crate) const DETAILS_PER_BLOCK: usize = 64;
/// A block is closed once its entries hold this many bytes.
pub(crate) const BLOCK_BYTES: usize = 12 * 1024;
/// Codec bytes of a block's blob.
const RAW: u8 = 0;
const LZ4: u8 = 1;
/// The largest entries a compressed block may claim (a corrupt length
/// must not allocate without bound): far above a block of details.
const MAX_ENTRIES_BYTES: usize = 256 << 20;
/// Model keys per `state` block.
pub(crate) const STATE_KEYS: i64 = 1024;
const STATE_ENTRY: usize = 16;
const FP_KNOWN: u64 = 1 << 63;

/// Which block table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Names,
    Details,
}

/// What differs between the two block tables.
struct Table {
    insert_sql: &'static str,
    /// The block holding an id: the largest first id not above it.
    find_sql: &'static str,
    /// Every block in id order.
    scan_sql: &'static str,
    max_sql: &'static str,
    max_entries: usize,
    /// SQLite error context and corruption texts.
    reading: &'static str,
    writing: &'static str,
    what: &'static str,
}

const NAMES: Table = Table {
    insert_sql: "INSERT INTO name_blk (first_key, n, data) VALUES (?1, ?2, ?3)",
    find_sql: "SELECT first_key, n, data FROM name_blk WHERE first_key <= ?1 ORDER BY first_key DESC LIMIT 1",
    scan_sql: "SELECT first_key, n, data FROM name_blk ORDER BY first_key",
    max_sql: "SELECT first_key + n - 1 FROM name_blk ORDER BY first_key DESC LIMIT 1",
    max_entries: NAMES_PER_BLOCK,
    reading: "reading model names",
    writing: "writing model names",
    what: "model names",
};

const DETAILS: Table = Table {
    insert_sql: "INSERT INTO detail_blk (first_id, n, data) VALUES (?1, ?2, ?3)",
    find_sql: "SELECT first_id, n, data FROM detail_blk WHERE first_id <= ?1 ORDER BY first_id DESC LIMIT 1",
    scan_sql: "SELECT first_id, n, data FROM detail_blk ORDER BY first_id",
    max_sql: "SELECT first_id + n - 1 FROM detail_blk ORDER BY first_id DESC LIMIT 1",
    max_entries: DETAILS_PER_BLOCK,
    reading: "reading details",
    writing: "writing details",
    what: "details",
};

impl Kind {
    fn table(self) -> &'static Table {
        match self {
            Kind::Names => &NAMES,
            Kind::Details => &DETAILS,
        }
    }
}

/// The largest id stored in a block table (0 when empty).
pub(crate) fn max_id(conn: &Connection, kind: Kind) -> Result<i64, StoreError> {
    conn.prepare_cached(kind.table().max_sql)
        .and_then(|mut st| st.query_row([], |r| r.get::<_, i64>(0)).optional())
        .map(|o| o.unwrap_or(0))
        .ctx("reading the dictionary sizes")
}

/// Entries with consecutive ids gathered into blocks and inserted as each
/// block fills up; [`BlockWriter::flush`] writes the last one. Used inside
/// the caller's write transaction.
pub(crate) struct BlockWriter {
    kind: Kind,
    first: i64,
    n: usize,
    /// The entries of the block being filled.
    buf: Vec<u8>,
    /// The blob written (codec byte + entries or their compression).
    out: Vec<u8>,
}

impl BlockWriter {
    pub(crate) fn new(kind: Kind) -> Self {
        BlockWriter {
            kind,
            first: 0,
            n: 0,
            buf: Vec::with_capacity(BLOCK_BYTES + 1024),
            out: Vec::new(),
        }
    }

    /// Add the name of model `key`.
    pub(crate) fn name(&mut self, tx: &Connection, key: i64, name: &str) -> Result<(), StoreError> {
        self.start(tx, key)?;
        put_varint(&mut self.buf, name.len() as u64);
        self.buf.extend_from_slice(name.as_bytes());
        self.added(tx)
    }

    /// Add detail `id` of model `key` (its stored bytes).
    pub(crate) fn detail(
        &mut self,
        tx: &Connection,
        id: i64,
        key: i64,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        self.start(tx, id)?;
        put_varint(&mut self.buf, key as u64);
        put_varint(&mut self.buf, bytes.len() as u64);
        self.buf.extend_from_slice(bytes);
        self.added(tx)
    }

    /// Entry `id` begins: a block holds one run of ids, so an id that does
    /// not follow the previous one starts a new block.
    fn start(&mut self, tx: &Connection, id: i64) -> Result<(), StoreError> {
        if self.n > 0 && id != self.first + self.n as i64 {
            self.flush(tx)?;
        }
        if self.n == 0 {
            self.first = id;
        }
        Ok(())
    }

    fn added(&mut self, tx: &Connection) -> Result<(), StoreError> {
        self.n += 1;
        if self.n >= self.kind.table().max_entries || self.buf.len() >= BLOCK_BYTES {
            self.flush(tx)?;
        }
        Ok(())
    }

    /// Insert the block being filled, if any.
    pub(crate) fn flush(&mut self, tx: &Connection) -> Result<(), StoreError> {
        if self.n == 0 {
            return Ok(());
        }
        encode_block(&self.buf, &mut self.out);
        tx.prepare_cached(self.kind.table().insert_sql)
            .and_then(|mut st| st.execute(params![self.first, self.n as i64, &self.out[..]]))
            .ctx(self.kind.table().writing)?;
        self.buf.clear();
        self.n = 0;
        Ok(())
    }
}

/// A block's blob from its entries: compressed when that saves an eighth.
fn encode_block(entries: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let len = u32::try_from(entries.len())
        .ok()
        .filter(|_| entries.len() >= 64);
    if let Some(len) = len {
        let max = lz4_flex::block::get_maximum_output_size(entries.len());
        out.resize(5 + max, 0);
        out[0] = LZ4;
        out[1..5].copy_from_slice(&len.to_le_bytes());
        if let Ok(n) = lz4_flex::block::compress_into(entries, &mut out[5..])
            && 5 + n <= entries.len() - entries.len() / 8
        {
            out.truncate(5 + n);
            return;
        }
        out.clear();
    }
    out.push(RAW);
    out.extend_from_slice(entries);
}

/// The entries of a block's blob (decompressed into `scratch` if needed).
fn block_entries<'a>(
    kind: Kind,
    first: i64,
    blob: &'a [u8],
    scratch: &'a mut Vec<u8>,
) -> Result<&'a [u8], StoreError> {
    match blob.split_first() {
        Some((&RAW, entries)) => Ok(entries),
        Some((&LZ4, rest)) if rest.len() >= 4 => {
            let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            if len > MAX_ENTRIES_BYTES {
                return Err(corrupt(
                    kind.table().what,
                    first,
                    format_args!("claims {len} bytes"),
                ));
            }
            scratch.clear();
            scratch.resize(len, 0);
            match lz4_flex::block::decompress_into(&rest[4..], scratch) {
                Ok(n) if n == len => Ok(&scratch[..]),
                Ok(n) => Err(corrupt(
                    kind.table().what,
                    first,
                    format_args!("decompresses to {n} bytes, not {len}"),
                )),
                Err(e) => Err(corrupt(
                    kind.table().what,
                    first,
                    format_args!("does not decompress: {e}"),
                )),
            }
        }
        Some((&c, _)) => Err(corrupt(
            kind.table().what,
            first,
            format_args!("has codec {c}"),
        )),
        None => Err(corrupt(kind.table().what, first, "is empty")),
    }
}

/// The block of a `SELECT first, n, data` result row.
fn row_block<'a>(
    row: &'a rusqlite::Row<'_>,
    kind: Kind,
    scratch: &'a mut Vec<u8>,
) -> Result<BlockReader<'a>, StoreError> {
    let what = kind.table().reading;
    let (first, n): (i64, i64) = (row.get(0).ctx(what)?, row.get(1).ctx(what)?);
    let data = block_entries(kind, first, crate::blob(row, 2)?, scratch)?;
    Ok(BlockReader::new(kind, first, n, data))
}

fn corrupt(what: &str, first: i64, detail: impl std::fmt::Display) -> StoreError {
    StoreError::BadInput(format!(
        "corrupt store: the block of {what} starting at id {first} {detail}"
    ))
}

/// One block entry: its id, model key (details; 0 for names) and bytes.
pub(crate) type Entry<'a> = (i64, i64, &'a [u8]);

/// The entries of one block, in id order, each read with bounds checks.
pub(crate) struct BlockReader<'a> {
    kind: Kind,
    first: i64,
    n: i64,
    data: &'a [u8],
    pos: usize,
    index: i64,
}

impl<'a> BlockReader<'a> {
    pub(crate) fn new(kind: Kind, first: i64, n: i64, data: &'a [u8]) -> Self {
        BlockReader {
            kind,
            first,
            n,
            data,
            pos: 0,
            index: 0,
        }
    }

    fn varint(&mut self) -> Result<u64, StoreError> {
        let mut v = 0u64;
        let mut shift = 0u32;
        loop {
            let Some(&b) = self.data.get(self.pos) else {
                return Err(self.cut());
            };
            self.pos += 1;
            if shift >= 64 {
                return Err(corrupt(
                    self.kind.table().what,
                    self.first,
                    format_args!("has an over-long varint at byte {}", self.pos),
                ));
            }
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
            shift += 7;
        }
    }

    fn cut(&self) -> StoreError {
        corrupt(
            self.kind.table().what,
            self.first,
            format_args!(
                "ends inside entry {} of {} (byte {})",
                self.index + 1,
                self.n,
                self.pos
            ),
        )
    }

    fn bytes(&mut self) -> Result<&'a [u8], StoreError> {
        let len = self.varint()?;
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| self.pos.checked_add(l))
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| self.cut())?;
        let b = &self.data[self.pos..end];
        self.pos = end;
        Ok(b)
    }

    /// The next entry: its id, model key (details only; 0 for names) and
    /// bytes; `None` after the last. Trailing bytes or fewer entries than
    /// the block's count are corruption.
    pub(crate) fn next_entry(&mut self) -> Result<Option<Entry<'a>>, StoreError> {
        if self.index >= self.n {
            if self.pos != self.data.len() {
                return Err(corrupt(
                    self.kind.table().what,
                    self.first,
                    format_args!(
                        "has {} bytes after its last entry",
                        self.data.len() - self.pos
                    ),
                ));
            }
            return Ok(None);
        }
        let key = match self.kind {
            Kind::Names => 0,
            Kind::Details => i64::try_from(self.varint()?).map_err(|_| {
                corrupt(
                    self.kind.table().what,
                    self.first,
                    "holds a model key out of range",
                )
            })?,
        };
        let bytes = self.bytes()?;
        let id = self.first + self.index;
        self.index += 1;
        Ok(Some((id, key, bytes)))
    }

    /// The next name (names blocks).
    pub(crate) fn next_name(&mut self) -> Result<Option<(i64, &'a str)>, StoreError> {
        let Some((id, _, b)) = self.next_entry()? else {
            return Ok(None);
        };
        let name = std::str::from_utf8(b).map_err(|_| {
            corrupt(
                self.kind.table().what,
                self.first,
                format_args!("holds a name that is not UTF-8 (key {id})"),
            )
        })?;
        Ok(Some((id, name)))
    }

    /// Back to the first entry.
    fn rewind(&mut self) {
        (self.pos, self.index) = (0, 0);
    }

    /// Skip to entry `id` and return it.
    fn seek(&mut self, id: i64) -> Result<Option<(i64, &'a [u8])>, StoreError> {
        if id < self.first || id >= self.first + self.n {
            return Ok(None);
        }
        while let Some((i, key, b)) = self.next_entry()? {
            if i == id {
                return Ok(Some((key, b)));
            }
        }
        Ok(None)
    }
}

/// Call `f(position, key, bytes)` for every `(id, position)` in `wanted`,
/// which must be sorted by id: each block is read (and decompressed) once
/// for all the wanted ids it holds. An id in no block is
/// `BadInput` naming `what_missing(position)`.
pub(crate) fn for_each_detail(
    conn: &Connection,
    wanted: &[(i64, usize)],
    mut what_missing: impl FnMut(usize) -> String,
    mut f: impl FnMut(usize, i64, &[u8]) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let kind = Kind::Details;
    let mut st = conn
        .prepare_cached(kind.table().find_sql)
        .ctx("reading details")?;
    let mut scratch = Vec::new();
    let mut i = 0;
    while let Some(&(id, pos)) = wanted.get(i) {
        let mut rows = st.query([id]).ctx("reading details")?;
        let row = rows.next().ctx("reading details")?;
        let Some(row) = row else {
            return Err(missing(id, what_missing(pos)));
        };
        let mut rd = row_block(row, kind, &mut scratch)?;
        let (first, n) = (rd.first, rd.n);
        let before = i;
        while let Some(&(id, pos)) = wanted.get(i) {
            if id >= first + n {
                break;
            }
            let Some((key, b)) = rd.seek(id)? else {
                return Err(missing(id, what_missing(pos)));
            };
            f(pos, key, b)?;
            i += 1;
            // The same detail wanted twice: read it again from the block start.
            if wanted.get(i).is_some_and(|&(next, _)| next == id) {
                rd.rewind();
            }
        }
        if i == before {
            return Err(missing(id, what_missing(pos)));
        }
    }
    Ok(())
}

fn missing(id: i64, what: String) -> StoreError {
    StoreError::BadInput(format!("corrupt store: detail {id} of {what} is missing"))
}

/// One stored detail by id, copied out (`None`: no such detail).
pub(crate) fn detail_bytes(conn: &Connection, id: i64) -> Result<Option<Vec<u8>>, StoreError> {
    let mut out = None;
    let mut st = conn
        .prepare_cached(Kind::Details.table().find_sql)
        .ctx("reading details")?;
    let mut rows = st.query([id]).ctx("reading details")?;
    if let Some(row) = rows.next().ctx("reading details")? {
        let mut scratch = Vec::new();
        out = row_block(row, Kind::Details, &mut scratch)?
            .seek(id)?
            .map(|(_, b)| b.to_vec());
    }
    Ok(out)
}

/// Call `f(key, name)` for every stored model name, in key order, until it
/// returns `false`.
pub(crate) fn scan_names(
    conn: &Connection,
    mut f: impl FnMut(i64, &str) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    scan_blocks(conn, Kind::Names, |rd| {
        while let Some((key, name)) = rd.next_name()? {
            if !f(key, name)? {
                return Ok(false);
            }
        }
        Ok(true)
    })
}

/// [`scan_names`] without checking each name's UTF-8 (for comparing with a
/// given name: bytes that are not UTF-8 equal no `&str`).
pub(crate) fn scan_name_bytes(
    conn: &Connection,
    mut f: impl FnMut(i64, &[u8]) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    scan_blocks(conn, Kind::Names, |rd| {
        while let Some((key, _, name)) = rd.next_entry()? {
            if !f(key, name)? {
                return Ok(false);
            }
        }
        Ok(true)
    })
}

/// Hand each block's reader to `f`, in id order, until it returns `false`.
fn scan_blocks(
    conn: &Connection,
    kind: Kind,
    mut f: impl FnMut(&mut BlockReader<'_>) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    let t = kind.table();
    let mut scratch = Vec::new();
    crate::each_row(conn, t.scan_sql, t.reading, |row| {
        f(&mut row_block(row, kind, &mut scratch)?)
    })
}

/// Call `f(id, model key)` for every stored detail, in id order.
pub(crate) fn scan_details(
    conn: &Connection,
    mut f: impl FnMut(i64, i64) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    scan_blocks(conn, Kind::Details, |rd| {
        while let Some((id, key, _)) = rd.next_entry()? {
            f(id, key)?;
        }
        Ok(true)
    })
}

/// The name of model `key`, if stored.
pub(crate) fn name_of(conn: &Connection, key: i64) -> Result<Option<String>, StoreError> {
    let mut st = conn
        .prepare_cached(Kind::Names.table().find_sql)
        .ctx("reading model names")?;
    let mut rows = st.query([key]).ctx("reading model names")?;
    let Some(row) = rows.next().ctx("reading model names")? else {
        return Ok(None);
    };
    let mut scratch = Vec::new();
    let mut rd = row_block(row, Kind::Names, &mut scratch)?;
    if key < rd.first || key >= rd.first + rd.n {
        return Ok(None);
    }
    while let Some((k, name)) = rd.next_name()? {
        if k == key {
            return Ok(Some(name.to_string()));
        }
    }
    Ok(None)
}

/// A model's latest detail as the writer records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct State {
    pub key: i64,
    pub detail: i64,
    /// `None`: fingerprint not known (recomputed from the stored detail).
    pub fp: Option<i64>,
}

fn state_block_of(key: i64) -> Result<(i64, usize), StoreError> {
    if key < 0 {
        return Err(StoreError::BadInput(format!(
            "corrupt store: model key {key}"
        )));
    }
    Ok((key / STATE_KEYS, (key % STATE_KEYS) as usize * STATE_ENTRY))
}

fn read_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        a.copy_from_slice(s);
    }
    u64::from_le_bytes(a)
}

/// Call `f` for every recorded model state, in key order.
pub(crate) fn load_states(
    conn: &Connection,
    mut f: impl FnMut(State) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let sql = "SELECT block, data FROM state ORDER BY block";
    crate::each_row(conn, sql, "loading model states", |row| {
        let block: i64 = row.get(0).ctx("loading model states")?;
        let data = crate::blob(row, 1)?;
        if data.len() % STATE_ENTRY != 0 || data.len() > STATE_KEYS as usize * STATE_ENTRY {
            return Err(StoreError::BadInput(format!(
                "corrupt store: model state block {block} has {} bytes",
                data.len()
            )));
        }
        for (slot, e) in data.chunks_exact(STATE_ENTRY).enumerate() {
            let d = read_u64(e, 0);
            if d == 0 {
                continue;
            }
            f(State {
                key: block * STATE_KEYS + slot as i64,
                detail: (d & !FP_KNOWN) as i64,
                fp: (d & FP_KNOWN != 0).then(|| read_u64(e, 8) as i64),
            })?;
        }
        Ok(true)
    })
}

/// Record model states (any order; the latest detail per model wins, and a
/// stored detail newer than the given one — written meanwhile by another
/// process — is kept). Each touched block is read, patched and rewritten once.
pub(crate) fn write_states(tx: &Connection, mut states: Vec<State>) -> Result<(), StoreError> {
    states.sort_unstable_by_key(|s| (s.key, s.detail));
    let mut get = tx
        .prepare_cached("SELECT data FROM state WHERE block = ?1")
        .ctx("recording models' latest details")?;
    let mut put = tx
        .prepare_cached("INSERT OR REPLACE INTO state (block, data) VALUES (?1, ?2)")
        .ctx("recording models' latest details")?;
    let mut i = 0;
    while let Some(s) = states.get(i) {
        let (block, _) = state_block_of(s.key)?;
        let mut data: Vec<u8> = get
            .query_row([block], |r| r.get(0))
            .optional()
            .ctx("recording models' latest details")?
            .unwrap_or_default();
        while let Some(s) = states.get(i) {
            let (b, at) = state_block_of(s.key)?;
            if b != block {
                break;
            }
            i += 1;
            if states.get(i).is_some_and(|n| n.key == s.key) {
                continue; // a later detail of the same model follows
            }
            if data.len() < at + STATE_ENTRY {
                data.resize(at + STATE_ENTRY, 0);
            }
            let old = (read_u64(&data, at) & !FP_KNOWN) as i64;
            if old > s.detail {
                continue;
            }
            let d = s.detail as u64 | if s.fp.is_some() { FP_KNOWN } else { 0 };
            data[at..at + 8].copy_from_slice(&d.to_le_bytes());
            data[at + 8..at + 16].copy_from_slice(&s.fp.unwrap_or(0).to_le_bytes());
        }
        put.execute(params![block, data])
            .ctx("recording models' latest details")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(crate::schema::V6_TABLES).unwrap();
        c
    }

    /// The first column of every row of `sql`.
    fn column<T: rusqlite::types::FromSql>(c: &Connection, sql: &str) -> Vec<T> {
        let mut st = c.prepare(sql).unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn names_and_details_round_trip_across_blocks_and_gaps() {
        let c = db();
        let mut names = BlockWriter::new(Kind::Names);
        let mut details = BlockWriter::new(Kind::Details);
        let mut keys: Vec<i64> = (1..=600).collect();
        keys.extend(1000..1010); // a gap starts a new block
        for &k in &keys {
            names.name(&c, k, &format!("org/ü-{k}")).unwrap();
            let body = vec![(k % 251) as u8; (k % 700) as usize];
            details.detail(&c, k * 2, k, &body).unwrap_or(());
        }
        names.flush(&c).unwrap();
        details.flush(&c).unwrap();
        assert_eq!(max_id(&c, Kind::Names).unwrap(), 1009);
        assert_eq!(max_id(&c, Kind::Details).unwrap(), 2018);
        let blocks: i64 = c
            .query_row("SELECT count(*) FROM name_blk", [], |r| r.get(0))
            .unwrap();
        assert_eq!(blocks, 4, "256 + 256 + 88, then the run after the gap");
        let mut seen = Vec::new();
        scan_names(&c, |k, n| {
            assert_eq!(n, format!("org/ü-{k}"));
            seen.push(k);
            Ok(true)
        })
        .unwrap();
        assert_eq!(seen, keys);
        assert_eq!(name_of(&c, 300).unwrap().as_deref(), Some("org/ü-300"));
        assert_eq!(name_of(&c, 700).unwrap(), None);
        assert_eq!(name_of(&c, 0).unwrap(), None);
        // Details: every id even (ids 2k), so each block holds one entry.
        let mut wanted: Vec<(i64, usize)> = [1200, 2, 2, 2018, 600]
            .iter()
            .enumerate()
            .map(|(p, &id)| (id, p))
            .collect();
        wanted.sort();
        let mut got = vec![None; 5];
        for_each_detail(
            &c,
            &wanted,
            |p| format!("pos {p}"),
            |p, key, b| {
                got[p] = Some((key, b.len()));
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(
            got,
            [600, 1, 1, 1009, 300].map(|k: i64| Some((k, (k % 700) as usize)))
        );
        assert_eq!(detail_bytes(&c, 3).unwrap(), None);
        assert_eq!(detail_bytes(&c, 4).unwrap(), Some(vec![2; 2]));
        let e = for_each_detail(&c, &[(3, 0)], |_| "m".into(), |_, _, _| Ok(())).unwrap_err();
        assert!(e.to_string().contains("detail 3 of m is missing"), "{e}");
    }

    #[test]
    fn consecutive_details_share_blocks_closed_by_count_or_bytes() {
        let c = db();
        let mut w = BlockWriter::new(Kind::Details);
        for id in 1..=200 {
            let size = if id > 100 { 3000 } else { 10 };
            w.detail(&c, id, id + 7, &vec![1u8; size]).unwrap();
        }
        w.flush(&c).unwrap();
        let ns: Vec<i64> = column(&c, "SELECT n FROM detail_blk ORDER BY first_id");
        // 64 small ones, then 36 small + 3 large reach 12 KiB, then 4 large per block.
        assert_eq!(ns[0], 64);
        assert!(ns.iter().skip(2).all(|&n| n <= 5), "{ns:?}");
        assert_eq!(ns.iter().sum::<i64>(), 200);
        let all: Vec<(i64, usize)> = (1..=200).map(|i| (i, i as usize)).collect();
        let mut n = 0;
        for_each_detail(
            &c,
            &all,
            |_| String::new(),
            |p, key, b| {
                assert_eq!(key, p as i64 + 7);
                assert_eq!(b.len(), if p > 100 { 3000 } else { 10 });
                n += 1;
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(n, 200);
    }

    #[test]
    fn a_cut_or_altered_block_is_an_error_never_a_panic() {
        let c = db();
        let mut w = BlockWriter::new(Kind::Names);
        for k in 1..=5 {
            w.name(&c, k, &format!("a/{k}")).unwrap();
        }
        w.flush(&c).unwrap();
        let blob: Vec<u8> = c
            .query_row("SELECT data FROM name_blk", [], |r| r.get(0))
            .unwrap();
        assert_eq!(blob[0], RAW, "too small to compress");
        let data = &blob[1..];
        for cut in 0..data.len() {
            let mut rd = BlockReader::new(Kind::Names, 1, 5, &data[..cut]);
            let mut r = Ok(None);
            for _ in 0..6 {
                r = rd.next_name().map(|o| o.map(|(k, _)| k));
                if !matches!(r, Ok(Some(_))) {
                    break;
                }
            }
            assert!(r.is_err(), "cut at {cut}");
        }
        // A longer block than its count, a count larger than its entries, invalid UTF-8.
        let mut longer = data.to_vec();
        longer.push(0);
        for (d, n) in [(&longer[..], 5), (data, 6)] {
            let mut rd = BlockReader::new(Kind::Names, 1, n, d);
            let mut r = Ok(None);
            for _ in 0..7 {
                r = rd.next_name().map(|o| o.map(|(k, _)| k));
                if !matches!(r, Ok(Some(_))) {
                    break;
                }
            }
            assert!(r.unwrap_err().to_string().contains("corrupt store"));
        }
        let mut bad = data.to_vec();
        bad[1] = 0xFF;
        let mut rd = BlockReader::new(Kind::Names, 1, 5, &bad);
        assert!(
            rd.next_name()
                .unwrap_err()
                .to_string()
                .contains("not UTF-8")
        );
        let mut rd = BlockReader::new(Kind::Details, 1, 1, &[0xFF; 12]);
        assert!(
            rd.next_entry()
                .unwrap_err()
                .to_string()
                .contains("over-long")
        );
    }

    #[test]
    fn blocks_are_compressed_when_it_pays_and_corrupt_codecs_are_errors() {
        let c = db();
        let mut w = BlockWriter::new(Kind::Details);
        // Repetitive details compress; random-looking bytes stay raw.
        let mut noise = 0x2545_f491_4f6c_dd1du64;
        let random: Vec<u8> = (0..3000)
            .map(|_| {
                noise ^= noise << 13;
                noise ^= noise >> 7;
                noise ^= noise << 17;
                noise as u8
            })
            .collect();
        for id in 1..=10 {
            w.detail(
                &c,
                id,
                id,
                b"transformers safetensors region:us license:apache-2.0",
            )
            .unwrap();
        }
        w.flush(&c).unwrap();
        w.detail(&c, 11, 11, &random).unwrap();
        w.flush(&c).unwrap();
        let blobs: Vec<Vec<u8>> = column(&c, "SELECT data FROM detail_blk ORDER BY first_id");
        assert_eq!(blobs[0][0], LZ4);
        assert!(blobs[0].len() < 10 * 50 / 3, "{}", blobs[0].len());
        assert_eq!(blobs[1][0], RAW);
        let all: Vec<(i64, usize)> = (1..=11).map(|i| (i, i as usize)).collect();
        let mut n = 0;
        for_each_detail(
            &c,
            &all,
            |_| String::new(),
            |p, _, b| {
                assert_eq!(b.len(), if p == 11 { 3000 } else { 53 });
                n += 1;
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(n, 11);
        // Every cut of the compressed blob, a wrong length, an unknown codec: errors.
        let mut scratch = Vec::new();
        for cut in 0..blobs[0].len() {
            let r =
                block_entries(Kind::Details, 1, &blobs[0][..cut], &mut scratch).map(|e| e.len());
            assert!(r.is_err() || r.is_ok_and(|l| l != 10 * 55), "cut at {cut}");
        }
        let mut wrong = blobs[0].clone();
        wrong[1] ^= 1;
        assert!(block_entries(Kind::Details, 1, &wrong, &mut scratch).is_err());
        let mut huge = blobs[0].clone();
        huge[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        let e = block_entries(Kind::Details, 1, &huge, &mut scratch).unwrap_err();
        assert!(e.to_string().contains("claims"), "{e}");
        let e = block_entries(Kind::Details, 1, &[7, 0], &mut scratch).unwrap_err();
        assert!(e.to_string().contains("codec 7"), "{e}");
    }

    #[test]
    fn states_keep_the_latest_detail_per_model() {
        let c = db();
        let s = |key, detail, fp| State { key, detail, fp };
        write_states(
            &c,
            vec![
                s(5, 10, Some(-1)),
                s(2000, 3, None),
                s(5, 12, Some(7)),
                s(1, 1, Some(0)),
            ],
        )
        .unwrap();
        // An older detail than the stored one is ignored; a newer one replaces it.
        write_states(&c, vec![s(5, 11, Some(9)), s(2000, 4, Some(i64::MIN))]).unwrap();
        let mut got = Vec::new();
        load_states(&c, |st| {
            got.push(st);
            Ok(())
        })
        .unwrap();
        assert_eq!(
            got,
            vec![
                s(1, 1, Some(0)),
                s(5, 12, Some(7)),
                s(2000, 4, Some(i64::MIN))
            ]
        );
        c.execute("UPDATE state SET data = x'00' WHERE block = 0", [])
            .unwrap();
        let e = load_states(&c, |_| Ok(())).unwrap_err();
        assert!(e.to_string().contains("corrupt store"), "{e}");
        assert!(write_states(&c, vec![s(-1, 1, None)]).is_err());
    }
}
