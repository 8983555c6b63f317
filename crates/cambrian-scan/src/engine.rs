//! Format detection and per-format scanning of one file (or one archive
//! member, recursively). Detection looks at the bytes first (zip, 7z, NumPy,
//! GGUF, HDF5, gzip, safetensors, PROTO), then at the name.

use crate::lists::{ImportClass, lists};
use crate::npy;
use crate::pickle::{self, AnomalyKind, PickleReport};
use crate::source::{FileSource, Source, read_vec};
use crate::zip::{self, MemberData};
use crate::{FileReport, Finding, Level, Limits};
use std::cell::Cell;
use std::path::Path;

/// PyTorch's legacy-format magic number (`torch.serialization.MAGIC_NUMBER`).
pub const TORCH_MAGIC: i128 = 0x1950a86a20f9469cfc6c;

/// State shared by one file's scan (budget across nested members).
pub struct Ctx<'a> {
    pub limits: &'a Limits,
    pub used: Cell<u64>,
}

impl<'a> Ctx<'a> {
    pub fn new(limits: &'a Limits) -> Self {
        Ctx {
            limits,
            used: Cell::new(0),
        }
    }
}

/// Scan a file on disk. I/O errors opening it are returned; everything
/// about its content is a finding.
pub fn scan_file(path: &Path, display: &str, limits: &Limits) -> std::io::Result<FileReport> {
    let src = FileSource::open(path)?;
    let ctx = Ctx::new(limits);
    let (format, findings) = scan_source(&src, display, None, 0, &ctx);
    Ok(FileReport::new(display, src.len(), format, findings))
}

/// Scan bytes held in memory (a fetched Hub file, a test vector).
pub fn scan_bytes(data: &[u8], name: &str, limits: &Limits) -> FileReport {
    let ctx = Ctx::new(limits);
    let (format, findings) = scan_source(&data, name, None, 0, &ctx);
    FileReport::new(name, data.len() as u64, format, findings)
}

/// Scan any random-access source (e.g. a remote file read by Range through
/// [`crate::source::RangeSource`]) as a whole file named `name`.
pub fn scan_source_report(src: &dyn Source, name: &str, limits: &Limits) -> FileReport {
    let ctx = Ctx::new(limits);
    let (format, findings) = scan_source(src, name, None, 0, &ctx);
    FileReport::new(name, src.len(), format, findings)
}

/// Scan the header prefix of a safetensors or GGUF file whose full length
/// is unknown (fetched by Range from the Hub).
pub fn scan_header_prefix(prefix: &[u8], name: &str, _limits: &Limits) -> FileReport {
    let mut f = Vec::new();
    let fmt = if prefix.starts_with(b"GGUF") {
        crate::template::scan_gguf(&prefix, None, None, &mut f);
        "gguf"
    } else {
        crate::template::scan_safetensors(&prefix, None, None, &mut f);
        "safetensors"
    };
    FileReport::new(name, prefix.len() as u64, fmt, f)
}

fn ext(name: &str) -> String {
    let base = name.rsplit(['/', '\\', '!']).next().unwrap_or(name);
    match base.rsplit_once('.') {
        Some((_, e)) => e.to_ascii_lowercase(),
        None => String::new(),
    }
}

fn base_name(name: &str) -> &str {
    name.rsplit(['/', '\\']).next().unwrap_or(name)
}

const PICKLE_EXT: &[&str] = &[
    "pkl", "pickle", "joblib", "dat", "data", "dill", "sav", "pck", "pcl", "pkl3",
];
const TORCH_EXT: &[&str] = &["pt", "pth", "bin", "ckpt", "pt2", "mar"];

fn join(member: Option<&str>, name: &str) -> String {
    match member {
        Some(m) => format!("{m}!/{name}"),
        None => name.to_string(),
    }
}

/// Scan one byte source. `name` is used for extension hints; `member` is
/// the archive path of this source (None at top level).
pub fn scan_source(
    src: &dyn Source,
    name: &str,
    member: Option<&str>,
    depth: u32,
    ctx: &Ctx,
) -> (&'static str, Vec<Finding>) {
    let mut f = Vec::new();
    let head = match read_vec(src, 0, 64) {
        Ok(h) => h,
        Err(e) => {
            f.push(
                Finding::new("io.read", Level::Unreadable, format!("cannot read: {e}"))
                    .member(member.map(String::from)),
            );
            return ("other", f);
        }
    };
    let e = ext(name);
    let m = member.map(String::from);
    if head.is_empty() {
        return ("empty", f);
    }
    if zip::has_zip_magic(&head)
        || (matches!(
            e.as_str(),
            "zip" | "npz" | "pt" | "pth" | "keras" | "bin" | "ckpt"
        ) && head.starts_with(b"PK"))
    {
        let fmt = scan_zip(src, name, member, depth, ctx, &mut f);
        return (fmt, f);
    }
    if head.starts_with(b"7z\xbc\xaf\x27\x1c") {
        scan_7z(src, member, ctx, &mut f);
        return ("7z", f);
    }
    if head.starts_with(npy::MAGIC) {
        scan_npy(src, member, ctx, &mut f);
        return ("numpy", f);
    }
    if head.starts_with(b"GGUF") {
        crate::template::scan_gguf(src, Some(src.len()), member, &mut f);
        return ("gguf", f);
    }
    if head.starts_with(b"\x89HDF\r\n\x1a\n") {
        crate::template::scan_hdf5(src, member, &mut f);
        return ("hdf5", f);
    }
    if head.starts_with(b"\x1f\x8b") {
        scan_gzip(src, name, member, depth, ctx, &mut f);
        return ("gzip", f);
    }
    if head.starts_with(b"\xfd7zXZ\x00")
        || head.starts_with(b"BZh")
        || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
    {
        f.push(
            Finding::new(
                "container.compressed",
                Level::Unreadable,
                "xz/bzip2/zstd-compressed content is not unpacked: its content is unknown",
            )
            .member(m.clone()),
        );
        return ("compressed", f);
    }
    if head.len() >= 9 && head[8] == b'{' {
        let n = u64::from_le_bytes([
            head[0], head[1], head[2], head[3], head[4], head[5], head[6], head[7],
        ]);
        if n > 1 && (n <= src.len().saturating_sub(8) || e == "safetensors") {
            crate::template::scan_safetensors(src, Some(src.len()), member, &mut f);
            return ("safetensors", f);
        }
    }
    if e == "safetensors" {
        crate::template::scan_safetensors(src, Some(src.len()), member, &mut f);
        return ("safetensors", f);
    }
    if e == "onnx" {
        crate::onnx::scan_onnx(src, member, &mut f);
        return ("onnx", f);
    }
    let base = base_name(name);
    if base == "tokenizer_config.json" || base == "chat_template.json" || e == "jinja" {
        crate::template::scan_template_file(src, base, member, &mut f);
        return ("tokenizer-config", f);
    }
    if e == "md" {
        return ("model-card", f);
    }
    if e == "json" || e == "txt" || e == "yaml" || e == "yml" || e == "py" {
        return ("text", f);
    }
    let torchlike = TORCH_EXT.contains(&e.as_str());
    let picklish =
        torchlike || PICKLE_EXT.contains(&e.as_str()) || pickle::looks_like_pickle(&head);
    if picklish {
        let fmt = scan_pickle_source(src, member, torchlike, true, ctx, &mut f);
        return (fmt, f);
    }
    // Unknown name: a pickle is still a pickle (any file name loads).
    if is_opcode(head[0]) {
        let mut g = Vec::new();
        let fmt = scan_pickle_source(src, member, false, false, ctx, &mut g);
        if fmt != "other" {
            f.extend(g);
            return (fmt, f);
        }
    }
    ("other", f)
}

fn is_opcode(b: u8) -> bool {
    matches!(
        b,
        b'(' | b'.'
            | b'0'
            | b'1'
            | b'2'
            | b'F'
            | b'I'
            | b'J'
            | b'K'
            | b'L'
            | b'M'
            | b'N'
            | b'P'
            | b'Q'
            | b'R'
            | b'S'
            | b'T'
            | b'U'
            | b'V'
            | b'X'
            | b'a'
            | b'b'
            | b'c'
            | b'd'
            | b'}'
            | b'e'
            | b'g'
            | b'h'
            | b'i'
            | b'j'
            | b'l'
            | b']'
            | b'o'
            | b'p'
            | b'q'
            | b'r'
            | b's'
            | b't'
            | b')'
            | b'u'
            | b'G'
            | b'B'
            | b'C'
            | 0x80..=0x98
    )
}

/// Read a pickle stream (growing the window while it is truncated) and
/// turn the walk into findings. `strict`: a parse failure is `unreadable`
/// (the name or PROTO says pickle); otherwise an unparseable stream is
/// reported as format "other".
fn scan_pickle_source(
    src: &dyn Source,
    member: Option<&str>,
    torchlike: bool,
    strict: bool,
    ctx: &Ctx,
    f: &mut Vec<Finding>,
) -> &'static str {
    let len = src.len();
    let cap = ctx.limits.max_member_bytes.min(len);
    let mut window = cap.min(16 << 20);
    loop {
        let data = match read_vec(src, 0, window) {
            Ok(d) => d,
            Err(e) => {
                f.push(
                    Finding::new("io.read", Level::Unreadable, format!("cannot read: {e}"))
                        .member(member.map(String::from)),
                );
                return "pickle";
            }
        };
        let r = walk(&data, torchlike, &ctx.limits.pickle);
        let truncated = r.error.as_ref().is_some_and(|e| e.truncated);
        if truncated && window < cap {
            window = (window * 4).min(cap);
            continue;
        }
        if !strict && (r.pickles == 0 || r.error.is_some()) {
            return "other";
        }
        let legacy = r.first_int == Some(TORCH_MAGIC) || (torchlike && r.pickles >= 2);
        let cut = truncated && window < len;
        pickle_findings(&r, member, 0, f);
        if cut {
            f.push(
                Finding::new(
                    "pickle.too-large",
                    Level::Unreadable,
                    format!("pickle stream longer than the {} MiB scan limit", cap >> 20),
                )
                .member(member.map(String::from)),
            );
        }
        return if legacy { "pytorch-legacy" } else { "pickle" };
    }
}

fn walk(data: &[u8], torchlike: bool, lim: &pickle::PickleLimits) -> PickleReport {
    let first = pickle::analyze_n(data, lim, 1);
    if torchlike || first.first_int == Some(TORCH_MAGIC) {
        // torch.load's legacy path unpickles exactly five pickles (magic,
        // protocol, sys_info, the object, storage keys); raw storages follow.
        pickle::analyze_n(data, lim, 5)
    } else {
        pickle::analyze(data, lim, true)
    }
}

/// Turn a pickle walk into findings (one per distinct import and level).
pub fn pickle_findings(r: &PickleReport, member: Option<&str>, base: u64, f: &mut Vec<Finding>) {
    let m = member.map(String::from);
    let l = lists();
    let mut seen: Vec<(String, Level, usize)> = Vec::new();
    for imp in &r.imports {
        let sym = format!("{}.{}", imp.module, imp.name);
        let (level, rule, why) = if !imp.resolved {
            (
                Level::Dangerous,
                "pickle.unresolved-import",
                format!(
                    "import cannot be resolved statically: {}",
                    imp.unresolved_reason.clone().unwrap_or_default()
                ),
            )
        } else {
            let c = l.classify(&imp.module, &imp.name);
            let level = match c.class {
                ImportClass::Dangerous => Level::Dangerous,
                ImportClass::Suspicious => Level::Suspicious,
                ImportClass::Innocuous => Level::Innocuous,
            };
            let src = if c.sources.is_empty() {
                String::new()
            } else {
                format!(" [{}]", c.sources.join(", "))
            };
            (
                level,
                "pickle.import",
                format!("{}{src}; lists v{}", c.rule, l.version),
            )
        };
        if let Some(s) = seen.iter_mut().find(|(s, lv, _)| *s == sym && *lv == level) {
            s.2 += 1;
            continue;
        }
        seen.push((sym.clone(), level, 1));
        let calls = if imp.calls.is_empty() {
            String::new()
        } else {
            let c: Vec<String> = imp
                .calls
                .iter()
                .take(4)
                .map(|c| format!("{} at byte {}", c.op, base + c.offset))
                .collect();
            format!(", used by {}", c.join(", "))
        };
        f.push(
            Finding::new(
                rule,
                level,
                format!(
                    "{} {sym} ({}){calls}",
                    if imp.op == pickle::ImportOp::Inst {
                        "instantiates"
                    } else {
                        "imports"
                    },
                    level.as_str()
                ),
            )
            .symbol(sym)
            .member(m.clone())
            .offset(base + imp.offset)
            .opcode(imp.op.name())
            .evidence(why),
        );
    }
    // Repeat counts on the messages.
    for (sym, level, n) in &seen {
        if *n > 1
            && let Some(x) = f.iter_mut().find(|x| {
                x.symbol.as_deref() == Some(sym.as_str()) && x.level == *level && x.member == m
            })
        {
            x.message.push_str(&format!(" [{n} occurrences]"));
        }
    }
    if r.imports_dropped > 0 {
        f.push(
            Finding::new(
                "pickle.too-many-imports",
                Level::Unreadable,
                format!(
                    "{} further imports beyond the recorded limit were not classified",
                    r.imports_dropped
                ),
            )
            .member(m.clone()),
        );
    }
    for a in &r.anomalies {
        let (rule, level) = match a.kind {
            AnomalyKind::MemoBomb => ("pickle.memo-bomb", Level::Suspicious),
            AnomalyKind::ExpansionBomb => ("pickle.expansion-bomb", Level::Suspicious),
            AnomalyKind::BuildOnImport => ("pickle.build-on-import", Level::Dangerous),
            AnomalyKind::LimitReached => ("pickle.limit", Level::Unreadable),
            AnomalyKind::TrailingData => ("pickle.trailing-data", Level::Info),
        };
        f.push(
            Finding::new(rule, level, a.detail.clone())
                .member(m.clone())
                .offset(base + a.offset),
        );
    }
    if let Some(e) = &r.error {
        let not_pickle = r.imports.is_empty() && r.pickles == 0 && r.protocol.is_none();
        if not_pickle {
            f.push(
                Finding::new(
                    "pickle.not-a-pickle",
                    Level::Info,
                    format!("does not parse as a pickle ({e}); loading fails before anything could be imported"),
                )
                .member(m.clone())
                .offset(base + e.offset),
            );
        } else {
            f.push(
                Finding::new(
                    "pickle.unreadable",
                    Level::Unreadable,
                    format!(
                        "pickle stream cannot be parsed past byte {}: {}; what precedes it would run on load",
                        base + e.offset,
                        e.message
                    ),
                )
                .member(m.clone())
                .offset(base + e.offset),
            );
        }
    }
}

fn scan_npy(src: &dyn Source, member: Option<&str>, ctx: &Ctx, f: &mut Vec<Finding>) {
    let m = member.map(String::from);
    let head = match read_vec(src, 0, 1 << 16) {
        Ok(h) => h,
        Err(e) => {
            f.push(Finding::new("io.read", Level::Unreadable, e.to_string()).member(m));
            return;
        }
    };
    let h = match npy::parse_header(&head, src.len()) {
        Ok(h) => h,
        Err(e) => {
            f.push(
                Finding::new(
                    "numpy.header",
                    Level::Unreadable,
                    format!(".npy header: {e}"),
                )
                .member(m),
            );
            return;
        }
    };
    if !h.has_object {
        return;
    }
    f.push(
        Finding::new("numpy.object-array", Level::Info, format!("object dtype: a pickle follows the header at byte {} (np.load needs allow_pickle=True)", h.data_offset))
            .member(m.clone())
            .offset(h.data_offset),
    );
    let want = src
        .len()
        .saturating_sub(h.data_offset)
        .min(ctx.limits.max_member_bytes);
    let data = match read_vec(src, h.data_offset, want) {
        Ok(d) => d,
        Err(e) => {
            f.push(Finding::new("io.read", Level::Unreadable, e.to_string()).member(m));
            return;
        }
    };
    // np.load unpickles one pickle.
    let r = pickle::analyze(&data, &ctx.limits.pickle, false);
    pickle_findings(&r, member, h.data_offset, f);
}

fn scan_gzip(
    src: &dyn Source,
    name: &str,
    member: Option<&str>,
    depth: u32,
    ctx: &Ctx,
    f: &mut Vec<Finding>,
) {
    use std::io::Read;
    let m = member.map(String::from);
    if depth >= ctx.limits.max_depth {
        f.push(
            Finding::new(
                "container.depth",
                Level::Unreadable,
                format!(
                    "nested deeper than {} levels: not unpacked",
                    ctx.limits.max_depth
                ),
            )
            .member(m),
        );
        return;
    }
    let raw = match read_vec(src, 0, src.len().min(ctx.limits.max_member_bytes)) {
        Ok(r) => r,
        Err(e) => {
            f.push(Finding::new("io.read", Level::Unreadable, e.to_string()).member(m));
            return;
        }
    };
    let cap = ctx.limits.max_member_bytes.min(
        ctx.limits
            .max_total_uncompressed
            .saturating_sub(ctx.used.get()),
    );
    let mut out = Vec::new();
    let mut dec = flate2::read::MultiGzDecoder::new(raw.as_slice()).take(cap + 1);
    if let Err(e) = dec.read_to_end(&mut out) {
        f.push(
            Finding::new(
                "gzip.corrupt",
                Level::Unreadable,
                format!("gzip stream: {e}"),
            )
            .member(m),
        );
        return;
    }
    if out.len() as u64 > cap {
        f.push(
            Finding::new(
                "gzip.too-large",
                Level::Unreadable,
                format!("decompresses to more than {cap} bytes: not scanned"),
            )
            .member(m),
        );
        return;
    }
    let ratio = out.len() as u64 / (raw.len() as u64).max(1);
    if out.len() > (1 << 20) && ratio > ctx.limits.max_ratio {
        f.push(
            Finding::new(
                "gzip.bomb",
                Level::Suspicious,
                format!(
                    "compression ratio {ratio}:1 above {}:1",
                    ctx.limits.max_ratio
                ),
            )
            .member(m.clone()),
        );
    }
    ctx.used.set(ctx.used.get() + out.len() as u64);
    let inner = name
        .strip_suffix(".gz")
        .or_else(|| name.strip_suffix(".gzip"))
        .unwrap_or(name);
    let inner_name = join(member, &format!("{}[gunzip]", base_name(inner)));
    let (_, g) = scan_source(&out, inner, Some(&inner_name), depth + 1, ctx);
    f.extend(g);
}

fn scan_7z(src: &dyn Source, member: Option<&str>, ctx: &Ctx, f: &mut Vec<Finding>) {
    let m = member.map(String::from);
    f.push(
        Finding::new(
            "7z.not-unpacked",
            Level::Unreadable,
            "7z archive: members are not unpacked (no 7z decoder); content unknown. Pickle streams stored uncompressed inside are carved and scanned below",
        )
        .member(m.clone()),
    );
    // Carve: stored (copy-method) members keep pickle bytes verbatim.
    let data = match read_vec(src, 0, src.len().min(64 << 20)) {
        Ok(d) => d,
        Err(_) => return,
    };
    let mut at = 0usize;
    let mut tries = 0;
    while let Some(i) = memchr::memchr(0x80, &data[at..]) {
        let p = at + i;
        at = p + 1;
        if !pickle::looks_like_pickle(&data[p..]) {
            continue;
        }
        tries += 1;
        if tries > 1000 {
            break;
        }
        let r = pickle::analyze(&data[p..], &ctx.limits.pickle, false);
        if r.imports.is_empty() {
            continue;
        }
        let carved = PickleReport { error: None, ..r };
        let name = join(member, &format!("[carved pickle at byte {p}]"));
        pickle_findings(&carved, Some(&name), p as u64, f);
        at = p + carved.end.max(1) as usize;
    }
}

fn scan_zip(
    src: &dyn Source,
    name: &str,
    member: Option<&str>,
    depth: u32,
    ctx: &Ctx,
    f: &mut Vec<Finding>,
) -> &'static str {
    let m = member.map(String::from);
    if depth >= ctx.limits.max_depth {
        f.push(
            Finding::new(
                "container.depth",
                Level::Unreadable,
                format!(
                    "archive nested deeper than {} levels: not unpacked",
                    ctx.limits.max_depth
                ),
            )
            .member(m),
        );
        return "zip";
    }
    let limits = zip::ZipLimits {
        max_entries: ctx.limits.max_entries,
        ..Default::default()
    };
    let arch = match zip::read_archive(src, &limits) {
        Ok(a) => a,
        Err(e) => {
            f.push(Finding::new("zip.corrupt", Level::Unreadable, format!("{e}")).member(m));
            return "zip";
        }
    };
    if arch.recovered {
        f.push(
            Finding::new(
                "zip.no-central-directory",
                Level::Suspicious,
                arch.notes.first().cloned().unwrap_or_default(),
            )
            .member(m.clone()),
        );
    }
    for n in arch.notes.iter().skip(usize::from(arch.recovered)) {
        f.push(Finding::new("zip.structure", Level::Info, n.clone()).member(m.clone()));
    }
    let names: Vec<&str> = arch.entries.iter().map(|e| e.name.as_str()).collect();
    let fmt = if names.iter().any(|n| n.ends_with("data.pkl")) {
        "pytorch-zip"
    } else if names.contains(&"config.json")
        && (names.contains(&"metadata.json") || names.iter().any(|n| n.ends_with(".weights.h5")))
    {
        "keras"
    } else if ext(name) == "npz" || (!names.is_empty() && names.iter().all(|n| n.ends_with(".npy")))
    {
        "npz"
    } else {
        "zip"
    };
    let mut seen = std::collections::HashSet::new();
    for e in &arch.entries {
        let path = join(member, &e.name);
        let pm = Some(path.clone());
        if !seen.insert(e.name.as_str()) {
            f.push(Finding::new("zip.duplicate-member", Level::Suspicious, format!("member name {:?} appears more than once: loaders disagree on which copy they read", e.name)).member(pm.clone()));
        }
        if let Some(why) = zip::traversal(&e.name) {
            f.push(
                Finding::new(
                    "zip.path-traversal",
                    Level::Suspicious,
                    format!(
                        "member name {:?} escapes the extraction folder ({why})",
                        e.name
                    ),
                )
                .member(pm.clone()),
            );
        }
        if let Some(ln) = &e.local_name {
            f.push(
                Finding::new(
                    "zip.name-mismatch",
                    Level::Suspicious,
                    format!("central directory names {:?} but the local header says {:?}: strict readers reject it, PyTorch reads it", e.name, ln),
                )
                .member(pm.clone())
                .offset(e.header_offset),
            );
        }
        if e.is_dir() {
            continue;
        }
        let head = match zip::member_head(src, e, 16) {
            Ok(h) => h,
            Err(err) => {
                f.push(Finding::new("io.read", Level::Unreadable, err.to_string()).member(pm));
                continue;
            }
        };
        let mext = ext(&e.name);
        let base = base_name(&e.name);
        let named_pickle = PICKLE_EXT.contains(&mext.as_str()) || mext == "pkl";
        let is_pickle = named_pickle || pickle::looks_like_pickle(&head);
        let is_npy = mext == "npy" || head.starts_with(npy::MAGIC);
        let is_nested = zip::has_zip_magic(&head)
            || head.starts_with(b"7z\xbc\xaf\x27\x1c")
            || head.starts_with(b"\x1f\x8b");
        let is_cfg = (fmt == "keras" && base == "config.json")
            || base == "tokenizer_config.json"
            || base == "chat_template.json";
        let is_weights =
            mext == "h5" || mext == "onnx" || mext == "safetensors" || head.starts_with(b"GGUF");
        if e.method != 0 && e.method != 8 {
            f.push(
                Finding::new(
                    "zip.unsupported-compression",
                    Level::Unreadable,
                    format!(
                        "compression method {} is not supported: content unknown",
                        e.method
                    ),
                )
                .member(pm),
            );
            continue;
        }
        if e.encrypted() && !pickle::looks_like_pickle(&head) && !is_npy && !is_nested {
            f.push(
                Finding::new(
                    "zip.encrypted",
                    Level::Unreadable,
                    "member is encrypted: its content cannot be checked",
                )
                .member(pm),
            );
            continue;
        }
        if e.flags & 0x61 != 0 {
            f.push(
                Finding::new(
                    "zip.flags-ignored",
                    Level::Info,
                    format!("general-purpose flags 0x{:04x} set on plain data; PyTorch ignores them and so does this reader", e.flags),
                )
                .member(pm.clone()),
            );
        }
        if !(is_pickle || is_npy || is_nested || is_cfg || is_weights) {
            continue;
        }
        let room = ctx
            .limits
            .max_total_uncompressed
            .saturating_sub(ctx.used.get());
        let cap = ctx.limits.max_member_bytes.min(room);
        let data = match zip::read_member(src, e, cap, ctx.limits.max_ratio) {
            Ok(MemberData::Bytes(d)) => d,
            Ok(MemberData::TooLarge(_)) => {
                f.push(Finding::new("zip.member-too-large", Level::Unreadable, format!("member larger than the {} MiB read limit (or the archive's remaining budget): not scanned", cap >> 20)).member(pm));
                continue;
            }
            Ok(MemberData::Bomb {
                produced,
                compressed,
            }) => {
                f.push(
                    Finding::new(
                        "zip.bomb",
                        Level::Suspicious,
                        format!("inflating stopped: {produced} bytes from at most {compressed} compressed (ratio above {}:1)", ctx.limits.max_ratio),
                    )
                    .member(pm.clone()),
                );
                f.push(
                    Finding::new(
                        "zip.member-unread",
                        Level::Unreadable,
                        "member not scanned (decompression bomb)",
                    )
                    .member(pm),
                );
                continue;
            }
            Ok(MemberData::Unsupported(meth)) => {
                f.push(
                    Finding::new(
                        "zip.unsupported-compression",
                        Level::Unreadable,
                        format!("compression method {meth}"),
                    )
                    .member(pm),
                );
                continue;
            }
            Ok(MemberData::Corrupt(msg)) => {
                f.push(Finding::new("zip.corrupt-member", Level::Unreadable, msg).member(pm));
                continue;
            }
            Err(err) => {
                f.push(Finding::new("io.read", Level::Unreadable, err.to_string()).member(pm));
                continue;
            }
        };
        ctx.used.set(ctx.used.get() + data.len() as u64);
        if data.len() as u64 == e.uncompressed {
            let mut c = flate2::Crc::new();
            c.update(&data);
            if c.sum() != e.crc32 {
                f.push(
                    Finding::new(
                        "zip.crc-mismatch",
                        Level::Suspicious,
                        format!("CRC-32 is {:08x}, the directory says {:08x}: strict readers reject the member, PyTorch does not check", c.sum(), e.crc32),
                    )
                    .member(pm.clone()),
                );
            }
        }
        if e.encrypted() {
            f.push(
                Finding::new(
                    "zip.flags-ignored",
                    Level::Info,
                    "encryption flag set but the data is plain (PyTorch ignores the flag)",
                )
                .member(pm.clone()),
            );
        }
        if is_pickle && !is_npy {
            let strict = named_pickle;
            let r = pickle::analyze(&data, &ctx.limits.pickle, true);
            if strict || r.error.is_none() || !r.imports.is_empty() {
                pickle_findings(&r, Some(&path), 0, f);
            } else {
                f.push(
                    Finding::new(
                        "pickle.magic-data",
                        Level::Info,
                        "member starts like a pickle (PROTO) but does not parse as one and imports nothing: treated as data",
                    )
                    .member(pm),
                );
            }
            continue;
        }
        let (_, g) = scan_source(&data, &e.name, Some(&path), depth + 1, ctx);
        f.extend(g);
        if is_cfg && fmt == "keras" {
            crate::template::scan_keras_config(&data, Some(&path), f);
        }
    }
    if fmt == "pytorch-zip"
        && names
            .iter()
            .any(|n| n.contains("/code/") || n.starts_with("code/"))
    {
        f.push(
            Finding::new(
                "pytorch.torchscript",
                Level::Info,
                "TorchScript archive: code/ members hold TorchScript source run by torch.jit.load",
            )
            .member(m),
        );
    }
    fmt
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Verdict;

    #[test]
    fn png_in_pt_is_not_a_pickle() {
        let r = scan_bytes(b"\x89PNG\r\n\x1a\n", "bad.pt", &Limits::default());
        assert_eq!(r.verdict, Verdict::Clean, "{:?}", r.findings);
        assert!(r.findings.iter().any(|f| f.rule == "pickle.not-a-pickle"));
    }

    #[test]
    fn truncated_proto_pickle_is_unreadable() {
        let r = scan_bytes(b"\x80\x04\x95\x10\x00\x00", "x.pkl", &Limits::default());
        assert_eq!(r.verdict, Verdict::Unreadable, "{:?}", r.findings);
    }

    #[test]
    fn one_kb_file_claiming_100gb_header() {
        // safetensors-like header length of 100 GB in a 1 KB file.
        let mut v = (100u64 << 30).to_le_bytes().to_vec();
        v.push(b'{');
        v.resize(1024, b' ');
        let r = scan_bytes(&v, "model.safetensors", &Limits::default());
        assert_eq!(r.verdict, Verdict::Unreadable, "{:?}", r.findings);
        // And a pickle BINBYTES8 claiming 100 GB.
        let mut p = vec![0x80, 4, 0x8e];
        p.extend_from_slice(&(100u64 << 30).to_le_bytes());
        p.resize(1024, 0);
        let r = scan_bytes(&p, "x.pkl", &Limits::default());
        assert_eq!(r.verdict, Verdict::Unreadable);
    }
}
