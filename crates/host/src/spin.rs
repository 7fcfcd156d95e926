//! The Spin interfaces the host provides: `spin:key-value@3.0.0`,
//! `spin:sqlite@3.1.0`, `spin:variables@3.0.0` and the
//! `wasi:keyvalue@0.2.0-draft2` store, atomics and batch, as Spin implements
//! them on its default (SQLite-file) backends.
//!
//! Bindings come from the repository's `wit/` (world `spin-host`). The
//! functions are thin: each looks up its resource and calls [`storage`].
//! The other flavours' interfaces (`wasi:keyvalue@0.2.0-draft`,
//! `wasi:config`) are in [`crate::wasi_keyvalue`] and [`crate::wasi_config`];
//! which ones a host links is its [`crate::Profile`].

use crate::storage::{KeyValue, NotACounter, SqlValue, Sqlite, StoreError};
use crate::variables::Variables;
use std::sync::Arc;
use wasmtime::component::{Accessor, FutureReader, HasData, Resource, ResourceTable, StreamReader};

pub(crate) mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "warden:middleware/spin-host",
        imports: { default: async | trappable },
        with: {
            "spin:key-value/key-value.store": super::KvStore,
            "spin:sqlite/sqlite.connection": super::SqlConnection,
            "wasi:keyvalue/store@0.2.0-draft2.bucket": super::Bucket,
            "wasi:keyvalue/atomics@0.2.0-draft2.cas": super::Cas,
            "wasi:keyvalue/store@0.2.0-draft.bucket": crate::wasi_keyvalue::DraftBucket,
        },
    });
}

use bindings::spin::key_value::key_value as kv;
use bindings::spin::sqlite::sqlite as sql;
use bindings::spin::variables::variables as vars;
pub use bindings::spin::variables::variables::Error as VariablesError;
pub(crate) use bindings::wasi::keyvalue0_2_0_draft2::{atomics, batch, store as wkv};

/// The label of the only key-value store and database the host grants,
/// as `spin up` grants `default` when the manifest names it.
pub(crate) const DEFAULT: &str = "default";

/// What every instance shares: the backends and the variables.
pub struct SpinEnv {
    pub kv: KeyValue,
    pub sqlite: Sqlite,
    pub variables: Variables,
}

/// An open `spin:key-value` store.
pub struct KvStore {
    label: String,
}

/// An open `spin:sqlite` connection (always the `default` database).
pub struct SqlConnection;

/// An open `wasi:keyvalue` bucket.
pub struct Bucket {
    label: String,
}

/// A compare-and-swap in progress: the value seen when it began.
pub struct Cas {
    label: String,
    key: String,
    current: Option<Vec<u8>>,
}

/// The per-store view the bindings work on.
pub struct SpinView<'a> {
    pub env: &'a Arc<SpinEnv>,
    pub table: &'a mut ResourceTable,
}

/// Marker that ties the bindings to [`SpinView`].
pub struct Spin;

impl HasData for Spin {
    type Data<'a> = SpinView<'a>;
}

pub(crate) type Wt<T> = wasmtime::Result<T>;

fn kv_error(e: StoreError) -> kv::Error {
    kv::Error::Other(e.to_string())
}
fn wkv_error(e: StoreError) -> wkv::Error {
    wkv::Error::Other(e.to_string())
}
fn sql_error(e: StoreError) -> sql::Error {
    sql::Error::Io(e.to_string())
}
fn not_a_counter(NotACounter: NotACounter) -> wasmtime::Error {
    wasmtime::format_err!("increment on a key that does not hold an 8-byte counter")
}

/// The environment and a resource's label, read under the store lock.
fn kv_label<T>(a: &Accessor<T, Spin>, store: &Resource<KvStore>) -> Wt<(Arc<SpinEnv>, String)> {
    a.with(|mut access| {
        let view = access.get();
        let label = view.table.get(store)?.label.clone();
        Ok((view.env.clone(), label))
    })
}

// ---------------------------------------------------------------- spin:key-value

impl<T> kv::HostStoreWithStore<T> for Spin {
    async fn open(
        a: &Accessor<T, Self>,
        label: String,
    ) -> Wt<Result<Resource<KvStore>, kv::Error>> {
        if label != DEFAULT {
            return Ok(Err(kv::Error::NoSuchStore));
        }
        a.with(|mut access| Ok(Ok(access.get().table.push(KvStore { label })?)))
    }

    async fn get(
        a: &Accessor<T, Self>,
        s: Resource<KvStore>,
        key: String,
    ) -> Wt<Result<Option<Vec<u8>>, kv::Error>> {
        let (env, label) = kv_label(a, &s)?;
        Ok(env.kv.get(&label, &key).await.map_err(kv_error))
    }

    async fn set(
        a: &Accessor<T, Self>,
        s: Resource<KvStore>,
        key: String,
        value: Vec<u8>,
    ) -> Wt<Result<(), kv::Error>> {
        let (env, label) = kv_label(a, &s)?;
        Ok(env.kv.set(&label, &key, value).await.map_err(kv_error))
    }

    async fn delete(
        a: &Accessor<T, Self>,
        s: Resource<KvStore>,
        key: String,
    ) -> Wt<Result<(), kv::Error>> {
        let (env, label) = kv_label(a, &s)?;
        Ok(env.kv.delete(&label, &key).await.map_err(kv_error))
    }

    async fn exists(
        a: &Accessor<T, Self>,
        s: Resource<KvStore>,
        key: String,
    ) -> Wt<Result<bool, kv::Error>> {
        let (env, label) = kv_label(a, &s)?;
        Ok(env.kv.exists(&label, &key).await.map_err(kv_error))
    }

    async fn get_keys(
        a: &Accessor<T, Self>,
        s: Resource<KvStore>,
    ) -> Wt<(StreamReader<String>, FutureReader<Result<(), kv::Error>>)> {
        let (env, label) = kv_label(a, &s)?;
        let (keys, result) = match env.kv.keys(&label).await {
            Ok(keys) => (keys, Ok(())),
            Err(e) => (Vec::new(), Err(kv_error(e))),
        };
        a.with(|mut access| {
            let stream = StreamReader::new(&mut access, keys)?;
            let done =
                FutureReader::new(&mut access, async move { Ok::<_, wasmtime::Error>(result) })?;
            Ok((stream, done))
        })
    }
}

impl kv::HostStore for SpinView<'_> {
    async fn drop(&mut self, rep: Resource<KvStore>) -> Wt<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

impl kv::Host for SpinView<'_> {}

// ---------------------------------------------------------------- spin:sqlite

fn to_value(v: sql::Value) -> SqlValue {
    match v {
        sql::Value::Integer(i) => SqlValue::Integer(i),
        sql::Value::Real(f) => SqlValue::Real(f),
        sql::Value::Text(s) => SqlValue::Text(s),
        sql::Value::Blob(b) => SqlValue::Blob(b),
        sql::Value::Null => SqlValue::Null,
    }
}

fn from_value(v: SqlValue) -> sql::Value {
    match v {
        SqlValue::Integer(i) => sql::Value::Integer(i),
        SqlValue::Real(f) => sql::Value::Real(f),
        SqlValue::Text(s) => sql::Value::Text(s),
        SqlValue::Blob(b) => sql::Value::Blob(b),
        SqlValue::Null => sql::Value::Null,
    }
}

async fn run_statement(
    env: &SpinEnv,
    statement: String,
    parameters: Vec<sql::Value>,
) -> Result<(Vec<String>, Vec<sql::RowResult>), sql::Error> {
    let rows = env
        .sqlite
        .execute(statement, parameters.into_iter().map(to_value).collect())
        .await
        .map_err(sql_error)?;
    let out = rows
        .rows
        .into_iter()
        .map(|r| sql::RowResult {
            values: r.into_iter().map(from_value).collect(),
        })
        .collect();
    Ok((rows.columns, out))
}

impl<T> sql::HostConnectionWithStore<T> for Spin {
    async fn open_async(
        a: &Accessor<T, Self>,
        database: String,
    ) -> Wt<Result<Resource<SqlConnection>, sql::Error>> {
        if database != DEFAULT {
            return Ok(Err(sql::Error::NoSuchDatabase));
        }
        a.with(|mut access| Ok(Ok(access.get().table.push(SqlConnection)?)))
    }

    async fn execute_async(
        a: &Accessor<T, Self>,
        c: Resource<SqlConnection>,
        statement: String,
        parameters: Vec<sql::Value>,
    ) -> Wt<
        Result<
            (
                Vec<String>,
                StreamReader<sql::RowResult>,
                FutureReader<Result<(), sql::Error>>,
            ),
            sql::Error,
        >,
    > {
        let env = a.with(|mut access| {
            let view = access.get();
            view.table.get(&c)?;
            Ok::<_, wasmtime::Error>(view.env.clone())
        })?;
        let (columns, rows) = match run_statement(&env, statement, parameters).await {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        a.with(|mut access| {
            let stream = StreamReader::new(&mut access, rows)?;
            let done = FutureReader::new(&mut access, async { Ok::<_, wasmtime::Error>(Ok(())) })?;
            Ok(Ok((columns, stream, done)))
        })
    }

    async fn last_insert_rowid_async(_: &Accessor<T, Self>, _: Resource<SqlConnection>) -> Wt<i64> {
        // Connections are pooled per statement, so the rowid of "this
        // connection" is not tracked; warden never asks for it.
        Ok(0)
    }

    async fn changes_async(_: &Accessor<T, Self>, _: Resource<SqlConnection>) -> Wt<u64> {
        Ok(0)
    }
}

impl sql::HostConnection for SpinView<'_> {
    async fn open(&mut self, database: String) -> Wt<Result<Resource<SqlConnection>, sql::Error>> {
        if database != DEFAULT {
            return Ok(Err(sql::Error::NoSuchDatabase));
        }
        Ok(Ok(self.table.push(SqlConnection)?))
    }

    async fn execute(
        &mut self,
        c: Resource<SqlConnection>,
        statement: String,
        parameters: Vec<sql::Value>,
    ) -> Wt<Result<sql::QueryResult, sql::Error>> {
        self.table.get(&c)?;
        let env = self.env.clone();
        Ok(run_statement(&env, statement, parameters)
            .await
            .map(|(columns, rows)| sql::QueryResult { columns, rows }))
    }

    async fn last_insert_rowid(&mut self, _: Resource<SqlConnection>) -> Wt<i64> {
        Ok(0)
    }

    async fn changes(&mut self, _: Resource<SqlConnection>) -> Wt<u64> {
        Ok(0)
    }

    async fn drop(&mut self, rep: Resource<SqlConnection>) -> Wt<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

impl sql::Host for SpinView<'_> {}

// ---------------------------------------------------------------- spin:variables

impl<T> vars::HostWithStore<T> for Spin {
    async fn get(a: &Accessor<T, Self>, name: String) -> Wt<Result<String, vars::Error>> {
        Ok(a.with(|mut access| access.get().env.variables.get(&name)))
    }
}

impl vars::Host for SpinView<'_> {}

// ---------------------------------------------------------------- wasi:keyvalue

impl SpinView<'_> {
    fn bucket(&self, b: &Resource<Bucket>) -> Wt<String> {
        Ok(self.table.get(b)?.label.clone())
    }
}

impl wkv::HostBucket for SpinView<'_> {
    async fn get(
        &mut self,
        b: Resource<Bucket>,
        key: String,
    ) -> Wt<Result<Option<Vec<u8>>, wkv::Error>> {
        let label = self.bucket(&b)?;
        Ok(self.env.kv.get(&label, &key).await.map_err(wkv_error))
    }

    async fn set(
        &mut self,
        b: Resource<Bucket>,
        key: String,
        value: Vec<u8>,
    ) -> Wt<Result<(), wkv::Error>> {
        let label = self.bucket(&b)?;
        Ok(self
            .env
            .kv
            .set(&label, &key, value)
            .await
            .map_err(wkv_error))
    }

    async fn delete(&mut self, b: Resource<Bucket>, key: String) -> Wt<Result<(), wkv::Error>> {
        let label = self.bucket(&b)?;
        Ok(self.env.kv.delete(&label, &key).await.map_err(wkv_error))
    }

    async fn exists(&mut self, b: Resource<Bucket>, key: String) -> Wt<Result<bool, wkv::Error>> {
        let label = self.bucket(&b)?;
        Ok(self.env.kv.exists(&label, &key).await.map_err(wkv_error))
    }

    async fn list_keys(
        &mut self,
        b: Resource<Bucket>,
        cursor: Option<String>,
    ) -> Wt<Result<wkv::KeyResponse, wkv::Error>> {
        let label = self.bucket(&b)?;
        // One page holds every key; a cursor past the first page is empty.
        Ok(match cursor {
            Some(_) => Ok(wkv::KeyResponse {
                keys: Vec::new(),
                cursor: None,
            }),
            None => self
                .env
                .kv
                .keys(&label)
                .await
                .map(|keys| wkv::KeyResponse { keys, cursor: None })
                .map_err(wkv_error),
        })
    }

    async fn drop(&mut self, rep: Resource<Bucket>) -> Wt<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

impl wkv::Host for SpinView<'_> {
    async fn open(&mut self, identifier: String) -> Wt<Result<Resource<Bucket>, wkv::Error>> {
        if identifier != DEFAULT {
            return Ok(Err(wkv::Error::NoSuchStore));
        }
        Ok(Ok(self.table.push(Bucket { label: identifier })?))
    }
}

impl atomics::HostCas for SpinView<'_> {
    async fn new(
        &mut self,
        b: Resource<Bucket>,
        key: String,
    ) -> Wt<Result<Resource<Cas>, wkv::Error>> {
        let label = self.bucket(&b)?;
        let current = match self.env.kv.get(&label, &key).await {
            Ok(v) => v,
            Err(e) => return Ok(Err(wkv_error(e))),
        };
        Ok(Ok(self.table.push(Cas {
            label,
            key,
            current,
        })?))
    }

    async fn current(&mut self, c: Resource<Cas>) -> Wt<Result<Option<Vec<u8>>, wkv::Error>> {
        Ok(Ok(self.table.get(&c)?.current.clone()))
    }

    async fn drop(&mut self, rep: Resource<Cas>) -> Wt<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

impl atomics::Host for SpinView<'_> {
    async fn increment(
        &mut self,
        b: Resource<Bucket>,
        key: String,
        delta: i64,
    ) -> Wt<Result<i64, wkv::Error>> {
        let label = self.bucket(&b)?;
        match self.env.kv.increment(&label, &key, delta).await {
            Ok(Ok(n)) => Ok(Ok(n)),
            Ok(Err(e)) => Err(not_a_counter(e)),
            Err(e) => Ok(Err(wkv_error(e))),
        }
    }

    async fn swap(
        &mut self,
        c: Resource<Cas>,
        value: Vec<u8>,
    ) -> Wt<Result<(), atomics::CasError>> {
        let cas = self.table.delete(c)?;
        match self
            .env
            .kv
            .compare_and_swap(&cas.label, &cas.key, cas.current.clone(), value)
            .await
        {
            Ok(true) => Ok(Ok(())),
            Ok(false) => {
                // Hand back a fresh CAS on the value now stored, so the guest
                // can retry, as the interface's `cas-failed(cas)` intends.
                let current = self.env.kv.get(&cas.label, &cas.key).await.ok().flatten();
                let again = self.table.push(Cas { current, ..cas })?;
                Ok(Err(atomics::CasError::CasFailed(again)))
            }
            Err(e) => Ok(Err(atomics::CasError::StoreError(wkv_error(e)))),
        }
    }
}

impl batch::Host for SpinView<'_> {
    async fn get_many(
        &mut self,
        b: Resource<Bucket>,
        keys: Vec<String>,
    ) -> Wt<Result<Vec<(String, Option<Vec<u8>>)>, wkv::Error>> {
        let label = self.bucket(&b)?;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            match self.env.kv.get(&label, &key).await {
                // Spin's default store leaves missing keys out (DESIGN §2).
                Ok(Some(v)) => out.push((key, Some(v))),
                Ok(None) => {}
                Err(e) => return Ok(Err(wkv_error(e))),
            }
        }
        Ok(Ok(out))
    }

    async fn set_many(
        &mut self,
        b: Resource<Bucket>,
        kvs: Vec<(String, Vec<u8>)>,
    ) -> Wt<Result<(), wkv::Error>> {
        let label = self.bucket(&b)?;
        for (key, value) in kvs {
            if let Err(e) = self.env.kv.set(&label, &key, value).await {
                return Ok(Err(wkv_error(e)));
            }
        }
        Ok(Ok(()))
    }

    async fn delete_many(
        &mut self,
        b: Resource<Bucket>,
        keys: Vec<String>,
    ) -> Wt<Result<(), wkv::Error>> {
        let label = self.bucket(&b)?;
        for key in keys {
            if let Err(e) = self.env.kv.delete(&label, &key).await {
                return Ok(Err(wkv_error(e)));
            }
        }
        Ok(Ok(()))
    }
}
