//! The writer's in-memory model dictionary: model id (the Hub's name, e.g.
//! `org/model`) -> its key, latest detail id and that detail's fingerprint.
//!
//! Loaded once per process on the first write (200,000+ names) and looked up
//! once per written record, so its layout matters: all names live in one
//! arena string, entries in one vector in load order, and the hash table
//! holds only an entry index and 32 hash bits (≈ 2.3 MB for 200k models).
//! Measured against a `HashMap<String, ModelEntry>` on bench/ingest's day-2
//! store (200,985 names): see docs/store.md, *Write path*.

use crate::packed::FastState;
use std::hash::BuildHasher;

/// What the writer knows of a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ModelEntry {
    pub(crate) key: i64,
    /// Latest detail id (0: none — a corrupt or pre-v1 store).
    pub(crate) detail: i64,
    /// Fingerprint of that detail; `None` = not known yet (migrated from v2).
    pub(crate) fp: Option<i64>,
}

struct Slot {
    /// Byte range of the name in `ModelDict::names`.
    start: usize,
    len: usize,
    /// The name's hash: growing the table re-files entries without reading
    /// and re-hashing every name.
    hash: u64,
    entry: ModelEntry,
}

/// Model id -> [`ModelEntry`]; names are unique (inserting a present name is
/// a caller bug and is refused by a debug assertion).
#[derive(Default)]
pub(crate) struct ModelDict {
    names: String,
    slots: Vec<Slot>,
    /// (index into `slots`, upper 32 bits of the name's hash): probing
    /// compares the hash bits without reading the slot.
    table: hashbrown::HashTable<(u32, u32)>,
    hasher: FastState,
}

impl ModelDict {
    /// Room for `models` entries whose names total about `name_bytes`.
    pub(crate) fn with_capacity(models: usize, name_bytes: usize) -> Self {
        ModelDict {
            names: String::with_capacity(name_bytes),
            slots: Vec::with_capacity(models),
            table: hashbrown::HashTable::with_capacity(models),
            hasher: FastState::default(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    fn name_of(&self, s: &Slot) -> &str {
        // In bounds and on char boundaries: `start..start+len` is exactly
        // what `insert` appended.
        self.names.get(s.start..s.start + s.len).unwrap_or("")
    }

    fn find(&self, name: &str) -> Option<usize> {
        let h = self.hasher.hash_one(name);
        self.table
            .find(h, |&(i, hi)| hi == upper(h) && self.is(i as usize, h, name))
            .map(|&(i, _)| i as usize)
    }

    /// Whether slot `i` holds `name` (whose hash is `h`).
    fn is(&self, i: usize, h: u64, name: &str) -> bool {
        let s = &self.slots[i];
        s.hash == h && s.len == name.len() && self.name_of(s) == name
    }

    pub(crate) fn get(&self, name: &str) -> Option<ModelEntry> {
        self.find(name).map(|i| self.slots[i].entry)
    }

    /// [`get`](Self::get) for many names at once, in two passes: first the
    /// hash-table probes of every name (matching on 39 hash bits without
    /// reading a slot), then each candidate's slot and name. The reads of
    /// one pass do not depend on each other, so the CPU can overlap their
    /// cache misses. Measured on bench/ingest day 2 (200k lookups):
    /// 0.065-0.072 s -> 0.057-0.065 s.
    pub(crate) fn get_many<'n>(
        &self,
        names: impl Iterator<Item = &'n str> + Clone,
    ) -> Vec<Option<ModelEntry>> {
        let probes: Vec<(u64, Option<u32>)> = names
            .clone()
            .map(|name| {
                let h = self.hasher.hash_one(name);
                let cand = self
                    .table
                    .find(h, |&(_, hi)| hi == upper(h))
                    .map(|&(i, _)| i);
                (h, cand)
            })
            .collect();
        names
            .zip(probes)
            .map(|(name, (h, cand))| match cand {
                Some(i) if self.is(i as usize, h, name) => Some(self.slots[i as usize].entry),
                // No candidate: absent. A candidate that is another name
                // (39 equal hash bits): search again, comparing names.
                None => None,
                Some(_) => self.get(name),
            })
            .collect()
    }

    pub(crate) fn get_mut(&mut self, name: &str) -> Option<&mut ModelEntry> {
        self.find(name).map(|i| &mut self.slots[i].entry)
    }

    /// Entry index by model key (for the rare passes that have keys, not
    /// names: recovering an interrupted sync's changes).
    pub(crate) fn index_by_key(&self) -> crate::packed::FastMap<i64, u32> {
        let mut m = crate::packed::FastMap::default();
        m.reserve(self.slots.len());
        for (i, s) in self.slots.iter().enumerate() {
            m.insert(s.entry.key, i as u32);
        }
        m
    }

    /// The entry at an index from [`index_by_key`](Self::index_by_key).
    pub(crate) fn entry_mut(&mut self, index: u32) -> Option<&mut ModelEntry> {
        self.slots.get_mut(index as usize).map(|s| &mut s.entry)
    }

    /// Add a name (one hash-table probe finds it present or files it).
    pub(crate) fn insert(&mut self, name: &str, entry: ModelEntry) -> Insert {
        let Ok(idx) = u32::try_from(self.slots.len()) else {
            return Insert::Full;
        };
        if idx == u32::MAX {
            return Insert::Full;
        }
        let hash = self.hasher.hash_one(name);
        let (slots, names) = (&self.slots, &self.names);
        let is = |&(i, hi): &(u32, u32)| {
            hi == upper(hash)
                && slots.get(i as usize).is_some_and(|s| {
                    s.hash == hash && names.get(s.start..s.start + s.len) == Some(name)
                })
        };
        match self.table.entry(hash, is, |&(i, _)| slots[i as usize].hash) {
            hashbrown::hash_table::Entry::Occupied(_) => Insert::Present,
            hashbrown::hash_table::Entry::Vacant(v) => {
                v.insert((idx, upper(hash)));
                let start = self.names.len();
                self.names.push_str(name);
                self.slots.push(Slot {
                    start,
                    len: name.len(),
                    hash,
                    entry,
                });
                Insert::Added
            }
        }
    }
}

/// What [`ModelDict::insert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Insert {
    Added,
    /// The name was already there (nothing changed).
    Present,
    /// The dictionary holds 2^32 - 1 models (nothing changed).
    Full,
}

fn upper(h: u64) -> u32 {
    (h >> 32) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(key: i64) -> ModelEntry {
        ModelEntry {
            key,
            detail: key * 10,
            fp: (key % 2 == 0).then_some(key * 7),
        }
    }

    #[test]
    fn finds_what_was_inserted_and_nothing_else_across_growth() {
        // Start small so that the table and the arena grow many times.
        let mut d = ModelDict::with_capacity(1, 1);
        let names: Vec<String> = (0..50_000)
            .map(|i| format!("org{}/m-{i}", i % 97))
            .collect();
        for (i, n) in names.iter().enumerate() {
            assert!(d.get(n).is_none());
            assert_eq!(d.insert(n, e(i as i64 + 1)), Insert::Added);
        }
        assert_eq!(d.len(), names.len());
        for (i, n) in names.iter().enumerate() {
            assert_eq!(d.get(n), Some(e(i as i64 + 1)), "{n}");
        }
        let probe: Vec<&str> = names
            .iter()
            .map(String::as_str)
            .chain(["absent/x", "org1/m-1x"])
            .collect();
        let many = d.get_many(probe.iter().copied());
        assert_eq!(many.len(), probe.len());
        for (n, got) in probe.iter().zip(&many) {
            assert_eq!(*got, d.get(n), "{n}");
        }
        // Prefixes, extensions and case variants of stored names are absent.
        for n in ["org1/m-1x", "org1/m-", "ORG1/m-1", "", "org1/m-50000"] {
            assert_eq!(d.get(n), None, "{n}");
        }
        let m = d.get_mut("org5/m-5").expect("present");
        m.detail = 99;
        m.fp = None;
        assert_eq!(
            d.get("org5/m-5"),
            Some(ModelEntry {
                key: 6,
                detail: 99,
                fp: None
            })
        );
        assert_eq!(d.get("org6/m-6"), Some(e(7)), "neighbours untouched");
    }

    #[test]
    fn non_ascii_and_empty_names() {
        let mut d = ModelDict::default();
        for (i, n) in ["", "ünï/cødé", "日本/モデル", "a"].iter().enumerate() {
            assert_eq!(d.insert(n, e(i as i64)), Insert::Added);
        }
        assert_eq!(d.insert("ünï/cødé", e(9)), Insert::Present);
        assert_eq!(
            d.get("ünï/cødé"),
            Some(e(1)),
            "a present name is left as it was"
        );
        assert_eq!(d.get("日本/モデル"), Some(e(2)));
        assert_eq!(d.get(""), Some(e(0)));
        assert_eq!(d.get("ünï/cød"), None);
    }
}
