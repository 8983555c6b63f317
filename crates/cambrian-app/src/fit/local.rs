//! Local targets: a directory, a `.safetensors`/`.gguf` file, an index or a config.json.
//! Only headers are read; every read is bounded by the format's header limit.

use super::Resolved;
use crate::{Error, Result};
use cambrian_fit::{ModelSource, ModelSpec};
use cambrian_formats::{Parse, gguf, safetensors};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

const MAX_CONFIG_BYTES: u64 = 16 << 20;
const MAX_TOKENIZER_BYTES: u64 = 256 << 20;
/// Safety cap on the number of shards read from a directory.
const MAX_SHARDS: usize = 4096;

fn io_err(p: &Path, e: std::io::Error) -> Error {
    let kind = if e.kind() == std::io::ErrorKind::NotFound {
        cambrian_types::ErrorKind::NotFound
    } else {
        cambrian_types::ErrorKind::BadInput
    };
    Error::new(kind, format!("cannot read {}: {e}", p.display())).with_source(e)
}

fn read_small(p: &Path, limit: u64) -> Result<Vec<u8>> {
    let f = File::open(p).map_err(|e| io_err(p, e))?;
    let len = f.metadata().map_err(|e| io_err(p, e))?.len();
    if len > limit {
        return Err(Error::bad_input(format!(
            "{} is {len} bytes, more than the {limit}-byte limit for this kind of file",
            p.display()
        )));
    }
    cambrian_formats::read_prefix(f, limit).map_err(|e| io_err(p, e))
}

fn read_json(p: &Path) -> Result<serde_json::Value> {
    let b = read_small(p, MAX_CONFIG_BYTES)?;
    serde_json::from_slice(&b).map_err(|e| {
        Error::bad_input(format!(
            "{}: not valid JSON at line {}, column {}: {e}",
            p.display(),
            e.line(),
            e.column()
        ))
        .with_hint("pass a Hugging Face config.json")
    })
}

fn spec_err(p: &Path, e: cambrian_fit::FitError) -> Error {
    let mut err = super::fit_err(e);
    err.message = format!("{}: {}", p.display(), err.message);
    err
}

/// Read one safetensors header from a file.
pub(crate) fn safetensors_header(p: &Path) -> Result<safetensors::SafetensorsHeader> {
    let f = File::open(p).map_err(|e| io_err(p, e))?;
    let len = f.metadata().map_err(|e| io_err(p, e))?.len();
    safetensors::read_header(std::io::BufReader::new(f), Some(len)).map_err(|e| {
        Error::bad_input(format!("{}: {e}", p.display()))
            .with_hint("the file is not a valid safetensors file (cambrian scan gives details)")
    })
}

/// Read a GGUF header, growing the prefix as the parser asks.
pub(crate) fn gguf_header(p: &Path) -> Result<gguf::GgufHeader> {
    let mut f = File::open(p).map_err(|e| io_err(p, e))?;
    let len = f.metadata().map_err(|e| io_err(p, e))?.len();
    let opts = gguf::ParseOptions::default();
    let mut want = (1u64 << 20).min(len);
    loop {
        f.seek(SeekFrom::Start(0)).map_err(|e| io_err(p, e))?;
        let buf =
            cambrian_formats::read_prefix((&mut f).take(want), want).map_err(|e| io_err(p, e))?;
        match gguf::parse(&buf, Some(len), &opts) {
            Ok(Parse::Complete(h)) => return Ok(h),
            Ok(Parse::NeedMore { total }) => {
                if total > len || total > opts.max_header_bytes || want >= len {
                    return Err(Error::bad_input(format!(
                        "{}: GGUF header needs {total} bytes but the file has {len}",
                        p.display()
                    )));
                }
                want = total.max(want.saturating_mul(2)).min(len);
            }
            Err(e) => {
                return Err(Error::bad_input(format!("{}: {e}", p.display()))
                    .with_hint("the file is not a valid GGUF file (cambrian scan gives details)"));
            }
        }
    }
}

fn tokenizer_near(dir: &Path) -> Option<Vec<u8>> {
    let t = dir.join("tokenizer.json");
    if t.is_file() {
        read_small(&t, MAX_TOKENIZER_BYTES).ok()
    } else {
        None
    }
}

fn name_of(p: &Path) -> String {
    p.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// `--config config.json`.
pub(crate) fn resolve_config(p: &Path) -> Result<Resolved> {
    let cfg = read_json(p)?;
    let name = cfg
        .get("_name_or_path")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| p.display().to_string());
    let spec =
        ModelSpec::from_source(&name, ModelSource::Config(cfg)).map_err(|e| spec_err(p, e))?;
    Ok(Resolved {
        spec,
        source: format!("{} (parameters computed from the config)", p.display()),
        transfer: None,
        tokenizer: p.parent().and_then(tokenizer_near),
    })
}

fn shards_in(dir: &Path) -> Result<(Vec<PathBuf>, Option<String>)> {
    let index = dir.join("model.safetensors.index.json");
    if index.is_file() {
        let b = read_small(&index, MAX_CONFIG_BYTES)?;
        let ix = safetensors::parse_index(&b)
            .map_err(|e| Error::bad_input(format!("{}: {e}", index.display())))?;
        if let Some(i) = ix.issues.first() {
            return Err(
                Error::bad_input(format!("{}: {}", index.display(), i.message))
                    .with_hint("run `cambrian scan` on this directory"),
            );
        }
        let shards: Vec<PathBuf> = ix.shards().into_iter().map(|s| dir.join(s)).collect();
        return Ok((shards, Some("model.safetensors.index.json".into())));
    }
    let mut v = Vec::new();
    let rd = std::fs::read_dir(dir).map_err(|e| io_err(dir, e))?;
    for e in rd {
        let e = e.map_err(|e| io_err(dir, e))?;
        let p = e.path();
        if p.extension().is_some_and(|x| x == "safetensors") && p.is_file() {
            v.push(p);
        }
    }
    v.sort();
    Ok((v, None))
}

/// A directory or a file.
pub(crate) fn resolve(p: &Path) -> Result<Resolved> {
    if p.is_dir() {
        return resolve_dir(p);
    }
    let name = name_of(p);
    let lower = name.to_ascii_lowercase();
    let dir = p.parent().map(Path::to_path_buf).unwrap_or_default();
    if lower.ends_with(".gguf") {
        let h = gguf_header(p)?;
        let model = h
            .get_str("general.name")
            .map(str::to_owned)
            .unwrap_or(name.clone());
        let spec = ModelSpec::from_source(&model, ModelSource::Gguf(Box::new(h)))
            .map_err(|e| spec_err(p, e))?;
        return Ok(Resolved {
            spec,
            source: format!("{} (GGUF header)", p.display()),
            transfer: None,
            tokenizer: tokenizer_near(&dir),
        });
    }
    if lower.ends_with(".safetensors")
        || lower.contains(".safetensors.") && !lower.ends_with(".json")
    {
        let h = safetensors_header(p)?;
        let cfg_path = dir.join("config.json");
        let config = if cfg_path.is_file() {
            Some(read_json(&cfg_path)?)
        } else {
            None
        };
        let spec = ModelSpec::from_source(
            &name,
            ModelSource::Safetensors {
                config,
                headers: vec![h],
            },
        )
        .map_err(|e| spec_err(p, e))?;
        return Ok(Resolved {
            spec,
            source: format!("{} (safetensors header)", p.display()),
            transfer: None,
            tokenizer: tokenizer_near(&dir),
        });
    }
    if lower.ends_with(".index.json") {
        return resolve_dir(&dir);
    }
    if lower.ends_with(".json") {
        return resolve_config(p);
    }
    Err(Error::usage(format!("{}: not a model directory, .safetensors, .gguf or config.json", p.display()))
        .with_hint("pass a directory, a .safetensors/.gguf file, --config config.json, or a Hub id such as owner/name"))
}

fn resolve_dir(dir: &Path) -> Result<Resolved> {
    let cfg_path = dir.join("config.json");
    let config = if cfg_path.is_file() {
        Some(read_json(&cfg_path)?)
    } else {
        None
    };
    let name = config
        .as_ref()
        .and_then(|c| {
            c.get("_name_or_path")
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| name_of(dir));
    let tokenizer = tokenizer_near(dir);
    let (shards, via) = shards_in(dir)?;
    if shards.len() > MAX_SHARDS {
        return Err(Error::bad_input(format!(
            "{}: {} safetensors files, more than {MAX_SHARDS}",
            dir.display(),
            shards.len()
        )));
    }
    if !shards.is_empty() {
        let mut headers = Vec::with_capacity(shards.len());
        for s in &shards {
            headers.push(safetensors_header(s)?);
        }
        let n = headers.len();
        let spec = ModelSpec::from_source(&name, ModelSource::Safetensors { config, headers })
            .map_err(|e| spec_err(dir, e))?;
        let source = format!(
            "{}: {n} safetensors header(s){}",
            dir.display(),
            via.map(|v| format!(" via {v}")).unwrap_or_default()
        );
        return Ok(Resolved {
            spec,
            source,
            transfer: None,
            tokenizer,
        });
    }
    let mut ggufs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io_err(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("gguf"))
        })
        .collect();
    ggufs.sort();
    if let Some(g) = ggufs.first() {
        let mut r = resolve(g)?;
        if ggufs.len() > 1 {
            r.spec.notes.push(format!(
                "{} GGUF files in the directory; used {}",
                ggufs.len(),
                name_of(g)
            ));
        }
        if r.tokenizer.is_none() {
            r.tokenizer = tokenizer;
        }
        return Ok(r);
    }
    match config {
        Some(cfg) => {
            let spec = ModelSpec::from_source(&name, ModelSource::Config(cfg))
                .map_err(|e| spec_err(&cfg_path, e))?;
            Ok(Resolved {
                spec,
                source: format!("{} (config only: no weight files)", cfg_path.display()),
                transfer: None,
                tokenizer,
            })
        }
        None => Err(Error::not_found(format!(
            "{}: no config.json, .safetensors or .gguf files",
            dir.display()
        ))
        .with_hint("pass a model directory, a weight file, or --config config.json")),
    }
}
