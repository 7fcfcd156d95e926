//! `wasi:keyvalue/{store,atomics,batch}@0.2.0-draft`, the key-value
//! interfaces wasmCloud 2.5+ and `wasmtime serve -S keyvalue` offer (the
//! `warden-wasmcloud` flavour imports them), over the same store the Spin
//! interfaces reach: one `default` store, in the SQLite file or Redis, with
//! the same faults and operation counts.
//!
//! Buckets: `default`, as on Spin, and `""` as an alias for it, since
//! `wasmtime serve -S keyvalue` grants only `""`; any other identifier is
//! `no-such-store`. Counters are Spin's 8 little-endian bytes (a two's
//! complement `i64` read as `u64`), not `wasmtime serve`'s decimal text, so
//! a counter is one value whichever interface increments it.

use crate::spin::bindings::wasi::keyvalue0_2_0_draft::{atomics, batch, store};
use crate::spin::{DEFAULT, SpinView, Wt};
use crate::storage::StoreError;
use wasmtime::component::Resource;

/// An open `wasi:keyvalue@0.2.0-draft` bucket.
pub struct DraftBucket {
    label: String,
}

fn error(e: StoreError) -> store::Error {
    store::Error::Other(e.to_string())
}

impl SpinView<'_> {
    fn draft_bucket(&self, b: &Resource<DraftBucket>) -> Wt<String> {
        Ok(self.table.get(b)?.label.clone())
    }
}

impl store::Host for SpinView<'_> {
    async fn open(
        &mut self,
        identifier: String,
    ) -> Wt<Result<Resource<DraftBucket>, store::Error>> {
        if identifier != DEFAULT && !identifier.is_empty() {
            return Ok(Err(store::Error::NoSuchStore));
        }
        let label = DEFAULT.to_owned();
        Ok(Ok(self.table.push(DraftBucket { label })?))
    }
}

impl store::HostBucket for SpinView<'_> {
    async fn get(
        &mut self,
        b: Resource<DraftBucket>,
        key: String,
    ) -> Wt<Result<Option<Vec<u8>>, store::Error>> {
        let label = self.draft_bucket(&b)?;
        Ok(self.env.kv.get(&label, &key).await.map_err(error))
    }

    async fn set(
        &mut self,
        b: Resource<DraftBucket>,
        key: String,
        value: Vec<u8>,
    ) -> Wt<Result<(), store::Error>> {
        let label = self.draft_bucket(&b)?;
        Ok(self.env.kv.set(&label, &key, value).await.map_err(error))
    }

    async fn delete(
        &mut self,
        b: Resource<DraftBucket>,
        key: String,
    ) -> Wt<Result<(), store::Error>> {
        let label = self.draft_bucket(&b)?;
        Ok(self.env.kv.delete(&label, &key).await.map_err(error))
    }

    async fn exists(
        &mut self,
        b: Resource<DraftBucket>,
        key: String,
    ) -> Wt<Result<bool, store::Error>> {
        let label = self.draft_bucket(&b)?;
        Ok(self.env.kv.exists(&label, &key).await.map_err(error))
    }

    /// One page holds every key; a cursor is an offset into that list (as
    /// `wasmtime serve` treats it), clamped so any guest value is safe.
    async fn list_keys(
        &mut self,
        b: Resource<DraftBucket>,
        cursor: Option<u64>,
    ) -> Wt<Result<store::KeyResponse, store::Error>> {
        let label = self.draft_bucket(&b)?;
        let mut keys = match self.env.kv.keys(&label).await {
            Ok(keys) => keys,
            Err(e) => return Ok(Err(error(e))),
        };
        let skip = usize::try_from(cursor.unwrap_or(0)).unwrap_or(usize::MAX);
        keys.drain(..skip.min(keys.len()));
        Ok(Ok(store::KeyResponse { keys, cursor: None }))
    }

    async fn drop(&mut self, rep: Resource<DraftBucket>) -> Wt<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

impl atomics::Host for SpinView<'_> {
    /// Adds `delta` (wrapping, as the stored `i64` does) and answers the new
    /// value. A value that is not an 8-byte counter is the interface's
    /// error here, not a trap as on Spin's draft2: this draft's hosts answer
    /// an error for it.
    async fn increment(
        &mut self,
        b: Resource<DraftBucket>,
        key: String,
        delta: u64,
    ) -> Wt<Result<u64, store::Error>> {
        let label = self.draft_bucket(&b)?;
        Ok(
            match self
                .env
                .kv
                .increment(&label, &key, delta.cast_signed())
                .await
            {
                Ok(Ok(n)) => Ok(n.cast_unsigned()),
                Ok(Err(_)) => Err(store::Error::Other(
                    "increment on a key that does not hold an 8-byte counter".into(),
                )),
                Err(e) => Err(error(e)),
            },
        )
    }
}

impl batch::Host for SpinView<'_> {
    /// One entry per key, in order: `none` for a missing key, as this
    /// draft's docs say (Spin's draft2 leaves missing keys out instead).
    async fn get_many(
        &mut self,
        b: Resource<DraftBucket>,
        keys: Vec<String>,
    ) -> Wt<Result<Vec<Option<(String, Vec<u8>)>>, store::Error>> {
        let label = self.draft_bucket(&b)?;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            match self.env.kv.get(&label, &key).await {
                Ok(value) => out.push(value.map(|v| (key, v))),
                Err(e) => return Ok(Err(error(e))),
            }
        }
        Ok(Ok(out))
    }

    async fn set_many(
        &mut self,
        b: Resource<DraftBucket>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> Wt<Result<(), store::Error>> {
        let label = self.draft_bucket(&b)?;
        for (key, value) in key_values {
            if let Err(e) = self.env.kv.set(&label, &key, value).await {
                return Ok(Err(error(e)));
            }
        }
        Ok(Ok(()))
    }

    async fn delete_many(
        &mut self,
        b: Resource<DraftBucket>,
        keys: Vec<String>,
    ) -> Wt<Result<(), store::Error>> {
        let label = self.draft_bucket(&b)?;
        for key in keys {
            if let Err(e) = self.env.kv.delete(&label, &key).await {
                return Ok(Err(error(e)));
            }
        }
        Ok(Ok(()))
    }
}
