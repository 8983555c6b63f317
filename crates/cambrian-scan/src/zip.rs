//! A lenient, bounded zip reader, lenient the way PyTorch's loader is: the
//! central directory gives the members, the local header only where the data
//! starts; flag bits (encryption, patched data, strong encryption) are not
//! obeyed; CRCs are checked but not enforced; zip64 is supported; an archive
//! with a prefix (bytes before the first member) is located by the offset of
//! its central directory. When there is no central directory, members are
//! found by walking local headers.
//!
//! Every count and size is checked against the archive length before use.

use crate::source::{Source, read_vec};
use std::io::Read;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Name from the central directory (what PyTorch and zipfile use).
    pub name: String,
    /// Name in the local header, when it differs.
    pub local_name: Option<String>,
    pub flags: u16,
    pub method: u16,
    pub crc32: u32,
    pub compressed: u64,
    pub uncompressed: u64,
    /// Offset of the local header.
    pub header_offset: u64,
    /// Offset of the member's (compressed) data.
    pub data_offset: u64,
}

impl Entry {
    pub fn encrypted(&self) -> bool {
        self.flags & 1 != 0
    }
    pub fn is_dir(&self) -> bool {
        self.name.ends_with('/')
    }
}

#[derive(Debug, Clone, Default)]
pub struct Archive {
    pub entries: Vec<Entry>,
    /// Problems that did not stop reading (mismatches, a missing directory).
    pub notes: Vec<String>,
    pub zip64: bool,
    /// True when no central directory was found and local headers were walked.
    pub recovered: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ZipError {
    #[error("not a zip archive (no end-of-central-directory record and no local header at byte 0)")]
    NotZip,
    #[error("zip structure: {0}")]
    Corrupt(String),
    #[error("reading the archive: {0}")]
    Io(#[from] std::io::Error),
}

pub struct ZipLimits {
    pub max_entries: usize,
    pub max_central_dir: u64,
}

impl Default for ZipLimits {
    fn default() -> Self {
        ZipLimits {
            max_entries: 200_000,
            max_central_dir: 256 << 20,
        }
    }
}

fn le16(b: &[u8], o: usize) -> u16 {
    b.get(o..o + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .unwrap_or(0)
}
fn le32(b: &[u8], o: usize) -> u32 {
    b.get(o..o + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .unwrap_or(0)
}
fn le64(b: &[u8], o: usize) -> u64 {
    b.get(o..o + 8)
        .map(|s| {
            let mut a = [0u8; 8];
            a.copy_from_slice(s);
            u64::from_le_bytes(a)
        })
        .unwrap_or(0)
}

const EOCD: u32 = 0x0605_4b50;
const EOCD64: u32 = 0x0606_4b50;
const LOC64: u32 = 0x0706_4b50;
const CEN: u32 = 0x0201_4b50;
const LOC: u32 = 0x0403_4b50;

/// Quick check used by format sniffing.
pub fn has_zip_magic(head: &[u8]) -> bool {
    head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06")
}

/// Read the member list of a zip archive.
pub fn read_archive(src: &dyn Source, limits: &ZipLimits) -> Result<Archive, ZipError> {
    let len = src.len();
    let tail_len = len.min(22 + 65_535);
    let tail = read_vec(src, len - tail_len, tail_len)?;
    let mut eocd_at = None;
    if tail.len() >= 22 {
        let mut i = tail.len() - 22;
        loop {
            if le32(&tail, i) == EOCD {
                // Comment length must reach exactly (or within) the end.
                let clen = le16(&tail, i + 20) as usize;
                if i + 22 + clen <= tail.len() {
                    eocd_at = Some(i);
                    break;
                }
            }
            if i == 0 {
                break;
            }
            i -= 1;
        }
    }
    let Some(e) = eocd_at else {
        let head = read_vec(src, 0, 4)?;
        if head.starts_with(b"PK\x03\x04") {
            return walk_local_headers(src, limits);
        }
        return Err(ZipError::NotZip);
    };
    let eocd_pos = len - tail_len + e as u64;
    let mut total = le16(&tail, e + 10) as u64;
    let mut cd_size = le32(&tail, e + 12) as u64;
    let mut cd_off = le32(&tail, e + 16) as u64;
    let mut zip64 = false;
    let mut end_of_cd = eocd_pos;
    // A zip64 locator right before the end record (PyTorch always writes
    // one) points to the zip64 end record, which then sits between the
    // central directory and the locator.
    if eocd_pos >= 20 {
        let loc = read_vec(src, eocd_pos - 20, 20)?;
        if le32(&loc, 0) == LOC64 {
            let claimed = le64(&loc, 8);
            // With a prefix, the record is found at its real place instead.
            let at = [claimed, (eocd_pos - 20).saturating_sub(56)]
                .into_iter()
                .find(|&o| {
                    read_vec(src, o, 4)
                        .map(|b| le32(&b, 0) == EOCD64)
                        .unwrap_or(false)
                });
            match at {
                Some(e64) => {
                    let rec = read_vec(src, e64, 56)?;
                    if rec.len() == 56 {
                        total = le64(&rec, 32);
                        cd_size = le64(&rec, 40);
                        cd_off = le64(&rec, 48);
                        zip64 = true;
                        end_of_cd = e64;
                    }
                }
                None if total == 0xffff || cd_size == 0xffff_ffff || cd_off == 0xffff_ffff => {
                    return Err(ZipError::Corrupt(format!(
                        "zip64 locator points to byte {claimed}, which holds no zip64 end record"
                    )));
                }
                None => {}
            }
        }
    }
    if cd_size > limits.max_central_dir || cd_size > end_of_cd {
        return Err(ZipError::Corrupt(format!(
            "central directory of {cd_size} bytes does not fit before its end record at byte {end_of_cd}"
        )));
    }
    // Bytes prepended to the archive shift every offset by `delta`.
    let actual_cd = end_of_cd - cd_size;
    let delta = actual_cd.saturating_sub(cd_off);
    let mut arch = Archive {
        zip64,
        ..Default::default()
    };
    if delta > 0 {
        arch.notes.push(format!(
            "{delta} bytes precede the archive (offsets shifted)"
        ));
    }
    let cd = read_vec(src, actual_cd, cd_size)?;
    let mut p = 0usize;
    let mut n = 0u64;
    while p + 46 <= cd.len() && le32(&cd, p) == CEN {
        if arch.entries.len() >= limits.max_entries {
            return Err(ZipError::Corrupt(format!(
                "more than {} members (limit)",
                limits.max_entries
            )));
        }
        let flags = le16(&cd, p + 8);
        let method = le16(&cd, p + 10);
        let crc32 = le32(&cd, p + 16);
        let mut csize = le32(&cd, p + 20) as u64;
        let mut usize_ = le32(&cd, p + 24) as u64;
        let nlen = le16(&cd, p + 28) as usize;
        let xlen = le16(&cd, p + 30) as usize;
        let clen = le16(&cd, p + 32) as usize;
        let mut lho = le32(&cd, p + 42) as u64;
        let name_b = cd.get(p + 46..p + 46 + nlen).ok_or_else(|| {
            ZipError::Corrupt(format!("central directory entry {n} is cut short"))
        })?;
        let name = String::from_utf8_lossy(name_b).into_owned();
        let extra = cd.get(p + 46 + nlen..p + 46 + nlen + xlen).unwrap_or(&[]);
        // zip64 extended information extra field
        let mut q = 0;
        while q + 4 <= extra.len() {
            let id = le16(extra, q);
            let sz = le16(extra, q + 2) as usize;
            if id == 1 {
                let body = extra.get(q + 4..q + 4 + sz).unwrap_or(&[]);
                let mut r = 0;
                if usize_ == 0xffff_ffff && r + 8 <= body.len() {
                    usize_ = le64(body, r);
                    r += 8;
                }
                if csize == 0xffff_ffff && r + 8 <= body.len() {
                    csize = le64(body, r);
                    r += 8;
                }
                if lho == 0xffff_ffff && r + 8 <= body.len() {
                    lho = le64(body, r);
                }
                arch.zip64 = true;
            }
            q += 4 + sz;
        }
        p += 46 + nlen + xlen + clen;
        n += 1;
        let header_offset = lho.saturating_add(delta);
        let loc = read_vec(src, header_offset, 30)?;
        if loc.len() < 30 || le32(&loc, 0) != LOC {
            arch.notes.push(format!(
                "member {name:?}: no local header at byte {header_offset}"
            ));
            continue;
        }
        let lnlen = le16(&loc, 26) as u64;
        let lxlen = le16(&loc, 28) as u64;
        let lname = read_vec(src, header_offset + 30, lnlen.min(65_535))?;
        let lname = String::from_utf8_lossy(&lname).into_owned();
        let data_offset = header_offset + 30 + lnlen + lxlen;
        if data_offset.saturating_add(csize) > len {
            arch.notes.push(format!("member {name:?}: {csize} bytes at byte {data_offset} run past the end of the archive"));
        }
        arch.entries.push(Entry {
            local_name: (lname != name).then_some(lname),
            name,
            flags,
            method,
            crc32,
            compressed: csize,
            uncompressed: usize_,
            header_offset,
            data_offset,
        });
    }
    if n != total && !(total == 0xffff && n > 0xffff) {
        arch.notes.push(format!(
            "end record announces {total} members, central directory holds {n}"
        ));
    }
    Ok(arch)
}

/// No central directory: walk local headers from byte 0 (sizes from the
/// local header; a member with a data descriptor ends the walk).
fn walk_local_headers(src: &dyn Source, limits: &ZipLimits) -> Result<Archive, ZipError> {
    let mut arch = Archive {
        recovered: true,
        ..Default::default()
    };
    arch.notes.push("no central directory: members found by walking local headers (zipfile and PyTorch would refuse this archive)".into());
    let len = src.len();
    let mut off = 0u64;
    while off + 30 <= len && arch.entries.len() < limits.max_entries {
        let h = read_vec(src, off, 30)?;
        if le32(&h, 0) != LOC {
            break;
        }
        let flags = le16(&h, 6);
        let method = le16(&h, 8);
        let crc32 = le32(&h, 14);
        let csize = le32(&h, 18) as u64;
        let usize_ = le32(&h, 22) as u64;
        let nlen = le16(&h, 26) as u64;
        let xlen = le16(&h, 28) as u64;
        let name = String::from_utf8_lossy(&read_vec(src, off + 30, nlen)?).into_owned();
        let data_offset = off + 30 + nlen + xlen;
        arch.entries.push(Entry {
            name,
            local_name: None,
            flags,
            method,
            crc32,
            compressed: csize,
            uncompressed: usize_,
            header_offset: off,
            data_offset,
        });
        if flags & 8 != 0 && csize == 0 {
            arch.notes.push(
                "a member with a data descriptor and no size ends the local-header walk".into(),
            );
            break;
        }
        off = data_offset.saturating_add(csize);
    }
    Ok(arch)
}

/// What reading a member produced.
#[derive(Debug)]
pub enum MemberData {
    Bytes(Vec<u8>),
    /// Output exceeded `cap` (bytes produced so far are kept).
    TooLarge(Vec<u8>),
    /// Compression ratio above the limit: reading stopped.
    Bomb {
        produced: u64,
        compressed: u64,
    },
    Unsupported(u16),
    Corrupt(String),
}

/// Read (and inflate) at most `cap` bytes of a member. Stops as soon as the
/// output/input ratio exceeds `max_ratio` after the first MiB.
pub fn read_member(
    src: &dyn Source,
    e: &Entry,
    cap: u64,
    max_ratio: u64,
) -> std::io::Result<MemberData> {
    let avail = src.len().saturating_sub(e.data_offset);
    let csize = e.compressed.min(avail);
    match e.method {
        0 => {
            let want = csize.min(cap);
            let v = read_vec(src, e.data_offset, want)?;
            if csize > cap {
                Ok(MemberData::TooLarge(v))
            } else {
                Ok(MemberData::Bytes(v))
            }
        }
        8 => {
            // Inflate from bounded compressed input in chunks.
            let raw_cap = csize.min(cap.saturating_mul(max_ratio.max(1)).max(cap));
            let reader = SrcReader {
                src,
                pos: e.data_offset,
                end: e.data_offset + raw_cap,
            };
            let mut dec = flate2::read::DeflateDecoder::new(reader);
            let mut out = Vec::new();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match dec.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(err) => {
                        if out.is_empty() {
                            return Ok(MemberData::Corrupt(format!("deflate stream: {err}")));
                        }
                        return Ok(MemberData::Corrupt(format!(
                            "deflate stream broken after {} bytes: {err}",
                            out.len()
                        )));
                    }
                };
                let room = (cap as usize).saturating_sub(out.len());
                out.extend_from_slice(&buf[..n.min(room)]);
                let consumed = dec.total_in().max(1);
                let produced = dec.total_out();
                if produced > (1 << 20) && produced / consumed > max_ratio {
                    return Ok(MemberData::Bomb {
                        produced,
                        compressed: e.compressed,
                    });
                }
                if n > room {
                    return Ok(MemberData::TooLarge(out));
                }
            }
            Ok(MemberData::Bytes(out))
        }
        m => Ok(MemberData::Unsupported(m)),
    }
}

/// Read the first `n` bytes of a member's uncompressed content (sniffing).
pub fn member_head(src: &dyn Source, e: &Entry, n: u64) -> std::io::Result<Vec<u8>> {
    match e.method {
        0 => read_vec(src, e.data_offset, n.min(e.compressed)),
        8 => {
            let raw = e
                .compressed
                .min(src.len().saturating_sub(e.data_offset))
                .min(n.saturating_mul(64).max(4096));
            let reader = SrcReader {
                src,
                pos: e.data_offset,
                end: e.data_offset + raw,
            };
            let mut dec = flate2::read::DeflateDecoder::new(reader);
            let mut out = vec![0u8; n as usize];
            let mut got = 0;
            while got < out.len() {
                match dec.read(&mut out[got..]) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => got += k,
                }
            }
            out.truncate(got);
            Ok(out)
        }
        _ => Ok(Vec::new()),
    }
}

struct SrcReader<'a> {
    src: &'a dyn Source,
    pos: u64,
    end: u64,
}

impl Read for SrcReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.end.saturating_sub(self.pos);
        if left == 0 {
            return Ok(0);
        }
        let n = (buf.len() as u64).min(left).min(1 << 20) as usize;
        let got = self.src.read_at(self.pos, &mut buf[..n])?;
        self.pos += got as u64;
        Ok(got)
    }
}

/// Is this member name an attempt to write outside the extraction folder?
pub fn traversal(name: &str) -> Option<&'static str> {
    if name.starts_with('/') || name.starts_with('\\') {
        return Some("absolute path");
    }
    let b = name.as_bytes();
    if b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
        return Some("drive-letter path");
    }
    if name.split(['/', '\\']).any(|c| c == "..") {
        return Some("'..' component");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal stored zip writer for tests.
    pub(crate) fn zip_stored(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut cd = Vec::new();
        for (name, data) in members {
            let off = out.len() as u32;
            let crc = {
                let mut c = flate2::Crc::new();
                c.update(data);
                c.sum()
            };
            out.extend_from_slice(&LOC.to_le_bytes());
            out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            out.extend_from_slice(&crc.to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(data);
            cd.extend_from_slice(&CEN.to_le_bytes());
            cd.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            cd.extend_from_slice(&crc.to_le_bytes());
            cd.extend_from_slice(&(data.len() as u32).to_le_bytes());
            cd.extend_from_slice(&(data.len() as u32).to_le_bytes());
            cd.extend_from_slice(&(name.len() as u16).to_le_bytes());
            cd.extend_from_slice(&[0; 12]);
            cd.extend_from_slice(&off.to_le_bytes());
            cd.extend_from_slice(name.as_bytes());
        }
        let cd_off = out.len() as u32;
        out.extend_from_slice(&cd);
        out.extend_from_slice(&EOCD.to_le_bytes());
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(&(members.len() as u16).to_le_bytes());
        out.extend_from_slice(&(members.len() as u16).to_le_bytes());
        out.extend_from_slice(&(cd.len() as u32).to_le_bytes());
        out.extend_from_slice(&cd_off.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }

    #[test]
    fn reads_stored_members_and_prefix() {
        let z = zip_stored(&[("a/data.pkl", b"\x80\x02N."), ("../evil", b"x")]);
        let a = read_archive(&z, &ZipLimits::default()).expect("zip");
        assert_eq!(a.entries.len(), 2);
        assert_eq!(traversal(&a.entries[1].name), Some("'..' component"));
        let mut pre = b"GARBAGE!".to_vec();
        pre.extend_from_slice(&z);
        let a = read_archive(&pre, &ZipLimits::default()).expect("zip");
        let d = read_member(&pre, &a.entries[0], 1 << 20, 100).expect("io");
        assert!(
            matches!(d, MemberData::Bytes(ref v) if v == b"\x80\x02N."),
            "{d:?}"
        );
    }

    #[test]
    fn forged_central_directory_size_is_an_error() {
        let mut z = zip_stored(&[("x", b"1")]);
        let n = z.len();
        z[n - 10..n - 6].copy_from_slice(&0xfff0_0000u32.to_le_bytes());
        assert!(read_archive(&z, &ZipLimits::default()).is_err());
    }
}
