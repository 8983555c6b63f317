//! Hugging Face Hub client: listing with `Link` paging and `expand[]`, model
//! info, ranged reads of repository files; retries with capped exponential
//! backoff and full jitter, `RateLimit` / `Retry-After` handling, separate
//! connect / first-byte / total timeouts, and tolerant parsing of records.
//!
//! The crate never prints, never reads environment variables and never logs
//! the bearer token: the caller passes everything in [`HubConfig`].
//! Parsing rules are documented in `docs/hub.md` and in [`parse`].

pub mod client;
pub mod config;
pub mod error;
pub mod link;
pub mod parse;
pub mod query;
pub mod ratelimit;

pub use client::{ClientStats, HubClient, ListPage, ModelInfo, RawListPage};
pub use config::HubConfig;
pub use error::{FieldWarning, HubError, ItemWarning, ParseError};
pub use link::{LinkValue, next_link, parse_link_header};
pub use parse::{ParsedListing, parse_listing, parse_listing_bytes, parse_model};
pub use query::{ListQuery, PageCursor};
