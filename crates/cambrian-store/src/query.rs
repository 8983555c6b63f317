//! Read paths for trend reports: per-snapshot category aggregates (written at
//! completion, so share-over-time never scans model rows) and the rows of two
//! snapshots joined by model (for movers), read as two ordered range scans
//! of the clustered `row` table and merged.

use crate::error::{Ctx, StoreError};
use crate::{SnapshotId, Store, to_u64};
use rusqlite::params;
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

/// A model's rows in two snapshots (at least one present).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairRow {
    pub model: String,
    pub from: Option<RowStats>,
    pub to: Option<RowStats>,
}

impl Store {
    fn term_names(&self) -> Result<HashMap<i64, String>, StoreError> {
        let mut st = self.conn().prepare_cached("SELECT id, value FROM term").ctx("reading categories")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))).ctx("reading categories")?;
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
            let g = |i: usize| -> Result<u64, StoreError> { Ok(to_u64(r.get::<_, Option<i64>>(i).ctx("reading category aggregates")?).unwrap_or(0)) };
            let cat: i64 = r.get(1).ctx("reading category aggregates")?;
            out.push(CategoryPoint {
                snapshot: SnapshotId(r.get(0).ctx("reading category aggregates")?),
                category: if cat == 0 { None } else { terms.get(&cat).cloned() },
                models: g(2)?,
                likes: g(3)?,
                downloads_30d: g(4)?,
                downloads_all_time: g(5)?,
                with_all_time: g(6)?,
            });
        }
        Ok(out)
    }

    fn ordered_rows(&self, id: SnapshotId, terms: &HashMap<i64, String>) -> Result<Vec<(i64, RowStats)>, StoreError> {
        let mut st = self
            .conn()
            .prepare_cached("SELECT model, rank, likes, dl30, dlall, trending, pipeline FROM row WHERE snapshot = ?1 ORDER BY model")
            .ctx("reading snapshot rows")?;
        let mut rows = st.query(params![id.0]).ctx("reading snapshot rows")?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().ctx("reading snapshot rows")? {
            let c = |e: rusqlite::Result<Option<i64>>| e.ctx("reading snapshot rows").map(to_u64);
            let p: i64 = r.get(6).ctx("reading snapshot rows")?;
            out.push((
                r.get(0).ctx("reading snapshot rows")?,
                RowStats {
                    rank: c(r.get(1))?.and_then(|x| u32::try_from(x).ok()).unwrap_or(u32::MAX),
                    likes: c(r.get(2))?,
                    downloads_30d: c(r.get(3))?,
                    downloads_all_time: c(r.get(4))?,
                    trending_score: r.get(5).ctx("reading snapshot rows")?,
                    pipeline_tag: if p == 0 { None } else { terms.get(&p).cloned() },
                },
            ));
        }
        Ok(out)
    }

    /// Every model present in snapshot `from` or `to`, with its rows in each.
    pub fn compare_snapshots(&self, from: SnapshotId, to: SnapshotId) -> Result<Vec<PairRow>, StoreError> {
        self.snapshot(from)?;
        self.snapshot(to)?;
        let terms = self.term_names()?;
        let a = self.ordered_rows(from, &terms)?;
        let b = self.ordered_rows(to, &terms)?;
        let mut keyed: Vec<(i64, Option<RowStats>, Option<RowStats>)> = Vec::with_capacity(a.len().max(b.len()));
        let (mut ia, mut ib) = (a.into_iter().peekable(), b.into_iter().peekable());
        loop {
            let next = match (ia.peek(), ib.peek()) {
                (None, None) => break,
                (Some(_), None) => ia.next().map(|(k, r)| (k, Some(r), None)),
                (None, Some(_)) => ib.next().map(|(k, r)| (k, None, Some(r))),
                (Some((ka, _)), Some((kb, _))) => {
                    if ka < kb {
                        ia.next().map(|(k, r)| (k, Some(r), None))
                    } else if kb < ka {
                        ib.next().map(|(k, r)| (k, None, Some(r)))
                    } else {
                        match (ia.next(), ib.next()) {
                            (Some((k, ra)), Some((_, rb))) => Some((k, Some(ra), Some(rb))),
                            _ => None,
                        }
                    }
                }
            };
            match next {
                Some(x) => keyed.push(x),
                None => break,
            }
        }
        let names = self.model_names(keyed.iter().map(|k| k.0))?;
        Ok(keyed
            .into_iter()
            .filter_map(|(k, from, to)| names.get(&k).map(|n| PairRow { model: n.clone(), from, to }))
            .collect())
    }

    fn model_names(&self, keys: impl ExactSizeIterator<Item = i64>) -> Result<HashMap<i64, String>, StoreError> {
        if keys.len() > 2_000 {
            // Many names: one scan of the dictionary beats point lookups.
            let wanted: std::collections::HashSet<i64> = keys.collect();
            let mut st = self.conn().prepare_cached("SELECT id, name FROM model").ctx("reading model names")?;
            let mut rows = st.query([]).ctx("reading model names")?;
            let mut out = HashMap::with_capacity(wanted.len());
            while let Some(r) = rows.next().ctx("reading model names")? {
                let k: i64 = r.get(0).ctx("reading model names")?;
                if wanted.contains(&k) {
                    out.insert(k, r.get(1).ctx("reading model names")?);
                }
            }
            return Ok(out);
        }
        let mut st = self.conn().prepare_cached("SELECT name FROM model WHERE id = ?1").ctx("reading model names")?;
        let mut out = HashMap::new();
        for k in keys {
            let name: String = st.query_row([k], |r| r.get(0)).ctx("reading model names")?;
            out.insert(k, name);
        }
        Ok(out)
    }
}
