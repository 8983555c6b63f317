//! Non-pickle formats whose risk is in metadata: chat templates (Jinja,
//! never rendered: matched as text for sandbox-escape patterns), GGUF and
//! safetensors headers (parsed by `cambrian-formats`, structural issues
//! turned into findings, metadata strings checked), Keras Lambda layers in
//! `.keras` configs and HDF5 files.

use crate::source::{Source, read_vec};
use crate::{Finding, Level};
use cambrian_formats::{Parse, gguf, safetensors};

/// A pattern that has no business in a chat template.
pub struct Pattern {
    pub needle: &'static str,
    pub level: Level,
    pub why: &'static str,
}

/// Sandbox-escape patterns (Jinja SSTI payloads). Matched case-sensitively
/// on the template text with whitespace removed.
pub const TEMPLATE_PATTERNS: &[Pattern] = &[
    Pattern {
        needle: "__class__",
        level: Level::Dangerous,
        why: "reaches an object's class (first step of a Jinja sandbox escape)",
    },
    Pattern {
        needle: "__subclasses__",
        level: Level::Dangerous,
        why: "enumerates every loaded class (finds Popen, os._wrap_close, ...)",
    },
    Pattern {
        needle: "__globals__",
        level: Level::Dangerous,
        why: "reaches a function's module globals (os, sys, builtins)",
    },
    Pattern {
        needle: "__builtins__",
        level: Level::Dangerous,
        why: "reaches eval/exec/__import__",
    },
    Pattern {
        needle: "__import__",
        level: Level::Dangerous,
        why: "imports arbitrary modules",
    },
    Pattern {
        needle: "__mro__",
        level: Level::Dangerous,
        why: "walks the class hierarchy to `object`",
    },
    Pattern {
        needle: ".mro(",
        level: Level::Dangerous,
        why: "walks the class hierarchy to `object`",
    },
    Pattern {
        needle: "__base__",
        level: Level::Dangerous,
        why: "walks the class hierarchy to `object`",
    },
    Pattern {
        needle: "__init__.",
        level: Level::Dangerous,
        why: "reaches a function object's globals",
    },
    Pattern {
        needle: "__code__",
        level: Level::Dangerous,
        why: "reaches compiled code objects",
    },
    Pattern {
        needle: "__getattribute__",
        level: Level::Dangerous,
        why: "generic attribute access bypass",
    },
    Pattern {
        needle: "__dict__",
        level: Level::Suspicious,
        why: "raw attribute dictionary access",
    },
    Pattern {
        needle: "func_globals",
        level: Level::Dangerous,
        why: "Python 2 spelling of __globals__",
    },
    Pattern {
        needle: "popen",
        level: Level::Dangerous,
        why: "runs a shell command",
    },
    Pattern {
        needle: "subprocess",
        level: Level::Dangerous,
        why: "runs a process",
    },
    Pattern {
        needle: "os.system",
        level: Level::Dangerous,
        why: "runs a shell command",
    },
    Pattern {
        needle: "eval(",
        level: Level::Suspicious,
        why: "evaluates code",
    },
    Pattern {
        needle: "exec(",
        level: Level::Suspicious,
        why: "executes code",
    },
    Pattern {
        needle: "|attr(",
        level: Level::Suspicious,
        why: "attribute access by computed name (hides dunder names from filters)",
    },
    Pattern {
        needle: "\\x5f",
        level: Level::Suspicious,
        why: "escaped underscore (obfuscated dunder name)",
    },
    Pattern {
        needle: "\\u005f",
        level: Level::Suspicious,
        why: "escaped underscore (obfuscated dunder name)",
    },
    Pattern {
        needle: "lipsum",
        level: Level::Suspicious,
        why: "Jinja global whose __globals__ is a common escape route",
    },
    Pattern {
        needle: "cycler",
        level: Level::Suspicious,
        why: "Jinja global whose __init__.__globals__ is a common escape route",
    },
    Pattern {
        needle: "joiner",
        level: Level::Suspicious,
        why: "Jinja global whose __init__.__globals__ is a common escape route",
    },
    Pattern {
        needle: "namespace.__",
        level: Level::Dangerous,
        why: "dunder access on namespace",
    },
    Pattern {
        needle: "request.application",
        level: Level::Dangerous,
        why: "Flask-style escape route",
    },
    Pattern {
        needle: "self._TemplateReference__context",
        level: Level::Dangerous,
        why: "reaches the template context internals",
    },
];

/// Check one template's text. `where_` names the key/file for messages.
pub fn check_template(text: &str, where_: &str, member: Option<&str>, f: &mut Vec<Finding>) {
    let squeezed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    for p in TEMPLATE_PATTERNS {
        if let Some(i) = squeezed.find(p.needle) {
            let mut from = i.saturating_sub(24);
            while !squeezed.is_char_boundary(from) {
                from -= 1;
            }
            let ctx: String = squeezed[from..].chars().take(72).collect();
            f.push(
                Finding::new(
                    "template.sandbox-escape",
                    p.level,
                    format!("chat template {where_} contains `{}`: {}", p.needle, p.why),
                )
                .symbol(p.needle)
                .member(member.map(String::from))
                .evidence(format!(
                    "…{ctx}… (template text with whitespace removed; never rendered)"
                )),
            );
        }
    }
    // Concatenated dunder names: '__cla' ~ 'ss__' or "__" + "class".
    if squeezed.contains("'__'")
        || squeezed.contains("\"__\"")
        || squeezed.contains("~'__")
        || squeezed.contains("+'__")
    {
        f.push(
            Finding::new(
                "template.obfuscation",
                Level::Suspicious,
                format!("chat template {where_} builds dunder names from pieces"),
            )
            .member(member.map(String::from)),
        );
    }
}

/// `tokenizer_config.json` / `chat_template.json` / `*.jinja`.
pub fn scan_template_file(
    src: &dyn Source,
    base: &str,
    member: Option<&str>,
    f: &mut Vec<Finding>,
) {
    let data = match read_vec(src, 0, src.len().min(64 << 20)) {
        Ok(d) => d,
        Err(e) => {
            f.push(
                Finding::new("io.read", Level::Unreadable, e.to_string())
                    .member(member.map(String::from)),
            );
            return;
        }
    };
    if base.ends_with(".jinja") {
        check_template(&String::from_utf8_lossy(&data), base, member, f);
        return;
    }
    let v: serde_json::Value = match serde_json::from_slice(&data) {
        Ok(v) => v,
        Err(e) => {
            f.push(
                Finding::new(
                    "json.invalid",
                    Level::Unreadable,
                    format!(
                        "{base} is not valid JSON (line {}, column {}): {e}",
                        e.line(),
                        e.column()
                    ),
                )
                .member(member.map(String::from)),
            );
            return;
        }
    };
    match v.get("chat_template") {
        Some(serde_json::Value::String(t)) => {
            check_template(t, &format!("{base}:chat_template"), member, f)
        }
        Some(serde_json::Value::Array(list)) => {
            for (i, item) in list.iter().enumerate() {
                let name = item.get("name").and_then(|n| n.as_str()).unwrap_or("");
                if let Some(t) = item.get("template").and_then(|t| t.as_str()) {
                    check_template(
                        t,
                        &format!(
                            "{base}:chat_template[{i}]{}",
                            if name.is_empty() {
                                String::new()
                            } else {
                                format!(" ({name})")
                            }
                        ),
                        member,
                        f,
                    );
                }
            }
        }
        _ => {}
    }
}

/// Read a header prefix, growing it when the parser asks for more.
fn header_prefix<T, E>(
    src: &dyn Source,
    first: u64,
    max: u64,
    mut parse: impl FnMut(&[u8]) -> Result<Parse<T>, E>,
) -> Result<Result<T, E>, String> {
    let mut want = first.min(src.len());
    loop {
        let buf = read_vec(src, 0, want).map_err(|e| e.to_string())?;
        match parse(&buf) {
            Ok(Parse::Complete(t)) => return Ok(Ok(t)),
            Ok(Parse::NeedMore { total }) => {
                if total <= want || total > max || total > src.len() {
                    return Err(format!(
                        "header needs {total} bytes; the file has {} (limit {max})",
                        src.len()
                    ));
                }
                want = total;
            }
            Err(e) => return Ok(Err(e)),
        }
    }
}

fn issue_level(s: cambrian_formats::Severity) -> Level {
    match s {
        cambrian_formats::Severity::Error => Level::Suspicious,
        cambrian_formats::Severity::Warning => Level::Info,
    }
}

/// `file_len` is None when `src` holds only a prefix of the file (a Hub
/// header fetched by Range): checks against the file end are skipped.
pub fn scan_safetensors(
    src: &dyn Source,
    file_len: Option<u64>,
    member: Option<&str>,
    f: &mut Vec<Finding>,
) {
    let m = member.map(String::from);
    let r = header_prefix(src, 1 << 20, safetensors::MAX_HEADER_SIZE + 8, |b| {
        safetensors::parse(b, file_len)
    });
    let Some(h) = header_findings(r, "safetensors", "safetensors", |h| &h.issues, &m, f) else {
        return;
    };
    for (k, v) in &h.metadata {
        let mut g = Vec::new();
        check_template(v, &format!("__metadata__[{k:?}]"), member, &mut g);
        for mut x in g {
            x.rule = "safetensors.suspicious-metadata".into();
            f.push(x);
        }
        if looks_like_code(v) {
            f.push(
                Finding::new(
                    "safetensors.suspicious-metadata",
                    Level::Suspicious,
                    format!(
                        "__metadata__ value {k:?} looks like code or an encoded payload ({} bytes)",
                        v.len()
                    ),
                )
                .symbol(k.clone())
                .member(m.clone()),
            );
        }
    }
}

/// The header `header_prefix` parsed, with the parser's issues added as
/// `<format>.<code>` findings; or, when it could not be read or was
/// rejected, the `<format>.header` finding that says why, and `None`.
fn header_findings<H, E: std::fmt::Display>(
    r: Result<Result<H, E>, String>,
    format: &str,
    display_name: &str,
    issues: impl Fn(&H) -> &Vec<cambrian_formats::Issue>,
    m: &Option<String>,
    f: &mut Vec<Finding>,
) -> Option<H> {
    let rule = format!("{format}.header");
    let h = match r {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => {
            let why = format!("{display_name} header rejected: {e}");
            f.push(Finding::new(&rule, Level::Unreadable, why).member(m.clone()));
            return None;
        }
        Err(e) => {
            f.push(Finding::new(&rule, Level::Unreadable, e).member(m.clone()));
            return None;
        }
    };
    for i in issues(&h) {
        let mut x = Finding::new(
            &format!("{format}.{}", i.code),
            issue_level(i.severity),
            i.message.clone(),
        )
        .member(m.clone());
        if let Some(s) = &i.subject {
            x = x.symbol(s.clone());
        }
        f.push(x);
    }
    Some(h)
}

/// Metadata strings that carry code or payloads (base64 pickles, shell).
fn looks_like_code(v: &str) -> bool {
    let markers = [
        "import os",
        "subprocess",
        "os.system",
        "eval(",
        "exec(",
        "gASV",
        "Y29zCn",
        "#!/bin/",
        "curl ",
        "wget ",
        "powershell",
    ];
    markers.iter().any(|m| v.contains(m)) || v.starts_with("\u{80}")
}

pub fn scan_gguf(
    src: &dyn Source,
    file_len: Option<u64>,
    member: Option<&str>,
    f: &mut Vec<Finding>,
) {
    let m = member.map(String::from);
    let opts = gguf::ParseOptions::default();
    let r = header_prefix(src, 4 << 20, opts.max_header_bytes, |b| {
        gguf::parse(b, file_len, &opts)
    });
    let Some(h) = header_findings(r, "gguf", "GGUF", |h| &h.issues, &m, f) else {
        return;
    };
    for (k, v) in &h.metadata {
        if (k == "tokenizer.chat_template" || k.starts_with("tokenizer.chat_template."))
            && let Some(t) = v.as_str()
        {
            check_template(t, &format!("GGUF {k}"), member, f);
        }
    }
}

/// Legacy Keras `.h5`: the model config is a JSON string attribute stored
/// verbatim in the file; a Lambda layer carries marshalled Python bytecode.
pub fn scan_hdf5(src: &dyn Source, member: Option<&str>, f: &mut Vec<Finding>) {
    let m = member.map(String::from);
    let len = src.len();
    let chunk = 8u64 << 20;
    let needles: [&[u8]; 2] = [b"\"class_name\": \"Lambda\"", b"\"class_name\":\"Lambda\""];
    let mut off = 0u64;
    while off < len {
        let buf = match read_vec(src, off, chunk + 64) {
            Ok(b) => b,
            Err(e) => {
                f.push(Finding::new("io.read", Level::Unreadable, e.to_string()).member(m));
                return;
            }
        };
        for n in needles {
            if let Some(i) = memchr::memmem::find(&buf, n) {
                f.push(
                    Finding::new(
                        "keras.lambda-layer",
                        Level::Dangerous,
                        "Keras Lambda layer in the HDF5 model config: its function is marshalled Python bytecode that legacy loaders run",
                    )
                    .symbol("Lambda")
                    .member(m.clone())
                    .offset(off + i as u64),
                );
                return;
            }
        }
        off += chunk;
    }
}

/// `.keras` archives: `config.json` describes the layers.
pub fn scan_keras_config(data: &[u8], member: Option<&str>, f: &mut Vec<Finding>) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        f.push(
            Finding::new(
                "keras.config",
                Level::Unreadable,
                "config.json is not valid JSON",
            )
            .member(member.map(String::from)),
        );
        return;
    };
    let mut stack = vec![(&v, String::from("$"))];
    let mut n = 0;
    while let Some((x, path)) = stack.pop() {
        n += 1;
        if n > 1_000_000 {
            break;
        }
        match x {
            serde_json::Value::Object(o) => {
                if o.get("class_name").and_then(|c| c.as_str()) == Some("Lambda") {
                    let name = o
                        .get("config")
                        .and_then(|c| c.get("name"))
                        .and_then(|s| s.as_str())
                        .unwrap_or("?");
                    f.push(
                        Finding::new(
                            "keras.lambda-layer",
                            Level::Dangerous,
                            format!("Keras Lambda layer {name:?} at {path}: arbitrary Python runs on load unless safe_mode blocks it"),
                        )
                        .symbol(name.to_string())
                        .member(member.map(String::from)),
                    );
                }
                for (k, c) in o {
                    stack.push((c, format!("{path}.{k}")));
                }
            }
            serde_json::Value::Array(a) => {
                for (i, c) in a.iter().enumerate() {
                    stack.push((c, format!("{path}[{i}]")));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_patterns_found_and_clean_template_passes() {
        let mut f = Vec::new();
        check_template(
            "{{ ''.__class__.__mro__[1].__subclasses__() }}",
            "t",
            None,
            &mut f,
        );
        assert!(
            f.iter()
                .any(|x| x.symbol.as_deref() == Some("__subclasses__")
                    && x.level == Level::Dangerous)
        );
        let mut f = Vec::new();
        let ok = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' }}{% endfor %}{% if add_generation_prompt %}{{ raise_exception('x') if false }}{% endif %}";
        check_template(ok, "t", None, &mut f);
        assert!(f.is_empty(), "{f:?}");
    }

    #[test]
    fn multibyte_text_before_a_pattern_does_not_panic() {
        let mut f = Vec::new();
        check_template("ééééééééééééééééééééé__class__", "t", None, &mut f);
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn keras_lambda() {
        let cfg = br#"{"class_name":"Functional","config":{"layers":[{"class_name":"Lambda","config":{"name":"evil","function":"4wEAAAAA"}}]}}"#;
        let mut f = Vec::new();
        scan_keras_config(cfg, None, &mut f);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].symbol.as_deref(), Some("evil"));
    }
}
