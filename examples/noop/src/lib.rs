//! The benchmark's floor: a `wasi:http` middleware that hands every request
//! to the inner app and its response back, untouched. Whatever it costs is
//! the price of one more component hop on the host, which any middleware
//! pays; warden's own cost is measured on top of it.

use spin_sdk::wasip3::http::types::{ErrorCode, Request, Response};

struct Noop;

spin_sdk::wasip3::http::service::export!(Noop);

impl spin_sdk::wasip3::exports::http::handler::Guest for Noop {
    async fn handle(request: Request) -> Result<Response, ErrorCode> {
        let response = spin_sdk::http::next(request).await?;
        let (_, mut body) = response.into_parts();
        body.take_unstarted()
            .ok_or_else(|| ErrorCode::InternalError(Some("response body already read".into())))
    }
}
