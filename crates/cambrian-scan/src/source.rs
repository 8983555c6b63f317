//! Random-access byte sources: a file on disk (positional reads, nothing
//! loaded up front) or bytes in memory (archive members, Hub ranges).

use std::io;

/// Something that can be read at an offset. Reads never allocate more than
/// the caller asks for; callers bound what they ask for.
pub trait Source {
    fn len(&self) -> u64;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Fill `buf` from `offset`; returns the bytes read (short at EOF).
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
}

impl Source for &[u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let Ok(off) = usize::try_from(offset) else {
            return Ok(0);
        };
        if off >= <[u8]>::len(self) {
            return Ok(0);
        }
        let n = buf.len().min(<[u8]>::len(self) - off);
        buf[..n].copy_from_slice(&self[off..off + n]);
        Ok(n)
    }
}

impl Source for Vec<u8> {
    fn len(&self) -> u64 {
        self.as_slice().len() as u64
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        (&self.as_slice()).read_at(offset, buf)
    }
}

/// A file read with positional reads.
pub struct FileSource {
    file: std::fs::File,
    len: u64,
}

impl FileSource {
    pub fn open(path: &std::path::Path) -> io::Result<FileSource> {
        let file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        Ok(FileSource { file, len })
    }
}

impl Source for FileSource {
    fn len(&self) -> u64 {
        self.len
    }
    #[cfg(unix)]
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let mut done = 0;
        while done < buf.len() {
            match self.file.read_at(&mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }
    #[cfg(windows)]
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::windows::fs::FileExt;
        let mut done = 0;
        while done < buf.len() {
            match self.file.seek_read(&mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }
}

/// Read `len` bytes at `offset` (fewer at EOF). The caller bounds `len`.
pub fn read_vec(src: &dyn Source, offset: u64, len: u64) -> io::Result<Vec<u8>> {
    let avail = src.len().saturating_sub(offset);
    let n = len.min(avail) as usize;
    let mut v = vec![0u8; n];
    let got = src.read_at(offset, &mut v)?;
    v.truncate(got);
    Ok(v)
}

/// A remote file read on demand through a caller-supplied range fetcher (the
/// Hub client, by HTTP `Range`), so that scanning a multi-GiB checkpoint moves
/// only the bytes the scanner looks at: the zip directory at the end, each
/// member's first bytes, and the pickles themselves.
///
/// Small reads go through an aligned block cache ([`RangeSource::BLOCK`]);
/// reads larger than four blocks are fetched exactly. Every byte fetched counts
/// against `budget`; past it a read fails (the scanner then reports the file
/// `unreadable`, never clean). Not `Sync`: one scan, one thread.
pub struct RangeSource<F: Fn(u64, u64) -> io::Result<Vec<u8>>> {
    len: u64,
    fetch: F,
    budget: u64,
    blocks: std::cell::RefCell<std::collections::HashMap<u64, std::rc::Rc<Vec<u8>>>>,
    fetched: std::cell::Cell<u64>,
    requests: std::cell::Cell<u64>,
}

impl<F: Fn(u64, u64) -> io::Result<Vec<u8>>> RangeSource<F> {
    /// Cache block size (aligned).
    pub const BLOCK: u64 = 64 * 1024;
    /// Blocks kept before the cache is emptied (16 MiB).
    const MAX_BLOCKS: usize = 256;

    /// `fetch(start, end)` must return exactly the bytes `start..end` of the
    /// file (`end <= len`), or an error.
    pub fn new(len: u64, budget: u64, fetch: F) -> Self {
        RangeSource {
            len,
            fetch,
            budget,
            blocks: Default::default(),
            fetched: std::cell::Cell::new(0),
            requests: std::cell::Cell::new(0),
        }
    }

    /// Seed the cache with bytes already fetched from offset 0 (whole blocks only).
    pub fn seed_head(&self, head: &[u8]) {
        let mut blocks = self.blocks.borrow_mut();
        for (i, chunk) in head.chunks(Self::BLOCK as usize).enumerate() {
            let start = i as u64 * Self::BLOCK;
            let want = Self::BLOCK.min(self.len.saturating_sub(start));
            if chunk.len() as u64 == want {
                blocks.insert(i as u64, std::rc::Rc::new(chunk.to_vec()));
            }
        }
    }

    /// Bytes fetched so far (seeded bytes not counted).
    pub fn fetched_bytes(&self) -> u64 {
        self.fetched.get()
    }

    /// Range requests made so far.
    pub fn requests(&self) -> u64 {
        self.requests.get()
    }

    fn get(&self, start: u64, end: u64) -> io::Result<Vec<u8>> {
        let n = end - start;
        if self.fetched.get().saturating_add(n) > self.budget {
            return Err(io::Error::other(format!(
                "remote read budget of {} bytes for this file is exhausted (asked for {n} more bytes at offset {start})",
                self.budget
            )));
        }
        self.requests.set(self.requests.get() + 1);
        let v = (self.fetch)(start, end)?;
        if v.len() as u64 != n {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("asked for bytes {start}..{end} and got {} bytes", v.len()),
            ));
        }
        self.fetched.set(self.fetched.get() + n);
        Ok(v)
    }

    fn block(&self, i: u64) -> io::Result<std::rc::Rc<Vec<u8>>> {
        if let Some(b) = self.blocks.borrow().get(&i) {
            return Ok(b.clone());
        }
        let start = i * Self::BLOCK;
        let end = (start + Self::BLOCK).min(self.len);
        let b = std::rc::Rc::new(self.get(start, end)?);
        let mut blocks = self.blocks.borrow_mut();
        if blocks.len() >= Self::MAX_BLOCKS {
            blocks.clear();
        }
        blocks.insert(i, b.clone());
        Ok(b)
    }
}

impl<F: Fn(u64, u64) -> io::Result<Vec<u8>>> Source for RangeSource<F> {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.len || buf.is_empty() {
            return Ok(0);
        }
        let end = offset.saturating_add(buf.len() as u64).min(self.len);
        let n = (end - offset) as usize;
        if end - offset > 4 * Self::BLOCK {
            let v = self.get(offset, end)?;
            buf[..n].copy_from_slice(&v);
            return Ok(n);
        }
        let mut done = 0usize;
        while done < n {
            let pos = offset + done as u64;
            let b = self.block(pos / Self::BLOCK)?;
            let within = (pos % Self::BLOCK) as usize;
            let take = (n - done).min(b.len().saturating_sub(within));
            if take == 0 {
                break;
            }
            buf[done..done + take].copy_from_slice(&b[within..within + take]);
            done += take;
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn range_source_reads_match_the_bytes_and_count_what_moved() {
        let d = data(300_000);
        let calls = std::cell::RefCell::new(Vec::new());
        let src = RangeSource::new(d.len() as u64, u64::MAX, |a, b| {
            calls.borrow_mut().push((a, b));
            Ok(d[a as usize..b as usize].to_vec())
        });
        for &(off, len) in &[
            (0u64, 10usize),
            (65_530, 20),
            (299_990, 50),
            (1000, 280_000),
            (131_072, 65_536),
        ] {
            let got = read_vec(&src, off, len as u64).unwrap();
            let end = (off as usize + len).min(d.len());
            assert_eq!(got, d[off as usize..end], "read at {off} len {len}");
        }
        // Small reads hit aligned 64 KiB blocks; the 280,000-byte read was fetched exactly.
        assert!(calls.borrow().contains(&(1000, 281_000)));
        assert!(calls.borrow().iter().all(|&(a, b)| b - a == 280_000
            || a % RangeSource::<fn(u64, u64) -> io::Result<Vec<u8>>>::BLOCK == 0));
        assert_eq!(read_vec(&src, 400_000, 10).unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn range_source_budget_and_short_fetches_are_errors() {
        let d = data(200_000);
        let src = RangeSource::new(d.len() as u64, 100_000, |a, b| {
            Ok(d[a as usize..b as usize].to_vec())
        });
        src.seed_head(&d[..65_536]);
        assert_eq!(read_vec(&src, 0, 100).unwrap(), d[..100]);
        assert_eq!(src.fetched_bytes(), 0, "seeded block served from cache");
        assert!(read_vec(&src, 0, 150_000).is_err(), "more than the budget");
        let short = RangeSource::new(1000, u64::MAX, |_, _| Ok(vec![0u8; 3]));
        assert!(read_vec(&short, 0, 10).is_err());
    }
}
