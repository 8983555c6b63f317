//! Memory, context, throughput and workload estimates with reasons.
