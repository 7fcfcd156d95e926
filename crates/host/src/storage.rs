//! The host's storage: Spin's key-value store and SQLite database, as files
//! under the state directory, laid out the way `spin up` lays them out.
//!
//! - Key-value: `<state>/sqlite_key_value.db`, table
//!   `spin_key_value(store, key, value)`. Counters written by `increment` are
//!   8 little-endian bytes, as Spin's default store keeps them.
//! - SQLite: `<state>/sqlite_db.db` is the database `default`.
//!
//! Every call runs on tokio's blocking pool with a connection from a small
//! pool, so concurrent requests do not queue behind one global lock; SQLite's
//! own locking (WAL, busy timeout, `BEGIN IMMEDIATE` for read-modify-write)
//! keeps increments exact, even across host processes sharing the files.

use crate::faults::{Faults, Op};
use anyhow::{Context, Result};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Why a store call failed, in the terms the Spin interfaces report.
#[derive(Debug, Clone)]
pub enum StoreError {
    /// Fault injection or an SQLite failure: the guest sees `other`/`io`.
    Other(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Other(s) => f.write_str(s),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Other(e.to_string())
    }
}

/// A few SQLite connections to one file, handed out one per call.
pub struct Pool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Pool {
    fn open(path: &Path) -> Result<Arc<Pool>> {
        let pool = Arc::new(Pool {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
        });
        // Open one now so a bad path fails at startup, not on first request.
        let conn = pool.connect()?;
        pool.idle.lock().unwrap().push(conn);
        Ok(pool)
    }

    fn connect(&self) -> Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_context(|| format!("opening {}", self.path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(conn)
    }

    /// Runs `f` with a pooled connection on the blocking pool.
    pub async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.idle.lock().unwrap().pop();
            let mut conn = match conn {
                Some(c) => c,
                None => pool
                    .connect()
                    .map_err(|e| StoreError::Other(format!("{e:#}")))?,
            };
            let result = f(&mut conn);
            let mut idle = pool.idle.lock().unwrap();
            if idle.len() < 8 {
                idle.push(conn);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Other(format!("store task failed: {e}")))?
    }
}

/// Spin's key-value stores, on its default backend (one SQLite file) or on
/// Redis (a runtime-config `type = "redis"` store), with fault injection and
/// operation counts in front of either.
pub struct KeyValue {
    backend: Backend,
    faults: Arc<Faults>,
}

enum Backend {
    Sqlite(SqliteKv),
    Redis(crate::redis_kv::RedisKv),
}

/// The default backend: table `spin_key_value` in `sqlite_key_value.db`.
pub struct SqliteKv {
    pool: Arc<Pool>,
}

/// What `increment` found that is not a counter. Spin panics its worker on
/// this (DESIGN §2); the host turns it into a trap, the same 500 to the client.
#[derive(Debug)]
pub struct NotACounter;

macro_rules! dispatch {
    ($self:ident, $op:expr, $kv:ident => $call:expr) => {{
        $self.check($op).await?;
        match &$self.backend {
            Backend::Sqlite($kv) => $call.await,
            Backend::Redis($kv) => $call.await,
        }
    }};
}

impl KeyValue {
    /// The default store: a SQLite file in `state_dir`.
    pub fn open(state_dir: &Path, faults: Arc<Faults>) -> Result<KeyValue> {
        Ok(KeyValue {
            backend: Backend::Sqlite(SqliteKv::open(state_dir)?),
            faults,
        })
    }

    /// A Redis store, as Spin's `type = "redis"` key-value runtime config.
    pub async fn redis(url: &str, faults: Arc<Faults>) -> Result<KeyValue> {
        Ok(KeyValue {
            backend: Backend::Redis(crate::redis_kv::RedisKv::connect(url).await?),
            faults,
        })
    }

    /// Counts the call and applies its injected fault (which may delay or
    /// hang it: see [`crate::faults`]).
    async fn check(&self, op: Op) -> Result<(), StoreError> {
        self.faults
            .enter(op)
            .await
            .map_err(|_| StoreError::Other("injected key-value fault".into()))
    }

    pub async fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        dispatch!(self, Op::KvRead, kv => kv.get(store, key))
    }

    pub async fn set(&self, store: &str, key: &str, value: Vec<u8>) -> Result<(), StoreError> {
        dispatch!(self, Op::KvWrite, kv => kv.set(store, key, value))
    }

    pub async fn delete(&self, store: &str, key: &str) -> Result<(), StoreError> {
        dispatch!(self, Op::KvWrite, kv => kv.delete(store, key))
    }

    pub async fn exists(&self, store: &str, key: &str) -> Result<bool, StoreError> {
        dispatch!(self, Op::KvRead, kv => kv.exists(store, key))
    }

    pub async fn keys(&self, store: &str) -> Result<Vec<String>, StoreError> {
        dispatch!(self, Op::KvRead, kv => kv.keys(store))
    }

    /// Atomically adds `delta` to the counter at `key` (0 when absent) and
    /// returns the new value.
    pub async fn increment(
        &self,
        store: &str,
        key: &str,
        delta: i64,
    ) -> Result<Result<i64, NotACounter>, StoreError> {
        dispatch!(self, Op::KvWrite, kv => kv.increment(store, key, delta))
    }

    /// Writes `value` only if `key` still holds `expected` (`None`: absent).
    pub async fn compare_and_swap(
        &self,
        store: &str,
        key: &str,
        expected: Option<Vec<u8>>,
        value: Vec<u8>,
    ) -> Result<bool, StoreError> {
        dispatch!(self, Op::KvWrite, kv => kv.compare_and_swap(store, key, expected, value))
    }
}

impl SqliteKv {
    fn open(state_dir: &Path) -> Result<SqliteKv> {
        let pool = Pool::open(&state_dir.join("sqlite_key_value.db"))?;
        let conn = pool.connect()?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS spin_key_value (
                store TEXT NOT NULL,
                key   TEXT NOT NULL,
                value BLOB NOT NULL,
                PRIMARY KEY (store, key)
            )",
        )?;
        Ok(SqliteKv { pool })
    }

    pub async fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let (store, key) = (store.to_owned(), key.to_owned());
        self.pool
            .run(move |c| {
                Ok(c.prepare_cached(
                    "SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2",
                )?
                .query_row(params![store, key], |r| r.get(0))
                .optional()?)
            })
            .await
    }

    pub async fn set(&self, store: &str, key: &str, value: Vec<u8>) -> Result<(), StoreError> {
        let (store, key) = (store.to_owned(), key.to_owned());
        self.pool
            .run(move |c| {
                c.prepare_cached(
                    "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
                )?
                .execute(params![store, key, value])?;
                Ok(())
            })
            .await
    }

    pub async fn delete(&self, store: &str, key: &str) -> Result<(), StoreError> {
        let (store, key) = (store.to_owned(), key.to_owned());
        self.pool
            .run(move |c| {
                c.prepare_cached("DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                    .execute(params![store, key])?;
                Ok(())
            })
            .await
    }

    pub async fn exists(&self, store: &str, key: &str) -> Result<bool, StoreError> {
        let (store, key) = (store.to_owned(), key.to_owned());
        self.pool
            .run(move |c| {
                Ok(
                    c.prepare_cached("SELECT 1 FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                        .exists(params![store, key])?,
                )
            })
            .await
    }

    pub async fn keys(&self, store: &str) -> Result<Vec<String>, StoreError> {
        let store = store.to_owned();
        self.pool
            .run(move |c| {
                let mut stmt =
                    c.prepare_cached("SELECT key FROM spin_key_value WHERE store = ?1")?;
                let keys = stmt
                    .query_map(params![store], |r| r.get(0))?
                    .collect::<Result<Vec<String>, _>>()?;
                Ok(keys)
            })
            .await
    }

    /// Atomically adds `delta` to the 8-byte little-endian counter at `key`
    /// (0 when absent) and returns the new value.
    async fn increment(
        &self,
        store: &str,
        key: &str,
        delta: i64,
    ) -> Result<Result<i64, NotACounter>, StoreError> {
        let (store, key) = (store.to_owned(), key.to_owned());
        self.pool
            .run(move |c| {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let current: Option<Vec<u8>> = tx
                    .prepare_cached(
                        "SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2",
                    )?
                    .query_row(params![store, key], |r| r.get(0))
                    .optional()?;
                let current = match current {
                    None => 0,
                    Some(bytes) => match <[u8; 8]>::try_from(bytes.as_slice()) {
                        Ok(b) => i64::from_le_bytes(b),
                        Err(_) => return Ok(Err(NotACounter)),
                    },
                };
                let next = current.wrapping_add(delta);
                tx.prepare_cached(
                    "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
                )?
                .execute(params![store, key, next.to_le_bytes().to_vec()])?;
                tx.commit()?;
                Ok(Ok(next))
            })
            .await
    }

    /// Writes `value` only if `key` still holds `expected` (`None`: absent).
    /// Returns whether the swap happened.
    async fn compare_and_swap(
        &self,
        store: &str,
        key: &str,
        expected: Option<Vec<u8>>,
        value: Vec<u8>,
    ) -> Result<bool, StoreError> {
        let (store, key) = (store.to_owned(), key.to_owned());
        self.pool
            .run(move |c| {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let current: Option<Vec<u8>> = tx
                    .prepare_cached(
                        "SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2",
                    )?
                    .query_row(params![store, key], |r| r.get(0))
                    .optional()?;
                if current != expected {
                    return Ok(false);
                }
                tx.prepare_cached(
                    "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
                )?
                .execute(params![store, key, value])?;
                tx.commit()?;
                Ok(true)
            })
            .await
    }
}

/// One value of a row, as `spin:sqlite` carries it.
#[derive(Debug, Clone)]
pub enum SqlValue {
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
    Null,
}

/// The result of one statement: column names and rows.
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<SqlValue>>,
}

/// Spin's SQLite database `default`.
pub struct Sqlite {
    pool: Arc<Pool>,
    faults: Arc<Faults>,
}

impl Sqlite {
    pub fn open(state_dir: &Path, faults: Arc<Faults>) -> Result<Sqlite> {
        let pool = Pool::open(&state_dir.join("sqlite_db.db"))?;
        Ok(Sqlite { pool, faults })
    }

    /// Runs every statement of a migrations file (`spin up --sqlite @file`).
    pub fn migrate(&self, sql: &str) -> Result<()> {
        let conn = self.pool.connect()?;
        conn.execute_batch(sql).context("applying migrations")
    }

    /// Runs one parameterized statement.
    pub async fn execute(
        &self,
        statement: String,
        params: Vec<SqlValue>,
    ) -> Result<Rows, StoreError> {
        if self.faults.enter(Op::Sqlite).await.is_err() {
            return Err(StoreError::Other("injected SQLite fault".into()));
        }
        self.pool
            .run(move |c| {
                let mut stmt = c.prepare_cached(&statement)?;
                let columns: Vec<String> =
                    stmt.column_names().into_iter().map(str::to_owned).collect();
                let n = columns.len();
                let params = params.into_iter().map(to_sql);
                let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    let mut values = Vec::with_capacity(n);
                    for i in 0..n {
                        values.push(from_sql(row.get_ref(i)?));
                    }
                    out.push(values);
                }
                Ok(Rows { columns, rows: out })
            })
            .await
    }
}

fn to_sql(v: SqlValue) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    match v {
        SqlValue::Integer(i) => Value::Integer(i),
        SqlValue::Real(f) => Value::Real(f),
        SqlValue::Text(s) => Value::Text(s),
        SqlValue::Blob(b) => Value::Blob(b),
        SqlValue::Null => Value::Null,
    }
}

fn from_sql(v: rusqlite::types::ValueRef<'_>) -> SqlValue {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Integer(i) => SqlValue::Integer(i),
        ValueRef::Real(f) => SqlValue::Real(f),
        ValueRef::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => SqlValue::Blob(b.to_vec()),
        ValueRef::Null => SqlValue::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv() -> (tempdir::Dir, KeyValue) {
        let dir = tempdir::Dir::new();
        let kv = KeyValue::open(dir.path(), Arc::new(Faults::default())).unwrap();
        (dir, kv)
    }

    /// A directory removed on drop, without a crate for it.
    mod tempdir {
        pub struct Dir(std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                let p = std::env::temp_dir().join(format!(
                    "warden-host-test-{}-{:?}",
                    std::process::id(),
                    std::thread::current().id()
                ));
                let _ = std::fs::remove_dir_all(&p);
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
            pub fn path(&self) -> &std::path::Path {
                &self.0
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[tokio::test]
    async fn increment_stores_8_le_bytes_like_spin() {
        let (_d, kv) = kv();
        assert_eq!(kv.increment("default", "c", 5).await.unwrap().unwrap(), 5);
        assert_eq!(kv.increment("default", "c", -2).await.unwrap().unwrap(), 3);
        assert_eq!(
            kv.get("default", "c").await.unwrap().unwrap(),
            3i64.to_le_bytes().to_vec()
        );
    }

    #[tokio::test]
    async fn increment_on_json_is_not_a_counter() {
        let (_d, kv) = kv();
        kv.set("default", "j", b"{}".to_vec()).await.unwrap();
        assert!(kv.increment("default", "j", 1).await.unwrap().is_err());
    }

    #[tokio::test]
    async fn concurrent_increments_are_exact() {
        let (_d, kv) = kv();
        let kv = Arc::new(kv);
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let kv = kv.clone();
                tokio::spawn(async move { kv.increment("default", "n", 1).await.unwrap().unwrap() })
            })
            .collect();
        let mut seen = Vec::new();
        for t in tasks {
            seen.push(t.await.unwrap());
        }
        seen.sort();
        assert_eq!(seen, (1..=64).collect::<Vec<i64>>());
    }

    #[tokio::test]
    async fn compare_and_swap_only_on_match() {
        let (_d, kv) = kv();
        assert!(
            kv.compare_and_swap("default", "k", None, b"a".to_vec())
                .await
                .unwrap()
        );
        assert!(
            !kv.compare_and_swap("default", "k", None, b"b".to_vec())
                .await
                .unwrap()
        );
        assert!(
            kv.compare_and_swap("default", "k", Some(b"a".to_vec()), b"b".to_vec())
                .await
                .unwrap()
        );
        assert_eq!(
            kv.get("default", "k").await.unwrap().unwrap(),
            b"b".to_vec()
        );
    }

    #[tokio::test]
    async fn stores_are_separate_and_keys_listed() {
        let (_d, kv) = kv();
        kv.set("default", "a", b"1".to_vec()).await.unwrap();
        kv.set("other", "b", b"2".to_vec()).await.unwrap();
        assert_eq!(kv.keys("default").await.unwrap(), vec!["a".to_string()]);
        assert!(!kv.exists("default", "b").await.unwrap());
        kv.delete("default", "a").await.unwrap();
        assert!(kv.get("default", "a").await.unwrap().is_none());
    }

    /// The store consults the faults per operation: a hung write does not
    /// answer, reads still do, and switching the hang off lets the write
    /// through; an abandoned hung SQLite statement is counted.
    #[tokio::test]
    async fn stores_apply_hang_and_delay_per_operation() {
        use crate::faults::Fault;
        use std::time::Duration;
        let dir = tempdir::Dir::new();
        let faults = Arc::new(Faults::default());
        let kv = Arc::new(KeyValue::open(dir.path(), faults.clone()).unwrap());
        let sql = Sqlite::open(dir.path(), faults.clone()).unwrap();

        faults.set(Op::KvWrite, Fault::Hang);
        let write = tokio::spawn({
            let kv = kv.clone();
            async move { kv.increment("default", "n", 1).await }
        });
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(!write.is_finished());
        assert_eq!(kv.get("default", "n").await.unwrap(), None);
        faults.set(Op::KvWrite, Fault::None);
        assert_eq!(write.await.unwrap().unwrap().unwrap(), 1);

        faults.set(Op::Sqlite, Fault::Hang);
        let r = tokio::time::timeout(
            Duration::from_millis(30),
            sql.execute("SELECT 1".into(), vec![]),
        )
        .await;
        assert!(r.is_err());
        assert_eq!((faults.abandoned(), faults.hung_now()), (1, 0));

        faults.set(Op::Sqlite, Fault::Delay(Duration::from_millis(40)));
        let start = std::time::Instant::now();
        let rows = sql.execute("SELECT 1".into(), vec![]).await.unwrap();
        assert!(start.elapsed() >= Duration::from_millis(40));
        assert_eq!(rows.rows.len(), 1);

        faults.set_sqlite_error(true);
        assert!(sql.execute("SELECT 1".into(), vec![]).await.is_err());
    }
}
