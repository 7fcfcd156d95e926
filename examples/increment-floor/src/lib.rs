//! The benchmark's floor for a rate-limited route: a middleware that makes
//! one atomic `increment` in the key-value store `default` per request (as
//! warden's rate limit does for a client under its limit) and otherwise
//! hands the request and response through untouched, like
//! `examples/noop`. On Spin's embedded store the write itself dominates
//! (DESIGN §1: about 1 ms, serialized), so warden's anonymous rate-limited
//! route is compared with this, not with the no-op.

use spin_sdk::experimental::wasi::keyvalue::{atomics, store};
use spin_sdk::wasip3::http::types::{ErrorCode, Request, Response};

struct IncrementFloor;

spin_sdk::wasip3::http::service::export!(IncrementFloor);

impl spin_sdk::wasip3::exports::http::handler::Guest for IncrementFloor {
    async fn handle(request: Request) -> Result<Response, ErrorCode> {
        let bucket = store::open("default")
            .map_err(|e| ErrorCode::InternalError(Some(format!("open: {e:?}"))))?;
        atomics::increment(&bucket, "increment-floor", 1)
            .map_err(|e| ErrorCode::InternalError(Some(format!("increment: {e:?}"))))?;
        let response = spin_sdk::http::next(request).await?;
        let (_, mut body) = response.into_parts();
        body.take_unstarted()
            .ok_or_else(|| ErrorCode::InternalError(Some("response body already read".into())))
    }
}
