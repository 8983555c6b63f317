//! Embedded SQLite store: versioned schema, snapshots, per-model history, trend queries. The only writer of the data directory.
