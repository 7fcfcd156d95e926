//! Outbound HTTP (`wasi:http/client`) on the local host: the allowlist a
//! middleware inherits from the app's `allowed_outbound_hosts`, against a
//! JWKS served from 127.0.0.1 by a server inside the test.
//!
//! These tests drive the host's `send` hook itself, the exact function a
//! guest's `send` reaches, and start the real component behind a grant to
//! check that the host takes it. Warden's own fetch (the jwt stage's
//! `jwks_url`, through `crates/component/src/host/http_client.rs`) is
//! tested end to end in `tests/e2e/jwt.rs`; under real Spin it was checked
//! with a throwaway middleware built on the same `http_client.rs`
//! (docs/outbound.md).

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warden_host::outbound::{AllowedHosts, Error, Outbound, WasiBody};
use warden_tests::*;

const JWKS: &str = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","alg":"EdDSA","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;

/// A JWKS server on 127.0.0.1: every request gets the set with
/// `Cache-Control: public, max-age=300`. Returns its port and a hit count.
async fn jwks_server() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncache-control: public, max-age=300\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{JWKS}",
                    JWKS.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (port, hits)
}

fn get(url: &str) -> http::Request<WasiBody> {
    let uri: http::Uri = url.parse().unwrap();
    http::Request::get(uri.clone())
        .header("host", uri.authority().unwrap().as_str())
        .body(
            Empty::<Bytes>::new()
                .map_err(|never| match never {})
                .boxed_unsync(),
        )
        .unwrap()
}

fn outbound(grants: &[&str]) -> Outbound {
    Outbound {
        allowed: Arc::new(AllowedHosts::parse(grants).unwrap()),
        quiet: true,
    }
}

#[tokio::test]
async fn a_granted_origin_is_fetched() {
    let (port, hits) = jwks_server().await;
    let host = outbound(&[&format!("http://127.0.0.1:{port}")]);
    let (response, _io) = host
        .send(get(&format!(
            "http://127.0.0.1:{port}/.well-known/jwks.json"
        )))
        .await
        .expect("allowed");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["cache-control"].to_str().unwrap(),
        "public, max-age=300"
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, JWKS.as_bytes());
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn every_other_destination_is_denied_before_any_connection() {
    let (port, hits) = jwks_server().await;
    let host = outbound(&[&format!("http://127.0.0.1:{port}")]);
    for url in [
        // Another port, another name for the same address, another scheme:
        // Spin compares scheme, host and port as written.
        format!("http://127.0.0.1:{}/jwks", port.wrapping_add(1)),
        format!("http://localhost:{port}/jwks"),
        format!("https://127.0.0.1:{port}/jwks"),
        "http://example.com/jwks".to_owned(),
    ] {
        let denied = host.send(get(&url)).await;
        assert!(
            matches!(denied, Err(Error::HttpRequestDenied)),
            "{url}: {:?}",
            denied.err()
        );
    }
    // Nothing granted (a middleware that does not inherit the grant).
    let none = Outbound::default();
    let denied = none
        .send(get(&format!("http://127.0.0.1:{port}/jwks")))
        .await;
    assert!(matches!(denied, Err(Error::HttpRequestDenied)));
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "no request reached the server"
    );
}

#[tokio::test]
async fn a_grant_without_a_port_means_the_default_port_only() {
    let (port, hits) = jwks_server().await;
    let host = outbound(&["http://127.0.0.1"]);
    let denied = host
        .send(get(&format!("http://127.0.0.1:{port}/jwks")))
        .await;
    assert!(matches!(denied, Err(Error::HttpRequestDenied)));
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn warden_starts_behind_a_grant_and_a_bad_grant_stops_the_host() {
    let (port, _) = jwks_server().await;
    for mode in MODES {
        let host = TestHost::start(
            Setup::default()
                .reuse(mode)
                .allow_outbound(&format!("http://127.0.0.1:{port}")),
        )
        .await;
        assert_eq!(host.get("/").await.status, 200);
    }
    // A grant the local host cannot honour as Spin would is refused at
    // start, never widened or ignored.
    let refused = TestHost::try_start(Setup::default().allow_outbound("http://self")).await;
    let message = format!("{:#}", refused.err().expect("refused"));
    assert!(message.contains("allowed_outbound_hosts"), "{message}");
}
