//! Test sets, scorers, runner, statistics and reports for evaluating models on the user's own examples.
//!
//! Data flow: [`testset`] loads and validates items and renders prompts →
//! the `runner` (see docs/llm.md) produces one [`item::ItemRun`] per
//! (model, item) → [`scorer`] scores answers → [`analysis`] classifies
//! failures and computes [`stats`], latency and cost → [`report`] renders
//! JSON Lines, CSV and HTML; [`gate`] checks a user's pass condition.
//! Nothing here prints or reads the environment.

pub mod item;

pub mod analysis;
pub mod config;
pub mod gate;
pub mod jsonx;
pub mod normalize;
pub mod report;
pub mod runner;
pub mod schema;
pub mod scorer;
pub mod stats;
pub mod testset;
