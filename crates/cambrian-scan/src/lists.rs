//! The allow- and block-lists for pickle imports, kept as versioned data
//! (`data/pickle_globals.json`, compiled in) with the provenance of every
//! entry, and the classification of one `(module, name)` import.

use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// The raw data file, as shipped.
pub const PICKLE_GLOBALS_JSON: &str = include_str!("../data/pickle_globals.json");

/// How one import is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ImportClass {
    Innocuous,
    Suspicious,
    Dangerous,
}

/// The verdict on an import and the list entries that produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    pub class: ImportClass,
    /// Which rule matched, e.g. `blocklist os.*`, `builtins rule`,
    /// `allowlist collections.OrderedDict`, `not in any list`.
    pub rule: String,
    /// Source ids from the data file (`picklescan`, `modelscan`, ...).
    pub sources: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Raw {
    version: String,
    sources: Vec<RawSource>,
    dangerous: Vec<RawEntry>,
    builtins_rule: RawBuiltins,
    private_stdlib_rule: RawPrivate,
    innocuous: Vec<RawEntry>,
    overrides: Vec<RawOverride>,
}

/// One source of list entries (a repository file at a commit).
#[derive(Debug, Clone, Deserialize)]
pub struct RawSource {
    pub id: String,
    pub repo: String,
    pub path: String,
    pub commit: String,
    pub license: String,
    pub items: String,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Names {
    All(String),
    Some(Vec<String>),
}

#[derive(Debug, Deserialize)]
struct RawEntry {
    module: String,
    names: Names,
    sources: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct RawBuiltins {
    modules: Vec<String>,
    safe_names: Vec<String>,
    source: String,
}

#[derive(Debug, Deserialize)]
struct RawPrivate {
    modules: Vec<String>,
    allowed_imports: Vec<(String, String)>,
    allowed_modules: Vec<String>,
    source: String,
}

#[derive(Debug, Deserialize)]
struct RawOverride {
    module: String,
    names: Vec<String>,
    sources: Vec<String>,
    reason: String,
}

#[derive(Debug, Default)]
struct Rule {
    all: Vec<String>,                    // sources that block/allow the whole module
    names: HashMap<String, Vec<String>>, // name -> sources
}

/// The compiled lists.
#[derive(Debug)]
pub struct Lists {
    pub version: String,
    pub sources: Vec<RawSource>,
    dangerous: HashMap<String, Rule>,
    innocuous: HashMap<String, Rule>,
    builtin_modules: HashSet<String>,
    safe_builtins: HashSet<String>,
    builtins_source: String,
    private_modules: HashSet<String>,
    private_allowed: HashSet<(String, String)>,
    private_allowed_modules: HashSet<String>,
    private_source: String,
    overrides: HashMap<(String, String), (Vec<String>, String)>,
}

/// The lists compiled from the shipped data file.
pub fn lists() -> &'static Lists {
    static L: OnceLock<Lists> = OnceLock::new();
    L.get_or_init(|| {
        Lists::parse(PICKLE_GLOBALS_JSON).unwrap_or_else(|e| {
            // The file is compiled in and tested; failing here is a build bug.
            panic!("data/pickle_globals.json is invalid: {e}")
        })
    })
}

fn add(map: &mut HashMap<String, Rule>, e: RawEntry) {
    let r = map.entry(e.module).or_default();
    match e.names {
        Names::All(s) if s == "*" => r.all.extend(e.sources),
        Names::All(s) => r.names.entry(s).or_default().extend(e.sources),
        Names::Some(v) => {
            for n in v {
                r.names
                    .entry(n)
                    .or_default()
                    .extend(e.sources.iter().cloned());
            }
        }
    }
}

/// Python 2 module names that pickle maps to Python 3 ones on load
/// (`_compat_pickle.IMPORT_MAPPING`, the entries that matter here).
fn compat(module: &str) -> &str {
    match module {
        "__builtin__" => "builtins",
        "copy_reg" => "copyreg",
        "cPickle" => "pickle",
        "commands" => "subprocess",
        "urllib2" => "urllib.request",
        "httplib" => "http.client",
        _ => module,
    }
}

impl Lists {
    pub fn parse(json: &str) -> Result<Lists, serde_json::Error> {
        let raw: Raw = serde_json::from_str(json)?;
        let mut dangerous = HashMap::new();
        for e in raw.dangerous {
            add(&mut dangerous, e);
        }
        let mut innocuous = HashMap::new();
        for e in raw.innocuous {
            add(&mut innocuous, e);
        }
        let overrides = raw
            .overrides
            .into_iter()
            .flat_map(|o| {
                let (m, s, r) = (o.module, o.sources, o.reason);
                o.names
                    .into_iter()
                    .map(move |n| ((m.clone(), n), (s.clone(), r.clone())))
            })
            .collect();
        Ok(Lists {
            version: raw.version,
            sources: raw.sources,
            dangerous,
            innocuous,
            builtin_modules: raw.builtins_rule.modules.into_iter().collect(),
            safe_builtins: raw.builtins_rule.safe_names.into_iter().collect(),
            builtins_source: raw.builtins_rule.source,
            private_modules: raw.private_stdlib_rule.modules.into_iter().collect(),
            private_allowed: raw
                .private_stdlib_rule
                .allowed_imports
                .into_iter()
                .collect(),
            private_allowed_modules: raw
                .private_stdlib_rule
                .allowed_modules
                .into_iter()
                .collect(),
            private_source: raw.private_stdlib_rule.source,
            overrides,
        })
    }

    /// Classify one resolved import. Unresolved imports are dangerous by
    /// policy and never reach here.
    pub fn classify(&self, module: &str, name: &str) -> Classification {
        let key = (module.to_string(), name.to_string());
        if let Some((src, reason)) = self.overrides.get(&key) {
            return Classification {
                class: ImportClass::Innocuous,
                rule: format!("override {module}.{name}: {reason}"),
                sources: src.clone(),
            };
        }
        // Check the name as written and as Python 3 would import it.
        for m in [module, compat(module)] {
            if let Some(c) = self.blocked(m, name) {
                return c;
            }
        }
        let top = module.split('.').next().unwrap_or(module);
        if self.builtin_modules.contains(module) {
            if self.safe_builtins.contains(name) {
                return Classification {
                    class: ImportClass::Innocuous,
                    rule: format!("builtins rule: {name} is a pure type/function"),
                    sources: vec![self.builtins_source.clone()],
                };
            }
            return Classification {
                class: ImportClass::Dangerous,
                rule: format!("builtins rule: {module}.{name} is not a safe builtin"),
                sources: vec![self.builtins_source.clone()],
            };
        }
        // A top-level name of an allowed private module is fine; a dotted
        // name reaches into it and is not.
        let allowed_module = self.private_allowed_modules.contains(module) && !name.contains('.');
        let allowed_name = self
            .private_allowed
            .contains(&(module.to_string(), name.to_string()));
        if self.private_modules.contains(top) && !(allowed_name || allowed_module) {
            return Classification {
                class: ImportClass::Dangerous,
                rule: format!("private-stdlib rule: {top} is an internal stdlib module"),
                sources: vec![self.private_source.clone()],
            };
        }
        for m in [module, compat(module)] {
            if let Some(r) = self.innocuous.get(m) {
                if !r.all.is_empty() {
                    return Classification {
                        class: ImportClass::Innocuous,
                        rule: format!("allowlist {m}.*"),
                        sources: r.all.clone(),
                    };
                }
                if let Some(s) = r.names.get(name) {
                    return Classification {
                        class: ImportClass::Innocuous,
                        rule: format!("allowlist {m}.{name}"),
                        sources: s.clone(),
                    };
                }
            }
        }
        Classification {
            class: ImportClass::Suspicious,
            rule: "not in any allowlist".into(),
            sources: vec![],
        }
    }

    /// Blocklist match: the full dotted path `module.name` is split at every
    /// dot into (M, N); M blocked wholesale, or N equal to a blocked name or
    /// an attribute path under it (`Bdb.run` under `Bdb`).
    fn blocked(&self, module: &str, name: &str) -> Option<Classification> {
        let full = format!("{module}.{name}");
        let parts: Vec<&str> = full.split('.').collect();
        for k in 1..parts.len() {
            let m = parts[..k].join(".");
            let n = parts[k..].join(".");
            let Some(r) = self.dangerous.get(&m) else {
                continue;
            };
            // Whole-module blocks also reach dotted names (protocol 4 resolves
            // `numpy` + `f2py.crackfortran.getlincoef` by getattr).
            if !r.all.is_empty() {
                return Some(Classification {
                    class: ImportClass::Dangerous,
                    rule: format!("blocklist {m}.*"),
                    sources: r.all.clone(),
                });
            }
            let nparts: Vec<&str> = n.split('.').collect();
            for j in 1..=nparts.len() {
                let prefix = nparts[..j].join(".");
                if let Some(s) = r.names.get(&prefix) {
                    return Some(Classification {
                        class: ImportClass::Dangerous,
                        rule: format!("blocklist {m}.{prefix}"),
                        sources: s.clone(),
                    });
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(m: &str, n: &str) -> ImportClass {
        lists().classify(m, n).class
    }

    #[test]
    fn data_file_parses_and_has_provenance() {
        let l = lists();
        assert!(!l.version.is_empty());
        for s in &l.sources {
            if s.id != "cambrian" {
                assert_eq!(s.commit.len(), 40, "{}", s.id);
            }
        }
    }

    #[test]
    fn classic_cases() {
        assert_eq!(c("os", "system"), ImportClass::Dangerous);
        assert_eq!(c("posix", "system"), ImportClass::Dangerous);
        assert_eq!(c("__builtin__", "eval"), ImportClass::Dangerous);
        assert_eq!(c("builtins", "getattr"), ImportClass::Dangerous);
        assert_eq!(c("builtins", "globals"), ImportClass::Dangerous);
        assert_eq!(c("builtins", "dict"), ImportClass::Innocuous);
        assert_eq!(c("aiohttp.client", "ClientSession"), ImportClass::Dangerous);
        assert_eq!(c("bdb", "Bdb.run"), ImportClass::Dangerous);
        assert_eq!(c("trace", "Trace.run"), ImportClass::Dangerous);
        assert_eq!(
            c("torch.utils.bottleneck.__main__", "run_cprofile"),
            ImportClass::Dangerous
        );
        assert_eq!(
            c("torch._utils", "_rebuild_tensor_v2"),
            ImportClass::Innocuous
        );
        assert_eq!(
            c("torch._utils", "_rebuild_tensor"),
            ImportClass::Suspicious
        );
        assert_eq!(c("collections", "OrderedDict"), ImportClass::Innocuous);
        assert_eq!(c("_io", "FileIO"), ImportClass::Dangerous);
        assert_eq!(c("_codecs", "encode"), ImportClass::Innocuous);
        assert_eq!(c("uuid", "UUID"), ImportClass::Innocuous);
        assert_eq!(c("uuid", "_get_command_stdout"), ImportClass::Dangerous);
        assert_eq!(c("mypkg.models", "Net"), ImportClass::Suspicious);
        // A module name merely starting like a blocked one is not blocked.
        assert_eq!(c("osmnx", "graph"), ImportClass::Suspicious);
        assert_eq!(c("pickletools", "dis"), ImportClass::Suspicious);
    }
}
