//! Micro-benchmarks live in `benches/core.rs`.
