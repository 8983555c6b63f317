//! Hub targets: model info, `config.json`, the shard index, and one ranged
//! read of the first 64 KiB of each safetensors shard (a second read only
//! when the header is longer). GGUF repositories: ranged reads of the header
//! of one file, growing as the parser asks.

use super::{HubAccess, Resolved, Transfer};
use crate::{Error, Result};
use cambrian_fit::{ModelSource, ModelSpec};
use cambrian_formats::{Parse, gguf, safetensors};
use cambrian_hub::{HubClient, HubConfig, HubError};

/// First ranged read of a shard header.
pub const FIRST_READ: u64 = 64 * 1024;
const MAX_CONFIG_BYTES: u64 = 16 << 20;
const MAX_TOKENIZER_BYTES: u64 = 256 << 20;
const MAX_SHARDS: usize = 1024;

fn hub_err(e: HubError) -> Error {
    let kind = e.kind();
    let hint = e.hint();
    let mut err = Error::new(kind, e.to_string()).with_source(e);
    if let Some(h) = hint {
        err = err.with_hint(h);
    }
    err
}

struct Reader {
    client: HubClient,
    id: String,
    rev: String,
    files: Vec<(String, u64)>,
}

impl Reader {
    async fn file(&mut self, name: &str, max: u64) -> Result<Vec<u8>> {
        let b = self
            .client
            .read_file(&self.id, &self.rev, name, max)
            .await
            .map_err(hub_err)?;
        self.files.push((name.to_owned(), b.len() as u64));
        Ok(b.to_vec())
    }
    async fn range(&mut self, name: &str, r: std::ops::Range<u64>) -> Result<Vec<u8>> {
        let b = self
            .client
            .read_range(&self.id, &self.rev, name, r)
            .await
            .map_err(hub_err)?;
        match self.files.iter_mut().find(|(n, _)| n == name) {
            Some(e) => e.1 += b.len() as u64,
            None => self.files.push((name.to_owned(), b.len() as u64)),
        }
        Ok(b.to_vec())
    }

    async fn safetensors_header(&mut self, name: &str) -> Result<safetensors::SafetensorsHeader> {
        let mut buf = self.range(name, 0..FIRST_READ).await?;
        loop {
            match safetensors::parse(&buf, None) {
                Ok(Parse::Complete(h)) => return Ok(h),
                Ok(Parse::NeedMore { total }) => {
                    let have = buf.len() as u64;
                    if have < FIRST_READ {
                        // The server returned fewer bytes than asked: the file is shorter than its header says.
                        return Err(Error::bad_input(format!("{}/{name}: file ends at byte {have}, its header needs {total}", self.id))
                            .with_hint("the file is truncated or not a safetensors file; run `cambrian scan` on it"));
                    }
                    let more = self.range(name, have..total).await?;
                    if more.is_empty() {
                        return Err(Error::remote(format!(
                            "{}/{name}: empty ranged read at byte {have}",
                            self.id
                        )));
                    }
                    buf.extend_from_slice(&more);
                }
                Err(e) => {
                    return Err(Error::bad_input(format!("{}/{name}: {e}", self.id))
                        .with_hint("run `cambrian scan` on this repository"));
                }
            }
        }
    }

    async fn gguf_header(&mut self, name: &str) -> Result<gguf::GgufHeader> {
        let opts = gguf::ParseOptions::default();
        let mut buf = self.range(name, 0..(1 << 20)).await?;
        loop {
            match gguf::parse(&buf, None, &opts) {
                Ok(Parse::Complete(h)) => return Ok(h),
                Ok(Parse::NeedMore { total }) => {
                    let have = buf.len() as u64;
                    let want = total.max(have.saturating_mul(2));
                    let more = self.range(name, have..want).await?;
                    if more.is_empty() {
                        return Err(Error::bad_input(format!(
                            "{}/{name}: GGUF header needs {total} bytes but the file ends at {have}",
                            self.id
                        )));
                    }
                    buf.extend_from_slice(&more);
                }
                Err(e) => return Err(Error::bad_input(format!("{}/{name}: {e}", self.id))),
            }
        }
    }
}

pub(crate) async fn resolve(
    id: &str,
    revision: Option<&str>,
    hub: &HubAccess,
    want_tokenizer: bool,
) -> Result<Resolved> {
    let mut cfg = HubConfig::default();
    if !hub.endpoint.is_empty() {
        cfg.endpoint = hub.endpoint.trim_end_matches('/').to_owned();
    }
    cfg.token = hub.token.clone();
    let client = HubClient::new(cfg).map_err(hub_err)?;
    let info = client
        .model_info(id, revision, &[])
        .await
        .map_err(hub_err)?;
    let rev = revision
        .map(str::to_owned)
        .or_else(|| info.record.sha.clone())
        .unwrap_or_else(|| "main".into());
    let mut r = Reader {
        client: client.clone(),
        id: id.to_owned(),
        rev,
        files: Vec::new(),
    };
    let siblings = info.record.siblings.clone();
    let has = |f: &str| siblings.iter().any(|s| s == f);

    let config = if has("config.json") || siblings.is_empty() {
        match r.file("config.json", MAX_CONFIG_BYTES).await {
            Ok(b) => serde_json::from_slice::<serde_json::Value>(&b)
                .ok()
                .filter(|v| v.is_object()),
            Err(e) if e.kind == cambrian_types::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        }
    } else {
        None
    };
    let config = config.filter(|c| cambrian_fit::Arch::from_config(c).is_ok());

    let mut shards: Vec<String> = Vec::new();
    let mut via = String::new();
    if has("model.safetensors.index.json") {
        let b = r
            .file("model.safetensors.index.json", MAX_CONFIG_BYTES)
            .await?;
        let ix = safetensors::parse_index(&b)
            .map_err(|e| Error::bad_input(format!("{id}/model.safetensors.index.json: {e}")))?;
        if let Some(i) = ix.issues.first() {
            return Err(Error::bad_input(format!(
                "{id}/model.safetensors.index.json: {}",
                i.message
            )));
        }
        shards = ix.shards();
        via = " via model.safetensors.index.json".into();
    } else if has("model.safetensors") {
        shards.push("model.safetensors".into());
    } else {
        let mut v: Vec<String> = siblings
            .iter()
            .filter(|s| s.ends_with(".safetensors") && !s.contains('/'))
            .cloned()
            .collect();
        v.sort();
        shards = v;
    }
    if shards.len() > MAX_SHARDS {
        return Err(Error::bad_input(format!(
            "{id}: {} safetensors shards, more than {MAX_SHARDS}",
            shards.len()
        )));
    }

    let tokenizer = if want_tokenizer && has("tokenizer.json") {
        Some(r.file("tokenizer.json", MAX_TOKENIZER_BYTES).await?)
    } else {
        None
    };

    let (spec, source) = if !shards.is_empty() {
        let mut headers = Vec::with_capacity(shards.len());
        for s in &shards {
            headers.push(r.safetensors_header(s).await?);
        }
        let n = headers.len();
        let spec = ModelSpec::from_source(id, ModelSource::Safetensors { config, headers })
            .map_err(super::fit_err)?;
        (
            spec,
            format!("{id}: {n} safetensors header(s){via}, read with HTTP Range"),
        )
    } else if let Some(g) = {
        let mut v: Vec<&String> = siblings
            .iter()
            .filter(|s| s.to_ascii_lowercase().ends_with(".gguf"))
            .collect();
        v.sort();
        v.first().map(|s| (*s).clone())
    } {
        let h = r.gguf_header(&g).await?;
        let mut spec =
            ModelSpec::from_source(id, ModelSource::Gguf(Box::new(h))).map_err(super::fit_err)?;
        let n = siblings
            .iter()
            .filter(|s| s.to_ascii_lowercase().ends_with(".gguf"))
            .count();
        if n > 1 {
            spec.notes.push(format!("{n} GGUF files in the repository; used {g} (pass the file's quant with --dtype to compare)"));
        }
        (spec, format!("{id}/{g}: GGUF header, read with HTTP Range"))
    } else {
        let spec = match config {
            Some(c) => {
                let mut s =
                    ModelSpec::from_source(id, ModelSource::Config(c)).map_err(super::fit_err)?;
                if let Some(st) = &info.record.safetensors {
                    s.params = Some(st.total);
                    s.params_by_dtype = st.parameters.clone();
                    s.params_source = "Hub safetensors field; architecture from config.json".into();
                }
                s
            }
            None => ModelSpec::from_source(id, ModelSource::HubModelInfo(info.raw.clone()))
                .map_err(super::fit_err)?,
        };
        (
            spec,
            format!("{id}: Hub model info (no weight headers found)"),
        )
    };
    let st = client.stats();
    Ok(Resolved {
        spec,
        source,
        transfer: Some(Transfer {
            requests: st.requests,
            bytes: st.bytes_received,
            files: r.files,
        }),
        tokenizer,
    })
}
