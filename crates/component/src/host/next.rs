//! The inner app ("next"): the imported `wasi:http/handler@0.3.0`, called
//! directly.
//!
//! `spin_sdk::http::next` would convert the app's response into an
//! `http::Response` (copying every header through the `http` crate) only for
//! warden to take the WASI response back out; calling the import itself
//! keeps that code out of the component. The one check the conversion made
//! that the host does not, on `content-length`, is made by the pipeline on
//! the response headers it copies anyway (`forward::content_length`), with
//! the same messages, so the log and the 502 stay what they were.

use spin_sdk::wasip3::http::types::{ErrorCode, Request, Response};

mod bindings {
    spin_sdk::wit_bindgen::generate!({
        runtime_path: "spin_sdk::wit_bindgen::rt",
        inline: "package warden:next; world next { import wasi:http/handler@0.3.0; }",
        path: "../../wit",
        with: {
            "wasi:http/types@0.3.0": spin_sdk::wasip3::http::types,
        },
        generate_all,
    });
}

/// Sends `request` to the inner app and returns its response.
pub async fn handle(request: Request) -> Result<Response, ErrorCode> {
    bindings::wasi::http::handler::handle(request).await
}
