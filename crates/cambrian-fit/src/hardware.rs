//! The GPU catalog (data in `data/gpus.json`, one source per row) and `--gpu` parsing.

use crate::FitError;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// One accelerator.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GpuSpec {
    pub name: String,
    pub memory_bytes: u64,
    /// Peak memory bandwidth, bytes/s (`None` for a custom `--gpu 24GB`).
    pub bandwidth: Option<f64>,
    /// Dense BF16/FP16 tensor FLOP/s.
    pub flops: Option<f64>,
    /// Indicative on-demand price of one GPU, US$/hour.
    pub usd_per_hour: Option<f64>,
    /// Apple-style unified memory shared with the CPU.
    pub unified_memory: bool,
    pub source: String,
}

impl GpuSpec {
    /// Memory the GPU can give to one process: all of it, except unified
    /// memory where macOS lets the GPU wire about 75 % by default.
    pub fn usable_bytes(&self) -> u64 {
        if self.unified_memory {
            (self.memory_bytes as f64 * 0.75) as u64
        } else {
            self.memory_bytes
        }
    }
}

#[derive(Deserialize)]
struct Row {
    name: String,
    aliases: Vec<String>,
    memory_gib: Option<f64>,
    memory_bytes: Option<u64>,
    bandwidth: Option<f64>,
    flops: Option<f64>,
    usd_per_hour: Option<f64>,
    unified_memory: bool,
    source: String,
}

#[derive(Deserialize)]
struct File {
    gpus: Vec<Row>,
}

struct Catalog {
    specs: Vec<GpuSpec>,
    aliases: Vec<Vec<String>>,
}

fn catalog() -> &'static Catalog {
    static C: OnceLock<Catalog> = OnceLock::new();
    C.get_or_init(|| {
        // The file is part of the crate; a parse failure is caught by the tests.
        let f: File = serde_json::from_str(include_str!("../data/gpus.json"))
            .unwrap_or(File { gpus: Vec::new() });
        let mut specs = Vec::new();
        let mut aliases = Vec::new();
        for r in f.gpus {
            let memory_bytes = r
                .memory_bytes
                .unwrap_or_else(|| (r.memory_gib.unwrap_or(0.0) * GIB) as u64);
            specs.push(GpuSpec {
                name: r.name,
                memory_bytes,
                bandwidth: r.bandwidth,
                flops: r.flops,
                usd_per_hour: r.usd_per_hour,
                unified_memory: r.unified_memory,
                source: r.source,
            });
            aliases.push(r.aliases);
        }
        Catalog { specs, aliases }
    })
}

/// The built-in GPU catalog.
pub fn gpu_catalog() -> &'static [GpuSpec] {
    &catalog().specs
}

fn norm(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Parse `--gpu`: a catalog name or alias (`h100`, `RTX 4090`, `a100-40gb`),
/// or a memory size for anything else (`24GB`, `24GiB`, `80G`), optionally
/// with a bandwidth (`24GB@936GB/s`).
pub fn parse_gpu(s: &str) -> Result<GpuSpec, FitError> {
    let t = s.trim();
    let n = norm(t);
    if n.is_empty() {
        return Err(FitError::Gpu {
            input: s.into(),
            detail: "empty".into(),
        });
    }
    let c = catalog();
    for (spec, al) in c.specs.iter().zip(&c.aliases) {
        if norm(&spec.name) == n || al.iter().any(|a| norm(a) == n) {
            return Ok(spec.clone());
        }
    }
    let (mem, bw) = match t.split_once('@') {
        Some((m, b)) => (m, Some(b)),
        None => (t, None),
    };
    if let Some(bytes) = parse_size(mem) {
        let bandwidth = match bw {
            Some(b) => Some(parse_rate(b).ok_or_else(|| FitError::Gpu {
                input: s.into(),
                detail: format!("bandwidth {b:?} is not a size like 936GB/s"),
            })?),
            None => None,
        };
        return Ok(GpuSpec {
            name: format!("custom {}", mem.trim()),
            memory_bytes: bytes,
            bandwidth,
            flops: None,
            usd_per_hour: None,
            unified_memory: false,
            source: "given on the command line".into(),
        });
    }
    let names: Vec<&str> = c.specs.iter().map(|g| g.name.as_str()).collect();
    Err(FitError::Gpu {
        input: s.into(),
        detail: format!(
            "not a known GPU ({}) nor a memory size such as 24GB",
            names.join(", ")
        ),
    })
}

/// `936GB/s` → bytes/s (decimal units, as bandwidths are quoted).
pub fn parse_rate(s: &str) -> Option<f64> {
    let s = s.trim().trim_end_matches("/s").trim_end_matches("/S");
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let v: f64 = num.parse().ok()?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "gb" | "g" => 1e9,
        "tb" | "t" => 1e12,
        "mb" | "m" => 1e6,
        _ => return None,
    };
    (v.is_finite() && v > 0.0).then_some(v * mult)
}

/// `24GB` / `24G` / `24GiB` → bytes. Decimal `GB` for GPU memory means GiB
/// (vendors' "24 GB" cards report 24 GiB); `TB` likewise.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let v: f64 = num.parse().ok()?;
    if !(v.is_finite() && v > 0.0) {
        return None;
    }
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "g" | "gb" | "gib" => GIB,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "t" | "tb" | "tib" => GIB * 1024.0,
        _ => return None,
    };
    let b = v * mult;
    (b < 1e18).then_some(b as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_parses_and_has_required_rows() {
        let names: Vec<&str> = gpu_catalog().iter().map(|g| g.name.as_str()).collect();
        for want in [
            "T4",
            "L4",
            "A10G",
            "RTX 3090",
            "RTX 4090",
            "RTX 5090",
            "A100 40GB",
            "A100 80GB",
            "H100 80GB",
            "H200",
            "MI300X",
        ] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        assert!(
            gpu_catalog()
                .iter()
                .any(|g| g.unified_memory && g.name.starts_with("Apple"))
        );
        for g in gpu_catalog() {
            assert!(
                g.memory_bytes > 8 << 30
                    && !g.source.is_empty()
                    && g.bandwidth.is_some()
                    && g.flops.is_some(),
                "{g:?}"
            );
        }
    }

    #[test]
    fn gpu_parsing() {
        assert_eq!(parse_gpu("h100").unwrap().name, "H100 80GB");
        assert_eq!(parse_gpu("RTX 4090").unwrap().name, "RTX 4090");
        assert_eq!(parse_gpu("a100-40gb").unwrap().name, "A100 40GB");
        let c = parse_gpu("24GB").unwrap();
        assert_eq!(c.memory_bytes, 24 << 30);
        assert!(c.bandwidth.is_none());
        assert_eq!(parse_gpu("48GB@936GB/s").unwrap().bandwidth, Some(936e9));
        assert!(parse_gpu("banana").is_err());
        assert!(parse_gpu("-5GB").is_err());
        assert!(parse_gpu("").is_err());
    }
}
