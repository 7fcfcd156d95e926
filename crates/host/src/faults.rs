//! Fault injection and operation counts, shared by a running host and the
//! tests that drive it.
//!
//! Faults are switched on and off at run time, so one host process serves a
//! healthy request and a faulty one back to back. Counts let tests and the
//! benchmark state how many store operations a request costs.
//!
//! # Modes
//!
//! Each kind of store operation ([`Op`]: key-value read, key-value write,
//! SQLite statement) has its own [`Fault`], set with [`Faults::set`] (or
//! [`Faults::set_kv`] for reads and writes together):
//!
//! - [`Fault::None`]: the call runs normally.
//! - [`Fault::Error`]: the call fails at once (`other("injected key-value
//!   fault")`, `io("injected SQLite fault")`): a store that refuses
//!   connections. [`Faults::set_kv_error`] and [`Faults::set_sqlite_error`]
//!   switch this mode as they always did.
//! - [`Fault::Delay`]: the call waits (a tokio sleep, no runtime thread is
//!   held) and then runs normally: a slow store.
//! - [`Fault::Hang`]: the call never answers while the mode stays `Hang`: a
//!   store whose TCP peer accepts and never replies (what Spin does with a
//!   dead Redis, issue 19). The wait is a future parked on a watch channel,
//!   not a blocking sleep. **Switching the mode away from `Hang` releases the
//!   hung calls**: each then applies the new mode (`None`: runs normally,
//!   `Error`: fails, `Delay`: waits then runs), so a test can model the store
//!   coming back and check recovery.
//!
//! A call the guest abandons (wasmtime drops the host future when the guest
//! cancels the subtask) while it is delayed or hung is counted in
//! [`Faults::abandoned`]; [`Faults::hung_now`] says how many calls are parked
//! in a hang at this moment.
//!
//! The mode is read once when the call starts (and again when a hang is
//! released): a call already sleeping through a `Delay` finishes its delay
//! even if the mode changes meanwhile.
//!
//! # From outside a test
//!
//! [`Faults::apply_spec`] takes a comma-separated list such as
//! `kv-hang`, `kv-read-delay=200,sqlite-error` or `off`; `warden-host serve`
//! reads one from `WARDEN_HOST_FAULTS` at start, and with `--stats` a `POST`
//! to [`FAULTS_PATH`](crate::server::FAULTS_PATH)`?SPEC` applies one at run
//! time.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use tokio::sync::watch;

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

impl Op {
    pub const ALL: [Op; 3] = [Op::KvRead, Op::KvWrite, Op::Sqlite];

    fn index(self) -> usize {
        self as usize
    }
}

/// What an operation does when it is called. See the module doc.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    #[default]
    None,
    /// Fail at once.
    Error,
    /// Answer after this long (then run normally).
    Delay(Duration),
    /// Never answer while the mode stays `Hang`.
    Hang,
}

/// The call was refused by an injected [`Fault::Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Injected;

pub struct Faults {
    modes: watch::Sender<[Fault; 3]>,
    // Kept so that `modes` always has a receiver (send_modify does not need
    // one, but `borrow` on the sender is all the fast path reads).
    _keep: watch::Receiver<[Fault; 3]>,
    any: AtomicBool,
    hung: AtomicU64,
    abandoned: AtomicU64,
    kv_reads: AtomicU64,
    kv_writes: AtomicU64,
    sqlite_statements: AtomicU64,
}

impl Default for Faults {
    fn default() -> Self {
        let (modes, keep) = watch::channel([Fault::None; 3]);
        Faults {
            modes,
            _keep: keep,
            any: AtomicBool::new(false),
            hung: AtomicU64::new(0),
            abandoned: AtomicU64::new(0),
            kv_reads: AtomicU64::new(0),
            kv_writes: AtomicU64::new(0),
            sqlite_statements: AtomicU64::new(0),
        }
    }
}

/// Store operations counted since the host started (or the last reset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpCounts {
    pub kv_reads: u64,
    pub kv_writes: u64,
    pub sqlite_statements: u64,
}

impl Faults {
    /// Sets the fault of one kind of operation; takes effect for calls that
    /// start from now on, and releases calls hung by a previous `Hang`.
    pub fn set(&self, op: Op, fault: Fault) {
        self.modes.send_modify(|m| m[op.index()] = fault);
        let any = self.modes.borrow().iter().any(|f| *f != Fault::None);
        self.any.store(any, Relaxed);
    }

    /// Sets the fault of key-value reads and writes together.
    pub fn set_kv(&self, fault: Fault) {
        self.set(Op::KvRead, fault);
        self.set(Op::KvWrite, fault);
    }

    /// Every fault off (releases hung calls).
    pub fn clear(&self) {
        for op in Op::ALL {
            self.set(op, Fault::None);
        }
    }

    /// The fault of one kind of operation.
    pub fn fault(&self, op: Op) -> Fault {
        self.modes.borrow()[op.index()]
    }

    /// Every key-value call fails with `other("injected key-value fault")`.
    /// `false` turns key-value faults off (whatever mode they were in).
    pub fn set_kv_error(&self, on: bool) {
        self.set_kv(if on { Fault::Error } else { Fault::None });
    }

    /// Every SQLite statement fails with `io("injected SQLite fault")`.
    /// `false` turns SQLite faults off (whatever mode they were in).
    pub fn set_sqlite_error(&self, on: bool) {
        self.set(Op::Sqlite, if on { Fault::Error } else { Fault::None });
    }

    /// Whether `op` is set to fail at once.
    pub fn fails(&self, op: Op) -> bool {
        self.fault(op) == Fault::Error
    }

    /// Counts one `op` and applies its fault: `Err` for [`Fault::Error`],
    /// after a wait for [`Fault::Delay`], never (until switched) for
    /// [`Fault::Hang`]. The store calls this before doing the operation.
    pub async fn enter(&self, op: Op) -> Result<(), Injected> {
        self.record(op);
        if !self.any.load(Relaxed) {
            return Ok(());
        }
        let mut guard = Abandoned {
            count: &self.abandoned,
            armed: false,
        };
        let mut fault = self.fault(op);
        loop {
            match fault {
                Fault::None => break,
                Fault::Error => return Err(Injected),
                Fault::Delay(d) => {
                    guard.armed = true;
                    tokio::time::sleep(d).await;
                    break;
                }
                Fault::Hang => {
                    guard.armed = true;
                    let mut rx = self.modes.subscribe();
                    self.hung.fetch_add(1, Relaxed);
                    let _hung = Decrement(&self.hung);
                    let released = rx.wait_for(|m| m[op.index()] != Fault::Hang).await;
                    fault = match released {
                        Ok(m) => m[op.index()],
                        // The sender lives as long as `self`.
                        Err(_) => Fault::None,
                    };
                }
            }
        }
        guard.armed = false;
        Ok(())
    }

    /// Calls parked in a [`Fault::Hang`] right now.
    pub fn hung_now(&self) -> u64 {
        self.hung.load(Relaxed)
    }

    /// Delayed or hung calls that were dropped before they finished waiting
    /// (the guest abandoned the call, or the host dropped its instance).
    pub fn abandoned(&self) -> u64 {
        self.abandoned.load(Relaxed)
    }

    /// Applies a comma-separated list of `TARGET-MODE` items, left to right:
    /// TARGET is `kv` (reads and writes), `kv-read`, `kv-write`, `sqlite` or
    /// `all`; MODE is `ok`, `error`, `hang` or `delay=MS`. `off` alone (or an
    /// empty spec) clears every fault. Example: `kv-hang,sqlite-delay=200`.
    pub fn apply_spec(&self, spec: &str) -> Result<(), String> {
        let mut changes = Vec::new();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if item == "off" {
                changes.extend(Op::ALL.map(|op| (op, Fault::None)));
                continue;
            }
            let (target, mode) = [
                ("kv-read-", &[Op::KvRead][..]),
                ("kv-write-", &[Op::KvWrite][..]),
                ("kv-", &[Op::KvRead, Op::KvWrite][..]),
                ("sqlite-", &[Op::Sqlite][..]),
                ("all-", &Op::ALL[..]),
            ]
            .iter()
            .find_map(|(prefix, ops)| item.strip_prefix(prefix).map(|rest| (*ops, rest)))
            .ok_or_else(|| {
                format!("fault {item:?}: expected kv-, kv-read-, kv-write-, sqlite- or all-")
            })?;
            let fault = match mode {
                "ok" | "off" => Fault::None,
                "error" => Fault::Error,
                "hang" => Fault::Hang,
                _ => match mode.strip_prefix("delay=").map(str::parse::<u64>) {
                    Some(Ok(ms)) => Fault::Delay(Duration::from_millis(ms)),
                    _ => {
                        return Err(format!(
                            "fault {item:?}: expected ok, error, hang or delay=MS"
                        ));
                    }
                },
            };
            changes.extend(target.iter().map(|op| (*op, fault)));
        }
        for (op, fault) in changes {
            self.set(op, fault);
        }
        Ok(())
    }

    /// The current modes, as [`apply_spec`](Self::apply_spec) would take them.
    pub fn spec(&self) -> String {
        let name = |op: Op| match op {
            Op::KvRead => "kv-read",
            Op::KvWrite => "kv-write",
            Op::Sqlite => "sqlite",
        };
        Op::ALL
            .iter()
            .map(|&op| match self.fault(op) {
                Fault::None => format!("{}-ok", name(op)),
                Fault::Error => format!("{}-error", name(op)),
                Fault::Hang => format!("{}-hang", name(op)),
                Fault::Delay(d) => format!("{}-delay={}", name(op), d.as_millis()),
            })
            .collect::<Vec<_>>()
            .join(",")
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

/// Counts a wait that was dropped before it finished.
struct Abandoned<'a> {
    count: &'a AtomicU64,
    armed: bool,
}

impl Drop for Abandoned<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.count.fetch_add(1, Relaxed);
        }
    }
}

struct Decrement<'a>(&'a AtomicU64);

impl Drop for Decrement<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    #[tokio::test]
    async fn healthy_and_error_modes() {
        let f = Faults::default();
        assert_eq!(f.enter(Op::KvRead).await, Ok(()));
        f.set_kv_error(true);
        assert!(f.fails(Op::KvRead) && f.fails(Op::KvWrite) && !f.fails(Op::Sqlite));
        assert_eq!(f.enter(Op::KvWrite).await, Err(Injected));
        assert_eq!(f.enter(Op::Sqlite).await, Ok(()));
        f.set_kv_error(false);
        f.set_sqlite_error(true);
        assert_eq!(f.enter(Op::KvRead).await, Ok(()));
        assert_eq!(f.enter(Op::Sqlite).await, Err(Injected));
        assert_eq!(f.counts().kv_reads, 2);
        assert_eq!(f.counts().kv_writes, 1);
        assert_eq!(f.counts().sqlite_statements, 2);
    }

    #[tokio::test]
    async fn delay_waits_then_runs() {
        let f = Faults::default();
        f.set(Op::KvWrite, Fault::Delay(Duration::from_millis(100)));
        let start = Instant::now();
        assert_eq!(f.enter(Op::KvWrite).await, Ok(()));
        assert!(start.elapsed() >= Duration::from_millis(100));
        // Reads are not touched.
        let start = Instant::now();
        assert_eq!(f.enter(Op::KvRead).await, Ok(()));
        assert!(start.elapsed() < Duration::from_millis(50));
    }

    #[tokio::test]
    async fn hang_holds_until_switched_off() {
        let f = Arc::new(Faults::default());
        f.set(Op::KvRead, Fault::Hang);
        let call = tokio::spawn({
            let f = f.clone();
            async move { f.enter(Op::KvRead).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!call.is_finished());
        assert_eq!(f.hung_now(), 1);
        // Other operations are not held.
        assert_eq!(f.enter(Op::KvWrite).await, Ok(()));
        f.set(Op::KvRead, Fault::None);
        assert_eq!(call.await.unwrap(), Ok(()));
        assert_eq!(f.hung_now(), 0);
        assert_eq!(f.abandoned(), 0);
    }

    #[tokio::test]
    async fn released_hang_applies_the_new_mode() {
        let f = Arc::new(Faults::default());
        f.apply_spec("sqlite-hang").unwrap();
        let call = tokio::spawn({
            let f = f.clone();
            async move { f.enter(Op::Sqlite).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        f.set_sqlite_error(true);
        assert_eq!(call.await.unwrap(), Err(Injected));

        f.set(Op::Sqlite, Fault::Hang);
        let call = tokio::spawn({
            let f = f.clone();
            async move { f.enter(Op::Sqlite).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let start = Instant::now();
        f.set(Op::Sqlite, Fault::Delay(Duration::from_millis(40)));
        assert_eq!(call.await.unwrap(), Ok(()));
        assert!(start.elapsed() >= Duration::from_millis(40));
    }

    #[tokio::test]
    async fn a_dropped_hung_call_is_counted_as_abandoned() {
        let f = Faults::default();
        f.set_kv(Fault::Hang);
        let r = tokio::time::timeout(Duration::from_millis(30), f.enter(Op::KvWrite)).await;
        assert!(r.is_err(), "a hang must not answer");
        assert_eq!(f.hung_now(), 0);
        assert_eq!(f.abandoned(), 1);
        f.set_kv(Fault::Delay(Duration::from_secs(10)));
        let r = tokio::time::timeout(Duration::from_millis(30), f.enter(Op::KvRead)).await;
        assert!(r.is_err());
        assert_eq!(f.abandoned(), 2);
        // Existing switches still turn everything off.
        f.set_kv_error(false);
        assert_eq!(f.enter(Op::KvRead).await, Ok(()));
    }

    #[test]
    fn specs() {
        let f = Faults::default();
        f.apply_spec("kv-hang,sqlite-delay=200").unwrap();
        assert_eq!(f.fault(Op::KvRead), Fault::Hang);
        assert_eq!(f.fault(Op::KvWrite), Fault::Hang);
        assert_eq!(
            f.fault(Op::Sqlite),
            Fault::Delay(Duration::from_millis(200))
        );
        assert_eq!(f.spec(), "kv-read-hang,kv-write-hang,sqlite-delay=200");
        f.apply_spec("kv-write-error,kv-read-ok").unwrap();
        assert_eq!(f.fault(Op::KvRead), Fault::None);
        assert!(f.fails(Op::KvWrite));
        f.apply_spec("off").unwrap();
        assert_eq!(f.spec(), "kv-read-ok,kv-write-ok,sqlite-ok");
        f.apply_spec("all-error").unwrap();
        assert!(Op::ALL.iter().all(|&op| f.fails(op)));
        assert!(f.apply_spec("kv-slow").is_err());
        assert!(f.apply_spec("redis-hang").is_err());
        assert!(f.apply_spec("kv-delay=x").is_err());
        // A bad spec changes nothing.
        assert!(Op::ALL.iter().all(|&op| f.fails(op)));
    }
}
