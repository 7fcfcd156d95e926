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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spin::{atomics as atomics2, wkv as store2};
    use crate::test_env::TestEnv;

    /// Another handle on the same bucket, as a guest's `borrow<bucket>`.
    fn b<T: 'static>(r: &Resource<T>) -> Resource<T> {
        Resource::new_borrow(r.rep())
    }

    async fn open(v: &mut SpinView<'_>, id: &str) -> Result<Resource<DraftBucket>, store::Error> {
        store::Host::open(v, id.to_owned()).await.unwrap()
    }

    #[tokio::test]
    async fn default_and_the_empty_alias_open_anything_else_is_no_such_store() {
        let mut t = TestEnv::new(&[]);
        let mut v = t.view();
        let named = open(&mut v, "default").await.unwrap();
        let alias = open(&mut v, "").await.unwrap();
        for id in ["other", "Default", "default ", "\0", &"d".repeat(70_000)] {
            assert!(matches!(
                open(&mut v, id).await,
                Err(store::Error::NoSuchStore)
            ));
        }
        // `""` is the same store as `default`, which Spin's interfaces use.
        store::HostBucket::set(&mut v, b(&alias), "k".into(), b"v".to_vec())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            store::HostBucket::get(&mut v, b(&named), "k".into())
                .await
                .unwrap()
                .unwrap(),
            Some(b"v".to_vec())
        );
        assert_eq!(
            t.env.kv.get("default", "k").await.unwrap(),
            Some(b"v".to_vec())
        );
    }

    #[tokio::test]
    async fn get_set_delete_exists_and_list_keys() {
        let mut t = TestEnv::new(&[]);
        let mut v = t.view();
        let bk = open(&mut v, "default").await.unwrap();
        let get = async |v: &mut SpinView<'_>, key: &str| {
            store::HostBucket::get(v, b(&bk), key.into())
                .await
                .unwrap()
                .unwrap()
        };
        assert_eq!(get(&mut v, "a").await, None);
        for key in ["a", "b", ""] {
            store::HostBucket::set(&mut v, b(&bk), key.into(), key.as_bytes().to_vec())
                .await
                .unwrap()
                .unwrap();
        }
        assert_eq!(get(&mut v, "a").await, Some(b"a".to_vec()));
        assert!(
            store::HostBucket::exists(&mut v, b(&bk), "b".into())
                .await
                .unwrap()
                .unwrap()
        );
        store::HostBucket::delete(&mut v, b(&bk), "b".into())
            .await
            .unwrap()
            .unwrap();
        // Deleting a missing key does nothing.
        store::HostBucket::delete(&mut v, b(&bk), "b".into())
            .await
            .unwrap()
            .unwrap();
        assert!(
            !store::HostBucket::exists(&mut v, b(&bk), "b".into())
                .await
                .unwrap()
                .unwrap()
        );
        let list = async |v: &mut SpinView<'_>, cursor| {
            let mut r = store::HostBucket::list_keys(v, b(&bk), cursor)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(r.cursor, None);
            r.keys.sort();
            r.keys
        };
        assert_eq!(list(&mut v, None).await, vec!["".to_string(), "a".into()]);
        assert_eq!(list(&mut v, Some(1)).await.len(), 1);
        assert!(list(&mut v, Some(u64::MAX)).await.is_empty());
        store::HostBucket::drop(&mut v, bk).await.unwrap();
    }

    #[tokio::test]
    async fn increment_takes_a_u64_delta_and_keeps_spins_8_byte_counter() {
        let mut t = TestEnv::new(&[]);
        let mut v = t.view();
        let bk = open(&mut v, "").await.unwrap();
        let inc = async |v: &mut SpinView<'_>, key: &str, delta| {
            atomics::Host::increment(v, b(&bk), key.into(), delta)
                .await
                .unwrap()
        };
        assert_eq!(inc(&mut v, "n", 5).await.unwrap(), 5);
        assert_eq!(inc(&mut v, "n", 1 << 40).await.unwrap(), 5 + (1 << 40));
        // u64::MAX is -1 in the stored two's complement: it wraps.
        assert_eq!(inc(&mut v, "n", u64::MAX).await.unwrap(), 4 + (1 << 40));
        assert_eq!(
            t.env.kv.get("default", "n").await.unwrap(),
            Some((4i64 + (1 << 40)).to_le_bytes().to_vec())
        );

        // Spin's draft2 increment sees the same counter.
        let mut v = t.view();
        let b2 = store2::Host::open(&mut v, "default".into())
            .await
            .unwrap()
            .unwrap();
        let n = atomics2::Host::increment(&mut v, b2, "n".into(), 1)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 5 + (1 << 40));

        // A value that is not a counter is the interface's error, not a trap.
        store::HostBucket::set(&mut v, b(&bk), "j".into(), b"{}".to_vec())
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(
            inc(&mut v, "j", 1).await,
            Err(store::Error::Other(_))
        ));
    }

    #[tokio::test]
    async fn batch_get_many_set_many_delete_many() {
        let mut t = TestEnv::new(&[]);
        let mut v = t.view();
        let bk = open(&mut v, "default").await.unwrap();
        batch::Host::set_many(
            &mut v,
            b(&bk),
            vec![("a".into(), b"1".to_vec()), ("c".into(), b"3".to_vec())],
        )
        .await
        .unwrap()
        .unwrap();
        // One entry per key, in order, `none` for the missing one.
        let got = batch::Host::get_many(&mut v, b(&bk), vec!["a".into(), "b".into(), "c".into()])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            got,
            vec![
                Some(("a".to_string(), b"1".to_vec())),
                None,
                Some(("c".to_string(), b"3".to_vec())),
            ]
        );
        batch::Host::delete_many(&mut v, b(&bk), vec!["a".into(), "missing".into()])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            t.env.kv.keys("default").await.unwrap(),
            vec!["c".to_string()]
        );
    }

    /// One store: what the draft writes, Spin's interfaces read, and back.
    #[tokio::test]
    async fn the_draft_and_spins_interfaces_share_one_store() {
        let mut t = TestEnv::new(&[]);
        let mut v = t.view();
        let draft = open(&mut v, "").await.unwrap();
        let draft2 = store2::Host::open(&mut v, "default".into())
            .await
            .unwrap()
            .unwrap();
        store::HostBucket::set(&mut v, b(&draft), "from-draft".into(), b"1".to_vec())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            store2::HostBucket::get(&mut v, b(&draft2), "from-draft".into())
                .await
                .unwrap()
                .unwrap(),
            Some(b"1".to_vec())
        );
        store2::HostBucket::set(&mut v, b(&draft2), "from-draft2".into(), b"2".to_vec())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            store::HostBucket::get(&mut v, b(&draft), "from-draft2".into())
                .await
                .unwrap()
                .unwrap(),
            Some(b"2".to_vec())
        );
        // spin:key-value's `default` store is the same label in the same backend.
        assert_eq!(
            t.env
                .kv
                .get(crate::spin::DEFAULT, "from-draft")
                .await
                .unwrap(),
            Some(b"1".to_vec())
        );
    }

    /// The draft's calls are counted and faulted like Spin's: reads as
    /// reads, writes (batch too, per key) as writes.
    #[tokio::test]
    async fn operations_count_and_fail_like_spins() {
        use crate::faults::{Fault, Op};
        let mut t = TestEnv::new(&[]);
        let faults = t.faults.clone();
        let mut v = t.view();
        let bk = open(&mut v, "default").await.unwrap();
        store::HostBucket::set(&mut v, b(&bk), "k".into(), b"v".to_vec())
            .await
            .unwrap()
            .unwrap();
        atomics::Host::increment(&mut v, b(&bk), "n".into(), 1)
            .await
            .unwrap()
            .unwrap();
        batch::Host::set_many(
            &mut v,
            b(&bk),
            vec![("x".into(), vec![]), ("y".into(), vec![])],
        )
        .await
        .unwrap()
        .unwrap();
        store::HostBucket::get(&mut v, b(&bk), "k".into())
            .await
            .unwrap()
            .unwrap();
        let counts = faults.counts();
        assert_eq!((counts.kv_reads, counts.kv_writes), (1, 4));

        faults.set(Op::KvWrite, Fault::Error);
        assert!(matches!(
            store::HostBucket::set(&mut v, b(&bk), "k".into(), vec![])
                .await
                .unwrap(),
            Err(store::Error::Other(_))
        ));
        assert!(
            store::HostBucket::get(&mut v, b(&bk), "k".into())
                .await
                .unwrap()
                .is_ok()
        );
    }
}
