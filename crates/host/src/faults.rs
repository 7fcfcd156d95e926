//! Fault injection and operation counts, shared by a running host and the
//! tests that drive it.
//!
//! Faults are switched on and off at run time, so one host process serves a
//! healthy request and a faulty one back to back. Counts let tests and the
//! benchmark state how many store operations a request costs.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

/// A kind of store operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// key-value get, exists, get-keys.
    KvRead,
    /// key-value set, delete, increment, compare-and-swap.
    KvWrite,
    /// one SQLite statement.
    Sqlite,
}

#[derive(Default)]
pub struct Faults {
    kv_error: AtomicBool,
    sqlite_error: AtomicBool,
    kv_reads: AtomicU64,
    kv_writes: AtomicU64,
    sqlite_statements: AtomicU64,
}

/// Store operations counted since the host started (or the last reset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpCounts {
    pub kv_reads: u64,
    pub kv_writes: u64,
    pub sqlite_statements: u64,
}

impl Faults {
    /// Every key-value call fails with `other("injected key-value fault")`.
    pub fn set_kv_error(&self, on: bool) {
        self.kv_error.store(on, Relaxed);
    }

    /// Every SQLite statement fails with `io("injected SQLite fault")`.
    pub fn set_sqlite_error(&self, on: bool) {
        self.sqlite_error.store(on, Relaxed);
    }

    pub fn fails(&self, op: Op) -> bool {
        match op {
            Op::KvRead | Op::KvWrite => self.kv_error.load(Relaxed),
            Op::Sqlite => self.sqlite_error.load(Relaxed),
        }
    }

    pub fn record(&self, op: Op) {
        match op {
            Op::KvRead => &self.kv_reads,
            Op::KvWrite => &self.kv_writes,
            Op::Sqlite => &self.sqlite_statements,
        }
        .fetch_add(1, Relaxed);
    }

    pub fn counts(&self) -> OpCounts {
        OpCounts {
            kv_reads: self.kv_reads.load(Relaxed),
            kv_writes: self.kv_writes.load(Relaxed),
            sqlite_statements: self.sqlite_statements.load(Relaxed),
        }
    }

    pub fn reset_counts(&self) {
        self.kv_reads.store(0, Relaxed);
        self.kv_writes.store(0, Relaxed);
        self.sqlite_statements.store(0, Relaxed);
    }
}
