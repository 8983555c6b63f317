//! Test sets, scorers, runner, statistics and reports for evaluating models on the user's own examples.

pub mod item;
pub mod runner;
