//! A pickle disassembler with a symbolic stack. It walks every opcode of
//! protocols 0–5 (including the protocol-0 text forms) WITHOUT executing
//! anything: imports are recorded, never resolved; calls are recorded, never
//! made. Memory and time are bounded by [`PickleLimits`], whatever the input.
//!
//! What it reports for one byte stream (possibly several concatenated
//! pickles): every import (`GLOBAL`, `INST`, `STACK_GLOBAL`, extension codes)
//! with its byte offset, whether its operands could be resolved statically,
//! the call sites that use it (`REDUCE`, `BUILD`, `NEWOBJ`, `NEWOBJ_EX`,
//! `OBJ`, `INST`), resource-abuse signs (memo/expansion bombs) and the first
//! parse error, if any.

use std::collections::HashMap;
use std::rc::Rc;

/// Hard bounds that keep the walk O(input) in time and bounded in memory.
#[derive(Debug, Clone, Copy)]
pub struct PickleLimits {
    /// Opcodes walked before giving up (the stream is then `unreadable`).
    pub max_opcodes: u64,
    /// Symbolic stack depth (all MARK frames together).
    pub max_stack: usize,
    /// Distinct memo entries kept.
    pub max_memo: usize,
    /// Imports recorded (further ones are counted but not stored).
    pub max_globals: usize,
    /// Concatenated pickles walked in one stream.
    pub max_pickles: usize,
    /// A memo index above this (and above 4 × the puts seen) is a memo bomb:
    /// CPython's unpickler sizes its memo array by the index.
    pub memo_index_bomb: u64,
    /// GETs per PUT above which the stream is flagged as an expansion bomb
    /// (fickling's `max_get_ratio`), once at least `expansion_min_gets` GETs.
    pub max_get_ratio: u64,
    pub expansion_min_gets: u64,
}

impl Default for PickleLimits {
    fn default() -> Self {
        PickleLimits {
            max_opcodes: 50_000_000,
            max_stack: 1_000_000,
            max_memo: 1_000_000,
            max_globals: 10_000,
            max_pickles: 64,
            memo_index_bomb: 1 << 24,
            max_get_ratio: 50,
            expansion_min_gets: 10_000,
        }
    }
}

/// How an import was written in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOp {
    Global,
    Inst,
    StackGlobal,
    Ext,
}

impl ImportOp {
    pub fn name(self) -> &'static str {
        match self {
            ImportOp::Global => "GLOBAL",
            ImportOp::Inst => "INST",
            ImportOp::StackGlobal => "STACK_GLOBAL",
            ImportOp::Ext => "EXT",
        }
    }
}

/// One import found in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub module: String,
    pub name: String,
    /// False when an operand was not a string known statically (STACK_GLOBAL
    /// fed by a computed value, a missing memo entry, an extension code).
    pub resolved: bool,
    /// Why it could not be resolved, when it could not.
    pub unresolved_reason: Option<String>,
    pub op: ImportOp,
    /// Byte offset of the opcode, relative to the start of the stream.
    pub offset: u64,
    /// Index (0-based) of the pickle within a stream of concatenated pickles.
    pub pickle_index: usize,
    /// Call sites that used this import as the callable / class.
    pub calls: Vec<CallSite>,
}

/// A place where an import is invoked or its object mutated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSite {
    pub op: &'static str,
    pub offset: u64,
}

/// A sign of resource abuse or evasion in the opcode stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    pub offset: u64,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnomalyKind {
    /// A memo index far larger than the number of entries (CPython grows its
    /// memo array to the index: a memory bomb).
    MemoBomb,
    /// Many more memo GETs than PUTs: a reference-expansion bomb.
    ExpansionBomb,
    /// BUILD applied directly to an imported object: attribute overwrite of
    /// a module or class (e.g. poisoning `torch._utils`).
    BuildOnImport,
    /// Too many opcodes / stack / memo entries: walk stopped.
    LimitReached,
    /// Bytes after the last pickle that are not a pickle.
    TrailingData,
}

/// Why a stream could not be walked to its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub offset: u64,
    pub message: String,
    /// True when the stream ended inside an opcode or before STOP.
    pub truncated: bool,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "byte {}: {}", self.offset, self.message)
    }
}

/// The result of walking one byte stream.
#[derive(Debug, Clone, Default)]
pub struct PickleReport {
    pub imports: Vec<Import>,
    /// Imports seen beyond `max_globals` (not stored).
    pub imports_dropped: u64,
    pub anomalies: Vec<Anomaly>,
    /// Number of complete pickles (ended by STOP).
    pub pickles: usize,
    /// Highest protocol announced by PROTO.
    pub protocol: Option<u8>,
    pub opcodes: u64,
    /// Offset just after the last complete pickle.
    pub end: u64,
    /// The first error, if the walk did not end cleanly.
    pub error: Option<ParseError>,
    /// Values of the first pickle if it is a single integer (legacy PyTorch
    /// magic number detection).
    pub first_int: Option<i128>,
}

impl PickleReport {
    /// Every opcode was understood and every pickle ended with STOP.
    pub fn complete(&self) -> bool {
        self.error.is_none()
    }
}

/// A symbolic stack value: only what import resolution and call-site
/// attribution need. Strings are shared so memo GETs never copy.
#[derive(Debug, Clone)]
enum V {
    Str(Rc<str>),
    Int(i128),
    /// An imported object (index into `imports`).
    Import(usize),
    /// The result of calling / instantiating an import.
    Made(usize),
    Other,
}

/// Walk `data` as a stream of pickles. `multiple` walks further pickles
/// after the first STOP as long as the next byte starts one.
pub fn analyze(data: &[u8], limits: &PickleLimits, multiple: bool) -> PickleReport {
    let mut w = Walker::new(data, limits);
    w.run(multiple);
    w.report
}

/// Walk at most `count` pickles (legacy PyTorch: magic, protocol, sys_info,
/// object, storage keys) and stop; the rest of the stream is raw storage.
pub fn analyze_n(data: &[u8], limits: &PickleLimits, count: usize) -> PickleReport {
    let mut w = Walker::new(data, limits);
    w.max_pickles = count.min(limits.max_pickles);
    w.run(true);
    w.report
}

/// Does `data` plausibly start a pickle? PROTO 0–5, or a protocol-0/1
/// opening opcode followed by something sane. Used to sniff archive members.
pub fn looks_like_pickle(data: &[u8]) -> bool {
    match data {
        [0x80, p, ..] => *p <= 5,
        _ => false,
    }
}

struct Walker<'a> {
    data: &'a [u8],
    pos: usize,
    limits: &'a PickleLimits,
    stack: Vec<V>,
    marks: Vec<usize>,
    memo: HashMap<u64, V>,
    puts: u64,
    gets: u64,
    report: PickleReport,
    max_pickles: usize,
    pickle_index: usize,
    expansion_flagged: bool,
    memo_bomb_flagged: bool,
    first_values: Vec<V>,
}

type R<T> = Result<T, ParseError>;

impl<'a> Walker<'a> {
    fn new(data: &'a [u8], limits: &'a PickleLimits) -> Self {
        Walker {
            data,
            pos: 0,
            limits,
            stack: Vec::new(),
            marks: Vec::new(),
            memo: HashMap::new(),
            puts: 0,
            gets: 0,
            report: PickleReport::default(),
            max_pickles: limits.max_pickles,
            pickle_index: 0,
            expansion_flagged: false,
            memo_bomb_flagged: false,
            first_values: Vec::new(),
        }
    }

    fn run(&mut self, multiple: bool) {
        loop {
            let start = self.pos;
            match self.one_pickle() {
                Ok(()) => {
                    self.report.pickles += 1;
                    self.report.end = self.pos as u64;
                    if self.pickle_index == 0
                        && let [V::Int(i)] = self.first_values.as_slice()
                    {
                        self.report.first_int = Some(*i);
                    }
                    self.pickle_index += 1;
                }
                Err(e) => {
                    // A later pickle that fails on its very first opcode is
                    // trailing data, not a broken pickle.
                    if self.pickle_index > 0 && e.offset == start as u64 && !e.truncated {
                        self.report.anomalies.push(Anomaly {
                            kind: AnomalyKind::TrailingData,
                            offset: start as u64,
                            detail: format!(
                                "{} bytes after the last pickle are not a pickle",
                                self.data.len() - start
                            ),
                        });
                    } else {
                        self.report.error = Some(e);
                    }
                    return;
                }
            }
            if !multiple || self.pos >= self.data.len() || self.pickle_index >= self.max_pickles {
                if self.pos < self.data.len()
                    && multiple
                    && self.pickle_index >= self.max_pickles
                    && self.max_pickles == self.limits.max_pickles
                {
                    self.report.anomalies.push(Anomaly {
                        kind: AnomalyKind::LimitReached,
                        offset: self.pos as u64,
                        detail: format!("stopped after {} concatenated pickles", self.max_pickles),
                    });
                    self.report.error = Some(ParseError {
                        offset: self.pos as u64,
                        message: format!("more than {} concatenated pickles", self.max_pickles),
                        truncated: false,
                    });
                }
                return;
            }
            // Per pickle.load(): a new unpickler, a fresh memo and stack.
            self.stack.clear();
            self.marks.clear();
            self.memo.clear();
        }
    }

    fn err(&self, at: usize, msg: impl Into<String>) -> ParseError {
        ParseError {
            offset: at as u64,
            message: msg.into(),
            truncated: false,
        }
    }

    fn eof(&self, at: usize, what: &str) -> ParseError {
        ParseError {
            offset: at as u64,
            message: format!("stream ends inside {what} (truncated pickle)"),
            truncated: true,
        }
    }

    fn take(&mut self, n: u64, what: &str, op_at: usize) -> R<&'a [u8]> {
        let avail = (self.data.len() - self.pos) as u64;
        if n > avail {
            return Err(ParseError {
                offset: op_at as u64,
                message: format!(
                    "{what} claims {n} bytes but only {avail} remain (truncated or forged length)"
                ),
                truncated: true,
            });
        }
        let s = &self.data[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    fn u8(&mut self, what: &str, at: usize) -> R<u8> {
        Ok(self.take(1, what, at)?[0])
    }
    fn u16(&mut self, what: &str, at: usize) -> R<u16> {
        let b = self.take(2, what, at)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self, what: &str, at: usize) -> R<u32> {
        let b = self.take(4, what, at)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i32(&mut self, what: &str, at: usize) -> R<i32> {
        Ok(self.u32(what, at)? as i32)
    }
    fn u64(&mut self, what: &str, at: usize) -> R<u64> {
        let b = self.take(8, what, at)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A protocol-0 argument line, without its `\n`.
    fn line(&mut self, what: &str, at: usize) -> R<&'a [u8]> {
        let rest = &self.data[self.pos..];
        match memchr::memchr(b'\n', rest) {
            Some(i) => {
                self.pos += i + 1;
                Ok(&rest[..i])
            }
            None => Err(self.eof(at, what)),
        }
    }

    /// GLOBAL/INST operands: Python 3 decodes them as strict UTF-8; when
    /// that fails the load stops there and nothing is imported.
    fn names(&self, m: &[u8], n: &[u8], op: &str, at: usize) -> R<(String, String)> {
        match (std::str::from_utf8(m), std::str::from_utf8(n)) {
            (Ok(m), Ok(n)) => Ok((m.to_string(), n.to_string())),
            _ => Err(self.err(at, format!("{op} module/name is not UTF-8 (the unpickler fails to decode it; nothing is imported)"))),
        }
    }

    fn push(&mut self, v: V, at: usize) -> R<()> {
        if self.stack.len() >= self.limits.max_stack {
            self.report.anomalies.push(Anomaly {
                kind: AnomalyKind::LimitReached,
                offset: at as u64,
                detail: format!("stack deeper than {} entries", self.limits.max_stack),
            });
            return Err(self.err(
                at,
                format!(
                    "stack deeper than {} entries (limit)",
                    self.limits.max_stack
                ),
            ));
        }
        self.stack.push(v);
        Ok(())
    }

    fn pop(&mut self, at: usize, op: &str) -> R<V> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(self.err(
                at,
                format!("{op} on an empty stack (or below the current MARK)"),
            ));
        }
        self.stack
            .pop()
            .ok_or_else(|| self.err(at, format!("{op} on an empty stack")))
    }

    fn top(&self, at: usize, op: &str) -> R<V> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(self.err(at, format!("{op} needs a value on the stack")));
        }
        self.stack
            .last()
            .cloned()
            .ok_or_else(|| self.err(at, format!("{op} needs a value")))
    }

    /// Pop everything down to the last MARK; return the popped values.
    fn pop_mark(&mut self, at: usize, op: &str) -> R<Vec<V>> {
        let m = self
            .marks
            .pop()
            .ok_or_else(|| self.err(at, format!("{op} without a MARK")))?;
        if m > self.stack.len() {
            return Err(self.err(at, format!("{op}: corrupt MARK")));
        }
        Ok(self.stack.split_off(m))
    }

    fn memo_put(&mut self, idx: u64, at: usize) -> R<()> {
        let v = self.top(at, "PUT")?;
        self.puts += 1;
        if idx > self.limits.memo_index_bomb
            && idx > 4 * self.puts + 1024
            && !self.memo_bomb_flagged
        {
            self.memo_bomb_flagged = true;
            self.report.anomalies.push(Anomaly {
                kind: AnomalyKind::MemoBomb,
                offset: at as u64,
                detail: format!(
                    "memo index {idx} after {} puts: CPython's unpickler grows its memo array to the index (~{} MB)",
                    self.puts,
                    idx.saturating_mul(8) / 1_000_000
                ),
            });
        }
        if self.memo.len() >= self.limits.max_memo && !self.memo.contains_key(&idx) {
            self.report.anomalies.push(Anomaly {
                kind: AnomalyKind::LimitReached,
                offset: at as u64,
                detail: format!("more than {} memo entries", self.limits.max_memo),
            });
            return Err(self.err(
                at,
                format!("more than {} memo entries (limit)", self.limits.max_memo),
            ));
        }
        self.memo.insert(idx, v);
        Ok(())
    }

    fn memo_get(&mut self, idx: u64, at: usize) -> R<()> {
        self.gets += 1;
        if !self.expansion_flagged
            && self.gets >= self.limits.expansion_min_gets
            && self.gets > self.limits.max_get_ratio.saturating_mul(self.puts.max(1))
        {
            self.expansion_flagged = true;
            self.report.anomalies.push(Anomaly {
                kind: AnomalyKind::ExpansionBomb,
                offset: at as u64,
                detail: format!(
                    "{} memo GETs for {} PUTs (ratio above {})",
                    self.gets, self.puts, self.limits.max_get_ratio
                ),
            });
        }
        match self.memo.get(&idx) {
            Some(v) => {
                let v = v.clone();
                self.push(v, at)
            }
            // pickle.load raises KeyError here: nothing after it runs.
            None => Err(self.err(at, format!("memo key {idx} was never stored"))),
        }
    }

    fn add_import(
        &mut self,
        module: String,
        name: String,
        op: ImportOp,
        at: usize,
        unresolved: Option<String>,
    ) -> V {
        if self.report.imports.len() >= self.limits.max_globals {
            self.report.imports_dropped += 1;
            return V::Other;
        }
        self.report.imports.push(Import {
            module,
            name,
            resolved: unresolved.is_none(),
            unresolved_reason: unresolved,
            op,
            offset: at as u64,
            pickle_index: self.pickle_index,
            calls: Vec::new(),
        });
        V::Import(self.report.imports.len() - 1)
    }

    fn note_call(&mut self, callee: &V, op: &'static str, at: usize) -> V {
        match callee {
            V::Import(i) | V::Made(i) => {
                if let Some(imp) = self.report.imports.get_mut(*i)
                    && imp.calls.len() < 16
                {
                    imp.calls.push(CallSite {
                        op,
                        offset: at as u64,
                    });
                }
                V::Made(*i)
            }
            _ => V::Other,
        }
    }

    fn one_pickle(&mut self) -> R<()> {
        let data = self.data;
        loop {
            let at = self.pos;
            let Some(&op) = data.get(at) else {
                return Err(ParseError {
                    offset: at as u64,
                    message: "stream ends before STOP (truncated pickle)".into(),
                    truncated: true,
                });
            };
            self.pos += 1;
            self.report.opcodes += 1;
            if self.report.opcodes > self.limits.max_opcodes {
                self.report.anomalies.push(Anomaly {
                    kind: AnomalyKind::LimitReached,
                    offset: at as u64,
                    detail: format!("more than {} opcodes", self.limits.max_opcodes),
                });
                return Err(self.err(
                    at,
                    format!("more than {} opcodes (limit)", self.limits.max_opcodes),
                ));
            }
            match op {
                // ---- protocol 2+: framing and version
                0x80 => {
                    let p = self.u8("PROTO", at)?;
                    if p > 5 {
                        return Err(self.err(at, format!("unsupported pickle protocol {p}")));
                    }
                    self.report.protocol = Some(self.report.protocol.map_or(p, |q| q.max(p)));
                }
                0x95 => {
                    // FRAME: an 8-byte length; the frame's bytes are ordinary opcodes.
                    let n = self.u64("FRAME", at)?;
                    if n > (data.len() - self.pos) as u64 {
                        return Err(ParseError {
                            offset: at as u64,
                            message: format!(
                                "FRAME claims {n} bytes but only {} remain",
                                data.len() - self.pos
                            ),
                            truncated: true,
                        });
                    }
                }
                b'.' => {
                    // STOP
                    if self.pickle_index == 0 {
                        self.first_values = self.stack.clone();
                    }
                    self.pop(at, "STOP")?;
                    return Ok(());
                }
                // ---- stack manipulation
                b'(' => {
                    if self.marks.len() >= self.limits.max_stack {
                        return Err(self.err(at, "too many nested MARKs (limit)"));
                    }
                    self.marks.push(self.stack.len());
                }
                b'0' => {
                    self.pop(at, "POP")?;
                }
                b'1' => {
                    self.pop_mark(at, "POP_MARK")?;
                }
                b'2' => {
                    let v = self.top(at, "DUP")?;
                    self.push(v, at)?;
                }
                // ---- constants
                b'N' | 0x88 | 0x89 => self.push(V::Other, at)?,
                b'I' => {
                    let l = self.line("INT", at)?;
                    let v = parse_int_line(l)
                        .ok_or_else(|| self.err(at, "INT: not a decimal integer"))?;
                    self.push(v, at)?;
                }
                b'J' => {
                    let v = self.i32("BININT", at)?;
                    self.push(V::Int(v as i128), at)?;
                }
                b'K' => {
                    let v = self.u8("BININT1", at)?;
                    self.push(V::Int(v as i128), at)?;
                }
                b'M' => {
                    let v = self.u16("BININT2", at)?;
                    self.push(V::Int(v as i128), at)?;
                }
                b'L' => {
                    let l = self.line("LONG", at)?;
                    let l = l.strip_suffix(b"L").unwrap_or(l);
                    let v = parse_int_line(l)
                        .ok_or_else(|| self.err(at, "LONG: not a decimal integer"))?;
                    self.push(v, at)?;
                }
                0x8a => {
                    let n = self.u8("LONG1", at)? as u64;
                    let b = self.take(n, "LONG1", at)?;
                    self.push(long_le(b), at)?;
                }
                0x8b => {
                    let n = self.i32("LONG4", at)?;
                    if n < 0 {
                        return Err(self.err(at, "LONG4 with a negative length"));
                    }
                    let b = self.take(n as u64, "LONG4", at)?;
                    self.push(long_le(b), at)?;
                }
                b'F' => {
                    let l = self.line("FLOAT", at)?;
                    if std::str::from_utf8(l)
                        .ok()
                        .and_then(|s| s.trim().parse::<f64>().ok())
                        .is_none()
                    {
                        return Err(self.err(at, "FLOAT: not a number"));
                    }
                    self.push(V::Other, at)?;
                }
                b'G' => {
                    self.take(8, "BINFLOAT", at)?;
                    self.push(V::Other, at)?;
                }
                // ---- strings and bytes
                b'S' => {
                    let l = self.line("STRING", at)?;
                    let s = decode_string_literal(l)
                        .ok_or_else(|| self.err(at, "STRING: not a quoted string literal"))?;
                    self.push(V::Str(s.into()), at)?;
                }
                b'T' => {
                    let n = self.i32("BINSTRING", at)?;
                    if n < 0 {
                        return Err(self.err(at, "BINSTRING with a negative length"));
                    }
                    let b = self.take(n as u64, "BINSTRING", at)?;
                    self.push(V::Str(latin1(b).into()), at)?;
                }
                b'U' => {
                    let n = self.u8("SHORT_BINSTRING", at)? as u64;
                    let b = self.take(n, "SHORT_BINSTRING", at)?;
                    self.push(V::Str(latin1(b).into()), at)?;
                }
                b'V' => {
                    let l = self.line("UNICODE", at)?;
                    let s = decode_raw_unicode_escape(l);
                    self.push(V::Str(s.into()), at)?;
                }
                b'X' => {
                    let n = self.u32("BINUNICODE", at)? as u64;
                    let b = self.take(n, "BINUNICODE", at)?;
                    let s = utf8(b).ok_or_else(|| self.err(at, "BINUNICODE: invalid UTF-8"))?;
                    self.push(V::Str(s.into()), at)?;
                }
                0x8c => {
                    let n = self.u8("SHORT_BINUNICODE", at)? as u64;
                    let b = self.take(n, "SHORT_BINUNICODE", at)?;
                    let s =
                        utf8(b).ok_or_else(|| self.err(at, "SHORT_BINUNICODE: invalid UTF-8"))?;
                    self.push(V::Str(s.into()), at)?;
                }
                0x8d => {
                    let n = self.u64("BINUNICODE8", at)?;
                    let b = self.take(n, "BINUNICODE8", at)?;
                    let s = utf8(b).ok_or_else(|| self.err(at, "BINUNICODE8: invalid UTF-8"))?;
                    self.push(V::Str(s.into()), at)?;
                }
                b'B' => {
                    let n = self.u32("BINBYTES", at)? as u64;
                    self.take(n, "BINBYTES", at)?;
                    self.push(V::Other, at)?;
                }
                b'C' => {
                    let n = self.u8("SHORT_BINBYTES", at)? as u64;
                    self.take(n, "SHORT_BINBYTES", at)?;
                    self.push(V::Other, at)?;
                }
                0x8e => {
                    let n = self.u64("BINBYTES8", at)?;
                    self.take(n, "BINBYTES8", at)?;
                    self.push(V::Other, at)?;
                }
                0x96 => {
                    let n = self.u64("BYTEARRAY8", at)?;
                    self.take(n, "BYTEARRAY8", at)?;
                    self.push(V::Other, at)?;
                }
                0x97 => self.push(V::Other, at)?, // NEXT_BUFFER (out-of-band)
                0x98 => {
                    self.top(at, "READONLY_BUFFER")?;
                }
                // ---- containers
                b')' | b']' | b'}' | 0x8f => self.push(V::Other, at)?,
                b't' | b'l' | b'd' | 0x91 => {
                    self.pop_mark(at, "TUPLE/LIST/DICT/FROZENSET")?;
                    self.push(V::Other, at)?;
                }
                0x85 => {
                    self.pop(at, "TUPLE1")?;
                    self.push(V::Other, at)?;
                }
                0x86 => {
                    self.pop(at, "TUPLE2")?;
                    self.pop(at, "TUPLE2")?;
                    self.push(V::Other, at)?;
                }
                0x87 => {
                    for _ in 0..3 {
                        self.pop(at, "TUPLE3")?;
                    }
                    self.push(V::Other, at)?;
                }
                b'a' => {
                    self.pop(at, "APPEND")?;
                    self.top(at, "APPEND")?;
                }
                b'e' | 0x90 => {
                    self.pop_mark(at, "APPENDS/ADDITEMS")?;
                    self.top(at, "APPENDS/ADDITEMS")?;
                }
                b's' => {
                    self.pop(at, "SETITEM")?;
                    self.pop(at, "SETITEM")?;
                    self.top(at, "SETITEM")?;
                }
                b'u' => {
                    let items = self.pop_mark(at, "SETITEMS")?;
                    if items.len() % 2 != 0 {
                        return Err(self.err(at, "SETITEMS with an odd number of items"));
                    }
                    self.top(at, "SETITEMS")?;
                }
                // ---- memo
                b'p' => {
                    let l = self.line("PUT", at)?;
                    let i =
                        parse_u64_line(l).ok_or_else(|| self.err(at, "PUT: not a memo index"))?;
                    self.memo_put(i, at)?;
                }
                b'q' => {
                    let i = self.u8("BINPUT", at)? as u64;
                    self.memo_put(i, at)?;
                }
                b'r' => {
                    let i = self.u32("LONG_BINPUT", at)? as u64;
                    self.memo_put(i, at)?;
                }
                0x94 => {
                    let i = self.memo.len() as u64;
                    self.memo_put(i, at)?;
                }
                b'g' => {
                    let l = self.line("GET", at)?;
                    let i =
                        parse_u64_line(l).ok_or_else(|| self.err(at, "GET: not a memo index"))?;
                    self.memo_get(i, at)?;
                }
                b'h' => {
                    let i = self.u8("BINGET", at)? as u64;
                    self.memo_get(i, at)?;
                }
                b'j' => {
                    let i = self.u32("LONG_BINGET", at)? as u64;
                    self.memo_get(i, at)?;
                }
                // ---- imports
                b'c' => {
                    let m = self.line("GLOBAL module", at)?;
                    let n = self.line("GLOBAL name", at)?;
                    let (m, n) = self.names(m, n, "GLOBAL", at)?;
                    let v = self.add_import(m, n, ImportOp::Global, at, None);
                    self.push(v, at)?;
                }
                0x93 => {
                    let name = self.pop(at, "STACK_GLOBAL")?;
                    let module = self.pop(at, "STACK_GLOBAL")?;
                    let (m, mr) = operand(&module, &self.report.imports);
                    let (n, nr) = operand(&name, &self.report.imports);
                    let why = match (mr, nr) {
                        (None, None) => None,
                        (Some(a), None) => Some(format!("module operand is {a}")),
                        (None, Some(b)) => Some(format!("name operand is {b}")),
                        (Some(a), Some(b)) => {
                            Some(format!("module operand is {a}; name operand is {b}"))
                        }
                    };
                    let v = self.add_import(m, n, ImportOp::StackGlobal, at, why);
                    self.push(v, at)?;
                }
                b'i' => {
                    let m = self.line("INST module", at)?;
                    let n = self.line("INST name", at)?;
                    let (m, n) = self.names(m, n, "INST", at)?;
                    self.pop_mark(at, "INST")?;
                    let v = self.add_import(m, n, ImportOp::Inst, at, None);
                    let made = self.note_call(&v, "INST", at);
                    self.push(made, at)?;
                }
                0x82..=0x84 => {
                    let code = match op {
                        0x82 => self.u8("EXT1", at)? as u32,
                        0x83 => self.u16("EXT2", at)? as u32,
                        _ => self.u32("EXT4", at)?,
                    };
                    let v = self.add_import(
                        "?".into(),
                        format!("<extension code {code}>"),
                        ImportOp::Ext,
                        at,
                        Some(format!("copyreg extension code {code} is resolved by the loading process's registry")),
                    );
                    self.push(v, at)?;
                }
                // ---- calls
                b'R' => {
                    self.pop(at, "REDUCE")?; // args
                    let f = self.pop(at, "REDUCE")?;
                    let r = self.note_call(&f, "REDUCE", at);
                    self.push(r, at)?;
                }
                b'b' => {
                    self.pop(at, "BUILD")?; // state
                    let obj = self.top(at, "BUILD")?;
                    if let V::Import(i) = obj {
                        let what = self
                            .report
                            .imports
                            .get(i)
                            .map(|g| format!("{}.{}", g.module, g.name))
                            .unwrap_or_default();
                        self.report.anomalies.push(Anomaly {
                            kind: AnomalyKind::BuildOnImport,
                            offset: at as u64,
                            detail: format!("BUILD sets attributes on the imported object {what} itself (attribute poisoning)"),
                        });
                    }
                    self.note_call(&obj, "BUILD", at);
                }
                0x81 => {
                    self.pop(at, "NEWOBJ")?;
                    let c = self.pop(at, "NEWOBJ")?;
                    let r = self.note_call(&c, "NEWOBJ", at);
                    self.push(r, at)?;
                }
                0x92 => {
                    self.pop(at, "NEWOBJ_EX")?;
                    self.pop(at, "NEWOBJ_EX")?;
                    let c = self.pop(at, "NEWOBJ_EX")?;
                    let r = self.note_call(&c, "NEWOBJ_EX", at);
                    self.push(r, at)?;
                }
                b'o' => {
                    let items = self.pop_mark(at, "OBJ")?;
                    let Some(c) = items.first() else {
                        return Err(self.err(at, "OBJ without a class"));
                    };
                    let r = self.note_call(c, "OBJ", at);
                    self.push(r, at)?;
                }
                // ---- persistent ids (PyTorch storages)
                b'P' => {
                    self.line("PERSID", at)?;
                    self.push(V::Other, at)?;
                }
                b'Q' => {
                    self.pop(at, "BINPERSID")?;
                    self.push(V::Other, at)?;
                }
                other => {
                    return Err(self.err(at, format!("unknown opcode 0x{other:02x}")));
                }
            }
        }
    }
}

/// The text of a STACK_GLOBAL operand, and why it is not a plain string.
fn operand(v: &V, imports: &[Import]) -> (String, Option<String>) {
    match v {
        V::Str(s) => (s.to_string(), None),
        V::Int(i) => (i.to_string(), Some(format!("the integer {i}"))),
        V::Import(i) | V::Made(i) => {
            let d = imports
                .get(*i)
                .map(|g| format!("{}.{}", g.module, g.name))
                .unwrap_or_default();
            (
                "unknown".into(),
                Some(format!("a computed value (from {d})")),
            )
        }
        V::Other => ("unknown".into(), Some("a non-string value".into())),
    }
}

fn parse_int_line(l: &[u8]) -> Option<V> {
    let s = std::str::from_utf8(l).ok()?.trim();
    match s {
        "00" | "01" => return Some(V::Other), // protocol-0 booleans
        _ => {}
    }
    if s.is_empty() || s.len() > 4300 {
        return None;
    }
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.parse::<i128>().map(V::Int).unwrap_or(V::Other))
}

fn parse_u64_line(l: &[u8]) -> Option<u64> {
    std::str::from_utf8(l).ok()?.trim().parse::<u64>().ok()
}

fn long_le(b: &[u8]) -> V {
    if b.len() > 16 {
        return V::Other;
    }
    if b.is_empty() {
        return V::Int(0);
    }
    let neg = b[b.len() - 1] & 0x80 != 0;
    let mut a = if neg { [0xffu8; 16] } else { [0u8; 16] };
    a[..b.len()].copy_from_slice(b);
    V::Int(i128::from_le_bytes(a))
}

fn latin1(b: &[u8]) -> String {
    b.iter().map(|&c| c as char).collect()
}

fn utf8(b: &[u8]) -> Option<String> {
    // Python accepts lone surrogates via 'surrogatepass'; keep them visible.
    match std::str::from_utf8(b) {
        Ok(s) => Some(s.to_string()),
        Err(_) => Some(String::from_utf8_lossy(b).into_owned()),
    }
}

/// Protocol-0 STRING argument: a Python repr, `'...'` or `"..."`, with
/// backslash escapes (decoded as pickle does, via `codecs.escape_decode`).
fn decode_string_literal(l: &[u8]) -> Option<String> {
    let l = l.strip_suffix(b"\r").unwrap_or(l);
    if l.len() < 2 {
        return None;
    }
    let q = l[0];
    if (q != b'\'' && q != b'"') || l[l.len() - 1] != q {
        return None;
    }
    let body = &l[1..l.len() - 1];
    let mut out = String::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        if c != b'\\' {
            out.push(c as char);
            i += 1;
            continue;
        }
        i += 1;
        let &e = body.get(i)?;
        i += 1;
        match e {
            b'n' => out.push('\n'),
            b't' => out.push('\t'),
            b'r' => out.push('\r'),
            b'\\' => out.push('\\'),
            b'\'' => out.push('\''),
            b'"' => out.push('"'),
            b'a' => out.push('\x07'),
            b'b' => out.push('\x08'),
            b'f' => out.push('\x0c'),
            b'v' => out.push('\x0b'),
            b'\n' => {}
            b'x' => {
                let h = body.get(i..i + 2)?;
                let v = u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()?;
                out.push(v as char);
                i += 2;
            }
            b'0'..=b'7' => {
                let mut v = (e - b'0') as u32;
                let mut k = 0;
                while k < 2 {
                    match body.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + (d - b'0') as u32;
                            i += 1;
                            k += 1;
                        }
                        _ => break,
                    }
                }
                out.push(char::from_u32(v & 0xff).unwrap_or('?'));
            }
            other => {
                out.push('\\');
                out.push(other as char);
            }
        }
    }
    Some(out)
}

/// Protocol-0 UNICODE argument: latin-1 bytes with `\uXXXX`/`\UXXXXXXXX`.
fn decode_raw_unicode_escape(l: &[u8]) -> String {
    let mut out = String::with_capacity(l.len());
    let mut i = 0;
    while i < l.len() {
        if l[i] == b'\\' {
            let (len, ok) = match l.get(i + 1) {
                Some(b'u') => (4, true),
                Some(b'U') => (8, true),
                _ => (0, false),
            };
            if ok
                && let Some(h) = l.get(i + 2..i + 2 + len)
                && let Some(c) = std::str::from_utf8(h)
                    .ok()
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .and_then(char::from_u32)
            {
                out.push(c);
                i += 2 + len;
                continue;
            }
        }
        out.push(l[i] as char);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(r: &PickleReport) -> Vec<String> {
        r.imports
            .iter()
            .map(|g| format!("{}.{}", g.module, g.name))
            .collect()
    }

    #[test]
    fn protocol0_global_and_reduce() {
        let p = b"cos\nsystem\n(S'echo hi'\ntR.";
        let r = analyze(p, &PickleLimits::default(), true);
        assert!(r.complete(), "{:?}", r.error);
        assert_eq!(names(&r), ["os.system"]);
        assert_eq!(r.imports[0].offset, 0);
        assert_eq!(
            r.imports[0].calls,
            vec![CallSite {
                op: "REDUCE",
                offset: 24
            }]
        );
    }

    #[test]
    fn stack_global_through_memo() {
        // \x80\x04 'os' MEMOIZE 'system' MEMOIZE POP POP GET0 GET1 STACK_GLOBAL ...
        let p = b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94" as &[u8];
        let mut v = p.to_vec();
        v.extend_from_slice(b"00h\x00h\x01\x93)R.");
        let r = analyze(&v, &PickleLimits::default(), true);
        assert!(r.complete(), "{:?}", r.error);
        assert_eq!(names(&r), ["os.system"]);
        assert!(r.imports[0].resolved);
        assert_eq!(r.imports[0].calls[0].op, "REDUCE");
    }

    #[test]
    fn stack_global_fed_by_protocol0_strings() {
        let p = b"S'os'\nS'system'\n\x93S'ls'\n\x85R.";
        let r = analyze(p, &PickleLimits::default(), true);
        assert!(r.complete(), "{:?}", r.error);
        assert_eq!(names(&r), ["os.system"]);
    }

    #[test]
    fn stack_global_fed_by_int_is_unresolved() {
        let p = b"\x80\x04K*\x8c\x02os\x93.";
        let r = analyze(p, &PickleLimits::default(), true);
        assert!(!r.imports[0].resolved);
        assert!(
            r.imports[0]
                .unresolved_reason
                .as_deref()
                .unwrap_or("")
                .contains("integer 42")
        );
    }

    #[test]
    fn truncated_is_an_error_not_clean() {
        let r = analyze(
            b"\x80\x04\x8c\x08builtins\x8c\x04ev",
            &PickleLimits::default(),
            true,
        );
        assert!(r.error.as_ref().is_some_and(|e| e.truncated));
    }

    #[test]
    fn forged_length_is_o1() {
        // BINUNICODE8 claiming 100 GB inside a few bytes: error, no allocation.
        let mut p = vec![0x80, 4, 0x8d];
        p.extend_from_slice(&100_000_000_000u64.to_le_bytes());
        p.extend_from_slice(&[b'x'; 1000]);
        let r = analyze(&p, &PickleLimits::default(), true);
        let e = r.error.expect("error");
        assert!(e.truncated && e.message.contains("100000000000"), "{e}");
    }

    #[test]
    fn memo_bomb_flagged() {
        let p = b"\x80\x02N r\xff\xff\xff\x7f.";
        let p: Vec<u8> = p.iter().copied().filter(|&b| b != b' ').collect();
        let r = analyze(&p, &PickleLimits::default(), true);
        assert!(
            r.anomalies.iter().any(|a| a.kind == AnomalyKind::MemoBomb),
            "{:?}",
            r.anomalies
        );
    }

    #[test]
    fn expansion_bomb_flagged() {
        let mut p = b"\x80\x02]q\x00(".to_vec();
        for _ in 0..20_000 {
            p.extend_from_slice(b"h\x00");
        }
        p.extend_from_slice(b"e.");
        let r = analyze(&p, &PickleLimits::default(), true);
        assert!(r.complete(), "{:?}", r.error);
        assert!(
            r.anomalies
                .iter()
                .any(|a| a.kind == AnomalyKind::ExpansionBomb)
        );
    }

    #[test]
    fn concatenated_pickles_and_trailing_data() {
        let mut p = b"\x80\x02K\x01.".to_vec();
        p.extend_from_slice(b"\x80\x02cbuiltins\neval\n.");
        p.extend_from_slice(b"\xff\xfe");
        let r = analyze(&p, &PickleLimits::default(), true);
        assert_eq!(r.pickles, 2);
        assert_eq!(names(&r), ["builtins.eval"]);
        assert_eq!(r.imports[0].pickle_index, 1);
        assert!(
            r.anomalies
                .iter()
                .any(|a| a.kind == AnomalyKind::TrailingData)
        );
        assert_eq!(r.first_int, Some(1));
    }

    #[test]
    fn build_on_import_flagged() {
        let p = b"\x80\x04ctorch\n_utils\n}b.";
        let r = analyze(p, &PickleLimits::default(), true);
        assert!(
            r.anomalies
                .iter()
                .any(|a| a.kind == AnomalyKind::BuildOnImport)
        );
    }

    #[test]
    fn inst_and_obj_and_newobj() {
        let p = b"(S'ls'\nios\nsystem\n.";
        let r = analyze(p, &PickleLimits::default(), true);
        assert_eq!(r.imports[0].op, ImportOp::Inst);
        assert_eq!(r.imports[0].calls[0].op, "INST");
        let p = b"\x80\x02(cbuiltins\nexec\nS'x'\no.";
        let r = analyze(p, &PickleLimits::default(), true);
        assert_eq!(r.imports[0].calls[0].op, "OBJ");
        let p = b"\x80\x02ccollections\nOrderedDict\n)\x81.";
        let r = analyze(p, &PickleLimits::default(), true);
        assert_eq!(r.imports[0].calls[0].op, "NEWOBJ");
    }

    #[test]
    fn extension_codes_are_unresolved() {
        let r = analyze(b"\x80\x02\x82\x07)R.", &PickleLimits::default(), true);
        assert_eq!(r.imports[0].op, ImportOp::Ext);
        assert!(!r.imports[0].resolved);
    }

    #[test]
    fn string_literal_escapes() {
        assert_eq!(
            decode_string_literal(b"'a\\x41\\n\\101'").as_deref(),
            Some("aA\nA")
        );
        assert_eq!(decode_raw_unicode_escape(b"\\u0041b"), "Ab");
    }
}
