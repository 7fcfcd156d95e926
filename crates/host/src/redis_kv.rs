//! Spin's Redis key-value backend, for deployments that share one store
//! across machines (`[key_value_store.default] type = "redis"` in Spin's
//! runtime config). Semantics follow Spin's: keys are stored as given (one
//! Redis database per store), `increment` is `INCRBY` on a decimal string,
//! `get-keys` is `KEYS *`.

use crate::storage::{NotACounter, StoreError};
use anyhow::{Context, Result};
use redis::AsyncCommands;
use redis::aio::ConnectionManager;

pub struct RedisKv {
    conn: ConnectionManager,
    cas: redis::Script,
}

fn err(e: redis::RedisError) -> StoreError {
    StoreError::Other(format!("redis: {e}"))
}

impl RedisKv {
    pub async fn connect(url: &str) -> Result<RedisKv> {
        let client = redis::Client::open(url).with_context(|| format!("redis url {url:?}"))?;
        let conn = ConnectionManager::new(client)
            .await
            .with_context(|| format!("connecting to {url}"))?;
        // Compare-and-swap in one step on the server: write only if the key
        // still holds what the CAS handle saw (ARGV[1] = "0": was absent).
        let cas = redis::Script::new(
            r"local cur = redis.call('GET', KEYS[1])
              if (ARGV[1] == '0' and not cur) or (ARGV[1] == '1' and cur == ARGV[2]) then
                redis.call('SET', KEYS[1], ARGV[3])
                return 1
              end
              return 0",
        );
        Ok(RedisKv { conn, cas })
    }

    pub async fn get(&self, _store: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.conn.clone().get(key).await.map_err(err)
    }

    pub async fn set(&self, _store: &str, key: &str, value: Vec<u8>) -> Result<(), StoreError> {
        self.conn.clone().set(key, value).await.map_err(err)
    }

    pub async fn delete(&self, _store: &str, key: &str) -> Result<(), StoreError> {
        self.conn.clone().del(key).await.map_err(err)
    }

    pub async fn exists(&self, _store: &str, key: &str) -> Result<bool, StoreError> {
        self.conn.clone().exists(key).await.map_err(err)
    }

    pub async fn keys(&self, _store: &str) -> Result<Vec<String>, StoreError> {
        self.conn.clone().keys("*").await.map_err(err)
    }

    pub async fn increment(
        &self,
        _store: &str,
        key: &str,
        delta: i64,
    ) -> Result<Result<i64, NotACounter>, StoreError> {
        match self.conn.clone().incr::<_, _, i64>(key, delta).await {
            Ok(n) => Ok(Ok(n)),
            // INCRBY on a value that is not a decimal integer.
            Err(e) if e.kind() == redis::ErrorKind::ResponseError => Ok(Err(NotACounter)),
            Err(e) => Err(err(e)),
        }
    }

    pub async fn compare_and_swap(
        &self,
        _store: &str,
        key: &str,
        expected: Option<Vec<u8>>,
        value: Vec<u8>,
    ) -> Result<bool, StoreError> {
        let mut invocation = self.cas.key(key);
        match expected {
            None => invocation.arg("0").arg(""),
            Some(bytes) => invocation.arg("1").arg(bytes),
        };
        invocation.arg(value);
        let _swapped: i64 = invocation
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(err)?;
        // Faithful to Spin 4.1.0-pre's Redis store, which ends every swap
        // with `UNWATCH key` (Redis refuses the argument) and so reports
        // every swap as failed, whether or not it wrote the value. Warden
        // reads the key back to tell the two apart (component/session.rs).
        Ok(false)
    }
}
