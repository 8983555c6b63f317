//! The offline dataset embedded in the binary: real Hub snapshot archives
//! (`bundled/snapshots.bundle.gz`, provenance in `bundled/ATTRIBUTION.md`).
//!
//! Container (gzip of): `b"CAMBUNDLE1\n"`, then per file a u32 LE name length, the
//! UTF-8 relative path, a u64 LE data length and the file's bytes unchanged. Built by
//! `bundled/build_bundle.py`. Parsed with bounds checks; decompression is capped.

use super::archive::{self, ArchiveIndex, ParsedFile, ParsedSnapshot};
use crate::{Error, Result};
use std::collections::HashMap;
use std::io::Read;

static BUNDLE: &[u8] = include_bytes!("../../bundled/snapshots.bundle.gz");

const MAGIC: &[u8] = b"CAMBUNDLE1\n";
/// Cap on the decompressed size (the real bundle is ~3.7 MB).
const MAX_RAW: u64 = 64 * 1024 * 1024;

/// One file of the bundle.
#[derive(Debug)]
pub struct BundledFile {
    pub path: String,
    pub bytes: Vec<u8>,
}

fn corrupt(what: &str) -> Error {
    Error::internal(format!("the bundled dataset is corrupt: {what}"))
}

/// Decode a bundle container (gzip-compressed).
pub fn decode(gz: &[u8]) -> Result<Vec<BundledFile>> {
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .take(MAX_RAW + 1)
        .read_to_end(&mut raw)
        .map_err(|e| corrupt(&format!("gzip: {e}")))?;
    if raw.len() as u64 > MAX_RAW {
        return Err(corrupt("larger than 64 MiB"));
    }
    let mut rest = raw
        .strip_prefix(MAGIC)
        .ok_or_else(|| corrupt("bad magic"))?;
    let mut files = Vec::new();
    while !rest.is_empty() {
        let (len, r) = take_u(rest, 4)?;
        let (name, r) = take(r, len)?;
        let (dlen, r) = take_u(r, 8)?;
        let (data, r) = take(r, dlen)?;
        let path = std::str::from_utf8(name)
            .map_err(|_| corrupt("file name is not UTF-8"))?
            .to_string();
        files.push(BundledFile {
            path,
            bytes: data.to_vec(),
        });
        rest = r;
    }
    Ok(files)
}

fn take(b: &[u8], n: u64) -> Result<(&[u8], &[u8])> {
    let n = usize::try_from(n).map_err(|_| corrupt("length overflow"))?;
    if b.len() < n {
        return Err(corrupt("truncated"));
    }
    Ok(b.split_at(n))
}

fn take_u(b: &[u8], width: usize) -> Result<(u64, &[u8])> {
    let (head, rest) = take(b, width as u64)?;
    let mut v = [0u8; 8];
    v[..width].copy_from_slice(head);
    Ok((u64::from_le_bytes(v), rest))
}

/// The files of the embedded bundle.
pub fn files() -> Result<Vec<BundledFile>> {
    decode(BUNDLE)
}

/// Size of the embedded bundle in bytes (compressed).
pub fn compressed_len() -> usize {
    BUNDLE.len()
}

/// All snapshots of the embedded bundle, parsed like `cambrian import` parses a directory
/// (each folder's `INDEX.json` supplies the dates of its files).
pub fn parsed() -> Result<Vec<ParsedSnapshot>> {
    let files = files()?;
    let dir_of = |p: &str| {
        p.rsplit_once('/')
            .map(|(d, _)| d.to_string())
            .unwrap_or_default()
    };
    let mut indexes: HashMap<String, ArchiveIndex> = HashMap::new();
    for f in files.iter().filter(|f| f.path.ends_with("INDEX.json")) {
        if let ParsedFile::Index(i) = archive::parse_file(&f.path, &f.bytes, None)? {
            indexes.insert(dir_of(&f.path), i);
        }
    }
    let mut out = Vec::new();
    for f in files.iter().filter(|f| !f.path.ends_with("INDEX.json")) {
        let name = format!("bundled:{}", f.path);
        if let ParsedFile::Snapshots(s) =
            archive::parse_file(&name, &f.bytes, indexes.get(&dir_of(&f.path)))?
        {
            out.extend(s);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_decodes_and_parses() {
        let files = files().unwrap();
        assert_eq!(files.len(), 162);
        let snaps = parsed().unwrap();
        let count = |f: archive::ArchiveFormat| snaps.iter().filter(|s| s.format == f).count();
        assert_eq!(count(archive::ArchiveFormat::DailyTop), 16);
        assert_eq!(count(archive::ArchiveFormat::ApiTrending), 143);
        // 42 commits over 39 distinct UTC days (2025-01-20 has four, 2025-02-23 none).
        assert_eq!(count(archive::ArchiveFormat::TrendingRankFeed), 39);
        // API trending dates come from INDEX.json, not the file name.
        assert!(
            snaps
                .iter()
                .any(|s| s.taken_at_from == "INDEX.json commit_time_utc")
        );
    }

    #[test]
    fn truncated_bundle_is_an_error_not_a_panic() {
        use std::io::Write;
        let mut raw = MAGIC.to_vec();
        raw.extend_from_slice(&5u32.to_le_bytes());
        raw.extend_from_slice(b"ab");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&raw).unwrap();
        let gz = enc.finish().unwrap();
        assert!(decode(&gz).is_err());
        assert!(decode(b"not gzip").is_err());
    }
}
