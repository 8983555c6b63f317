//! Read paths for trend reports: per-snapshot category aggregates (written at
//! completion, so share-over-time never scans model rows) and the rows of two
//! snapshots joined by model (for movers): two streams of key-sorted packed
//! segments merged on integer model keys; names are resolved only for the
//! models a report shows ([`Store::top_k_by_name`]).

use crate::error::{Ctx, StoreError};
use crate::packed::{Row, RowReader, encode_rows};
use crate::{SnapshotId, SnapshotStatus, Store, to_u64};
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A category dimension of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// The Hub's `pipeline_tag` (task).
    PipelineTag,
    /// The Hub's `library_name`.
    Library,
    /// Base-model family (see [`crate::base_family`]).
    BaseFamily,
}

impl Dimension {
    pub(crate) fn code(self) -> i64 {
        match self {
            Dimension::PipelineTag => 0,
            Dimension::Library => 1,
            Dimension::BaseFamily => 2,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Dimension::PipelineTag => "pipeline_tag",
            Dimension::Library => "library_name",
            Dimension::BaseFamily => "base_family",
        }
    }
}

/// One category in one complete snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryPoint {
    pub snapshot: SnapshotId,
    /// `None`: the models without a value in this dimension.
    pub category: Option<String>,
    /// Models in the category.
    pub models: u64,
    /// Sum of likes (models without likes count 0).
    pub likes: u64,
    /// Sum of the rolling 30-day downloads.
    pub downloads_30d: u64,
    /// Sum of downloadsAllTime over the `with_all_time` models that have it.
    pub downloads_all_time: u64,
    pub with_all_time: u64,
}

/// The light part of a row, for movers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowStats {
    pub rank: u32,
    pub likes: Option<u64>,
    pub downloads_30d: Option<u64>,
    pub downloads_all_time: Option<u64>,
    pub trending_score: Option<f64>,
    pub pipeline_tag: Option<String>,
}

/// A model's integer key in this store (stable for the store's lifetime;
/// resolve to a name with [`Store::model_names`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ModelKey(pub i64);

/// The light part of a row, by key: `pipeline` is a category term id
/// (0 = none; [`Store::term_value`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KeyedStats {
    pub rank: u32,
    pub likes: Option<u64>,
    pub downloads_30d: Option<u64>,
    pub downloads_all_time: Option<u64>,
    pub trending_score: Option<f64>,
    pub pipeline: i64,
}

/// A model's rows in two snapshots (at least one present), by key.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KeyedPair {
    pub key: ModelKey,
    pub from: Option<KeyedStats>,
    pub to: Option<KeyedStats>,
}

/// A model's rows in two snapshots (at least one present).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairRow {
    pub model: String,
    pub from: Option<RowStats>,
    pub to: Option<RowStats>,
}

impl Store {
    fn term_names(&self) -> Result<HashMap<i64, String>, StoreError> {
        let mut st = self
            .conn()
            .prepare_cached("SELECT id, value FROM term")
            .ctx("reading categories")?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .ctx("reading categories")?;
        rows.collect::<Result<_, _>>().ctx("reading categories")
    }

    /// Aggregates of every complete snapshot for one dimension, ordered by
    /// snapshot `taken_at` then id, then category.
    pub fn category_points(&self, dim: Dimension) -> Result<Vec<CategoryPoint>, StoreError> {
        let terms = self.term_names()?;
        let mut st = self
            .conn()
            .prepare_cached(
                "SELECT a.snapshot, a.category, a.models, a.likes, a.dl30, a.dlall, a.n_dlall
                 FROM snapshot s JOIN agg a ON a.snapshot = s.id AND a.dim = ?1
                 WHERE s.status = 1 ORDER BY s.taken_at, s.id, a.category",
            )
            .ctx("reading category aggregates")?;
        let mut rows = st.query([dim.code()]).ctx("reading category aggregates")?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().ctx("reading category aggregates")? {
            let g = |i: usize| -> Result<u64, StoreError> {
                Ok(to_u64(
                    r.get::<_, Option<i64>>(i)
                        .ctx("reading category aggregates")?,
                )
                .unwrap_or(0))
            };
            let cat: i64 = r.get(1).ctx("reading category aggregates")?;
            out.push(CategoryPoint {
                snapshot: SnapshotId(r.get(0).ctx("reading category aggregates")?),
                category: if cat == 0 {
                    None
                } else {
                    terms.get(&cat).cloned()
                },
                models: g(2)?,
                likes: g(3)?,
                downloads_30d: g(4)?,
                downloads_all_time: g(5)?,
                with_all_time: g(6)?,
            });
        }
        Ok(out)
    }

    /// Every model present in snapshot `from` or `to`, with its rows in
    /// each, by integer key, in key order: two segment streams merged, no
    /// names resolved (see [`Store::model_names`] and [`Store::top_k_by_name`]).
    pub fn compare_snapshot_keys(
        &self,
        from: SnapshotId,
        to: SnapshotId,
    ) -> Result<Vec<KeyedPair>, StoreError> {
        let mut out = Vec::new();
        self.for_each_pair(from, to, |p| out.push(p))?;
        Ok(out)
    }

    /// Like [`Store::compare_snapshot_keys`], without collecting: calls `f`
    /// for every model of `from` or `to`, in key order, while decoding the
    /// two snapshots' packed segments side by side (no per-row allocation).
    pub fn for_each_pair(
        &self,
        from: SnapshotId,
        to: SnapshotId,
        mut f: impl FnMut(KeyedPair),
    ) -> Result<(), StoreError> {
        let a = self.key_ordered_blobs(from)?;
        let b = self.key_ordered_blobs(to)?;
        let stats = |r: &Row| KeyedStats {
            rank: u32::try_from(r.rank).unwrap_or(u32::MAX),
            likes: to_u64(r.likes),
            downloads_30d: to_u64(r.dl30),
            downloads_all_time: to_u64(r.dlall),
            trending_score: r.trending,
            pipeline: r.pipeline,
        };
        let (mut sa, mut sb) = (Stream::new(&a), Stream::new(&b));
        let (mut x, mut y) = (sa.next()?, sb.next()?);
        loop {
            match (&x, &y) {
                (None, None) => return Ok(()),
                (Some(p), Some(q)) if p.key == q.key => {
                    f(KeyedPair {
                        key: ModelKey(p.key),
                        from: Some(stats(p)),
                        to: Some(stats(q)),
                    });
                    x = sa.next()?;
                    y = sb.next()?;
                }
                (Some(p), q) if q.as_ref().is_none_or(|q| p.key < q.key) => {
                    f(KeyedPair {
                        key: ModelKey(p.key),
                        from: Some(stats(p)),
                        to: None,
                    });
                    x = sa.next()?;
                }
                (_, Some(q)) => {
                    f(KeyedPair {
                        key: ModelKey(q.key),
                        from: None,
                        to: Some(stats(q)),
                    });
                    y = sb.next()?;
                }
                // Unreachable: (Some, None) is taken by the arm above.
                (Some(_), None) => return Ok(()),
            }
        }
    }

    /// A snapshot's packed rows as blobs whose concatenated rows are in key
    /// order: the segments of a complete snapshot; for an in-progress one, its
    /// rows sorted and re-encoded as one blob.
    fn key_ordered_blobs(&self, id: SnapshotId) -> Result<Vec<Vec<u8>>, StoreError> {
        let info = self.snapshot(id)?;
        if info.status != SnapshotStatus::Complete {
            let mut rows = self.snapshot_rows(&info)?;
            rows.sort_unstable_by_key(|r| r.key);
            let mut buf = Vec::new();
            encode_rows(&rows, &mut buf);
            return Ok(vec![buf]);
        }
        let mut st = self
            .conn()
            .prepare_cached("SELECT data FROM seg WHERE snapshot = ?1 ORDER BY first_key")
            .ctx("reading a snapshot")?;
        let mut rows = st.query([id.0]).ctx("reading a snapshot")?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().ctx("reading a snapshot")? {
            out.push(crate::blob(r, 0)?.to_vec());
        }
        Ok(out)
    }

    /// Every model present in snapshot `from` or `to`, with its rows in each
    /// (names and pipeline tags resolved for all of them; for large snapshots
    /// prefer [`Store::compare_snapshot_keys`]).
    pub fn compare_snapshots(
        &self,
        from: SnapshotId,
        to: SnapshotId,
    ) -> Result<Vec<PairRow>, StoreError> {
        let keyed = self.compare_snapshot_keys(from, to)?;
        let terms = self.term_names()?;
        let names = self.model_names_of(keyed.iter().map(|k| k.key.0))?;
        let light = |s: KeyedStats| RowStats {
            rank: s.rank,
            likes: s.likes,
            downloads_30d: s.downloads_30d,
            downloads_all_time: s.downloads_all_time,
            trending_score: s.trending_score,
            pipeline_tag: terms.get(&s.pipeline).cloned(),
        };
        Ok(keyed
            .into_iter()
            .filter_map(|p| {
                names.get(&p.key.0).map(|n| PairRow {
                    model: n.clone(),
                    from: p.from.map(light),
                    to: p.to.map(light),
                })
            })
            .collect())
    }

    /// The value of a category term id (`None` for 0 or an unknown id).
    pub fn term_value(&self, term: i64) -> Result<Option<String>, StoreError> {
        if term == 0 {
            return Ok(None);
        }
        self.conn()
            .query_row("SELECT value FROM term WHERE id = ?1", [term], |r| r.get(0))
            .optional()
            .ctx("reading a category")
    }

    /// The names of the given model keys (unknown keys are left out).
    pub fn model_names(&self, keys: &[ModelKey]) -> Result<HashMap<ModelKey, String>, StoreError> {
        Ok(self
            .model_names_of(keys.iter().map(|k| k.0))?
            .into_iter()
            .map(|(k, v)| (ModelKey(k), v))
            .collect())
    }

    /// The `k` largest of `items` by value (ordered by `f64::total_cmp`), ties broken by
    /// model name ascending, with their names. Names are read only for the
    /// candidates: the items above the k-th value plus every item tied with it.
    pub fn top_k_by_name<T>(
        &self,
        mut items: Vec<(f64, ModelKey, T)>,
        k: usize,
    ) -> Result<Vec<(String, f64, T)>, StoreError> {
        let desc = |a: &(f64, ModelKey, T), b: &(f64, ModelKey, T)| b.0.total_cmp(&a.0);
        if k == 0 {
            return Ok(Vec::new());
        }
        if items.len() > k {
            items.select_nth_unstable_by(k - 1, desc);
            let edge = items[k - 1].0;
            // Keep everything not below the k-th value (ties at the edge included).
            items.retain(|x| x.0.total_cmp(&edge).is_ge());
        }
        let names = self.model_names_of(items.iter().map(|x| x.1.0))?;
        let mut out: Vec<(String, f64, T)> = items
            .into_iter()
            .map(|(v, key, t)| {
                let name = names.get(&key.0).cloned().ok_or_else(|| {
                    StoreError::BadInput(format!("corrupt store: model key {} has no name", key.0))
                })?;
                Ok((name, v, t))
            })
            .collect::<Result<_, StoreError>>()?;
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out.truncate(k);
        Ok(out)
    }

    pub(crate) fn model_names_of(
        &self,
        keys: impl ExactSizeIterator<Item = i64>,
    ) -> Result<HashMap<i64, String>, StoreError> {
        if keys.len() > 2_000 {
            // Many names: one scan of the name blocks beats point lookups.
            let wanted: std::collections::HashSet<i64> = keys.collect();
            let mut out = HashMap::with_capacity(wanted.len());
            crate::blocks::scan_names(self.conn(), |k, name| {
                if wanted.contains(&k) {
                    out.insert(k, name.to_string());
                }
                Ok(out.len() < wanted.len())
            })?;
            return Ok(out);
        }
        let mut out = HashMap::new();
        for k in keys {
            if let Some(name) = crate::blocks::name_of(self.conn(), k)? {
                out.insert(k, name);
            }
        }
        Ok(out)
    }
}

/// Rows of consecutive blobs, decoded on demand (each blob's key deltas
/// start from 0, as each segment was encoded on its own).
struct Stream<'a> {
    blobs: &'a [Vec<u8>],
    next_blob: usize,
    reader: Option<RowReader<'a>>,
}

impl<'a> Stream<'a> {
    fn new(blobs: &'a [Vec<u8>]) -> Self {
        Stream {
            blobs,
            next_blob: 0,
            reader: None,
        }
    }

    fn next(&mut self) -> Result<Option<Row>, StoreError> {
        loop {
            if let Some(r) = self.reader.as_mut()
                && let Some(row) = r.next_row()?
            {
                return Ok(Some(row));
            }
            match self.blobs.get(self.next_blob) {
                None => return Ok(None),
                Some(b) => {
                    self.reader = Some(RowReader::new(b));
                    self.next_blob += 1;
                }
            }
        }
    }
}
