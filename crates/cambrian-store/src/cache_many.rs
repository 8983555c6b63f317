//! Bulk reads of the JSON cache: the entries of many keys of one namespace
//! in one pass, handed to the caller as text (unparsed), so that a caller
//! such as `find` (tens of thousands of cached model details per run) pays
//! neither a statement per key nor a parse into `serde_json::Value` before
//! its own parse.

use crate::error::Ctx;
use crate::{Store, StoreError, micros_to_dt};
use chrono::{DateTime, Utc};
use std::collections::HashSet;

/// Above this many distinct keys a request scans the namespace once (keys
/// first, the JSON only of wanted rows) instead of one index lookup per key.
/// Below it, lookups go in key order, so that consecutive keys share B-tree
/// pages: the cost follows the number of keys asked, not the size of the
/// namespace (`find` asks for a task's survivors, often a quarter of it).
const SCAN_ABOVE: usize = 50_000;

/// A cache entry as stored: when it was fetched and its JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheText {
    pub fetched_at: DateTime<Utc>,
    pub json: String,
}

impl Store {
    /// Calls `visit(key, fetched_at, json)` for every key of `keys` that has
    /// an entry in `namespace` (once per distinct key, in no particular
    /// order). Keys without an entry are skipped. The JSON text is borrowed
    /// from SQLite's row buffer: parse it straight into the caller's type.
    /// An error returned by `visit` stops the pass and is returned.
    pub fn cache_visit_many<E>(
        &self,
        namespace: &str,
        keys: &[String],
        mut visit: impl FnMut(&str, DateTime<Utc>, &str) -> Result<(), E>,
    ) -> Result<Result<(), E>, StoreError> {
        let wanted: HashSet<&str> = keys.iter().map(String::as_str).collect();
        if wanted.is_empty() {
            return Ok(Ok(()));
        }
        let conn = self.conn();
        let _read = crate::read_tx(conn)?;
        if wanted.len() <= SCAN_ABOVE {
            let mut st = conn
                .prepare_cached(
                    "SELECT fetched_at, json FROM cache WHERE namespace = ?1 AND key = ?2",
                )
                .ctx("reading the cache")?;
            let mut sorted: Vec<&str> = wanted.into_iter().collect();
            sorted.sort_unstable();
            for key in sorted {
                let mut rows = st
                    .query(rusqlite::params![namespace, key])
                    .ctx("reading the cache")?;
                if let Some(r) = rows.next().ctx("reading the cache")? {
                    let t: i64 = r.get(0).ctx("reading the cache")?;
                    let json = text(r.get_ref(1).ctx("reading the cache")?, namespace, key)?;
                    if let Err(e) = visit(key, micros_to_dt(t)?, json) {
                        return Ok(Err(e));
                    }
                }
            }
            return Ok(Ok(()));
        }
        // Many keys: one ordered pass over the namespace. Reading the key
        // column first means SQLite loads a row's JSON only when it is wanted.
        let mut st = conn
            .prepare_cached("SELECT key, fetched_at, json FROM cache WHERE namespace = ?1")
            .ctx("scanning the cache")?;
        let mut rows = st.query([namespace]).ctx("scanning the cache")?;
        while let Some(r) = rows.next().ctx("scanning the cache")? {
            let key = match r.get_ref(0).ctx("scanning the cache")?.as_str() {
                Ok(k) => k,
                Err(_) => continue,
            };
            if !wanted.contains(key) {
                continue;
            }
            let t: i64 = r.get(1).ctx("scanning the cache")?;
            let json = text(r.get_ref(2).ctx("scanning the cache")?, namespace, key)?;
            if let Err(e) = visit(key, micros_to_dt(t)?, json) {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    }

    /// The entries of `keys` in `namespace` as owned text, in the order of
    /// `keys` (each distinct key once; keys without an entry are left out).
    pub fn cache_get_many(
        &self,
        namespace: &str,
        keys: &[String],
    ) -> Result<Vec<(String, CacheText)>, StoreError> {
        let mut got = std::collections::HashMap::with_capacity(keys.len().min(1 << 16));
        let r: Result<(), std::convert::Infallible> =
            self.cache_visit_many(namespace, keys, |k, t, j| {
                got.insert(
                    k.to_string(),
                    CacheText {
                        fetched_at: t,
                        json: j.to_string(),
                    },
                );
                Ok(())
            })?;
        let Ok(()) = r;
        let mut out = Vec::with_capacity(got.len());
        for k in keys {
            if let Some(e) = got.remove(k.as_str()) {
                out.push((k.clone(), e));
            }
        }
        Ok(out)
    }
}

fn text<'r>(
    v: rusqlite::types::ValueRef<'r>,
    namespace: &str,
    key: &str,
) -> Result<&'r str, StoreError> {
    v.as_str()
        .map_err(|e| StoreError::BadInput(format!("corrupt cache entry {namespace}/{key}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn store_with(n: usize) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = Store::open(dir.path()).expect("open");
        let t = Utc
            .with_ymd_and_hms(2026, 11, 1, 12, 0, 0)
            .single()
            .expect("time");
        // One transaction: tens of thousands of single-row commits would dominate the test.
        s.conn().execute_batch("BEGIN").expect("begin");
        for i in 0..n {
            s.cache_put(
                "ns.a",
                &format!("k{i}"),
                &serde_json::json!({ "i": i }),
                t + chrono::Duration::seconds(i as i64),
            )
            .expect("put");
        }
        s.conn().execute_batch("COMMIT").expect("commit");
        // Same keys in another namespace must never be returned.
        s.cache_put("ns.b", "k1", &serde_json::json!({ "other": true }), t)
            .expect("put");
        (dir, s)
    }

    fn check(s: &Store, keys: &[String], n: usize) {
        let got = s.cache_get_many("ns.a", keys).expect("get_many");
        let mut want: Vec<&String> = Vec::new();
        let mut seen = HashSet::new();
        for k in keys {
            let i: usize = k[1..].parse().expect("index");
            if i < n && seen.insert(k) {
                want.push(k);
            }
        }
        assert_eq!(got.len(), want.len());
        for ((k, e), w) in got.iter().zip(want) {
            assert_eq!(k, w);
            // The bulk read gives exactly what the single-key read gives.
            let one = s.cache_get("ns.a", k).expect("get").expect("present");
            assert_eq!(e.fetched_at, one.fetched_at);
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(&e.json).expect("json"),
                one.value
            );
        }
    }

    #[test]
    fn few_keys_with_duplicates_and_missing_ones() {
        let (_d, s) = store_with(50);
        let keys: Vec<String> = ["k3", "k1", "k3", "k999", "k0", "k49"]
            .iter()
            .map(|x| x.to_string())
            .collect();
        check(&s, &keys, 50);
        assert!(s.cache_get_many("ns.a", &[]).expect("empty").is_empty());
        assert!(
            s.cache_get_many("ns.none", &keys)
                .expect("other ns")
                .is_empty()
        );
    }

    #[test]
    fn many_keys_take_the_scan_path_and_agree() {
        let n = SCAN_ABOVE + 500;
        let (_d, s) = store_with(n);
        // Every other stored key, plus keys beyond the stored ones, plus a duplicate: > SCAN_ABOVE distinct.
        let mut keys: Vec<String> = (0..n)
            .step_by(2)
            .chain(n..n + SCAN_ABOVE / 2 + 10)
            .map(|i| format!("k{i}"))
            .collect();
        keys.push("k2".into());
        assert!(keys.len() > SCAN_ABOVE);
        check(&s, &keys, n);
    }

    #[test]
    fn a_visitor_error_stops_the_pass() {
        let (_d, s) = store_with(10);
        let keys: Vec<String> = (0..10).map(|i| format!("k{i}")).collect();
        let mut calls = 0;
        let r = s
            .cache_visit_many("ns.a", &keys, |_, _, _| {
                calls += 1;
                if calls == 3 { Err("stop") } else { Ok(()) }
            })
            .expect("store ok");
        assert_eq!(r, Err("stop"));
        assert_eq!(calls, 3);
    }
}
