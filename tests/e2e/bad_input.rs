//! Bad input never crashes the component: each case gets a documented JSON
//! error or a safe default.

use warden_tests::*;

fn is_json_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(
        reply.status,
        status,
        "{:?}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.json()["error"]["code"], code);
}

#[tokio::test]
async fn ambiguous_paths_are_refused_with_400() {
    for mode in MODES {
        let host = TestHost::start(Setup::default().reuse(mode)).await;
        for path in [
            "/a/%2e%2e/admin",
            "/a/%2E/b",
            "/api%2fadmin",
            "/a%5cb",
            "/a%00b",
            "/bad%zzescape",
            "/%ff",
        ] {
            let reply = host.get(path).await;
            is_json_error(&reply, 400, "BAD_REQUEST");
            assert_eq!(reply.json()["error"]["message"], "Malformed request");
        }
        assert!(host.log().contains("\"event\":\"path_rejected\""));
        assert_eq!(
            host.get("/fine").await.status,
            200,
            "{mode:?}: still serving"
        );
    }
}

#[tokio::test]
async fn oversized_header_values_are_refused_with_431() {
    let host = TestHost::start(Setup::default()).await;
    let big = "v".repeat(20 * 1024);
    let reply = host.get_with("/x", &[("x-big", &big)]).await;
    is_json_error(&reply, 431, "REQUEST_HEADER_FIELDS_TOO_LARGE");
    assert!(!String::from_utf8_lossy(&reply.body).contains("vvvv"));
    // Just under the 16 KiB default passes.
    let ok = host
        .get_with("/x", &[("x-big", &"v".repeat(16 * 1024))])
        .await;
    assert_eq!(ok.status, 200);
}

#[tokio::test]
async fn non_utf8_header_values_pass_through_and_bad_request_ids_are_replaced() {
    let host = TestHost::start(Setup::default()).await;
    let reply = host
        .send(
            "GET",
            "/x",
            &[("x-latin1", b"caf\xe9"), ("x-request-id", b"id-\xff")],
            b"",
        )
        .await;
    assert_eq!(reply.status, 200);
    let id = reply.header("x-request-id").unwrap();
    assert_eq!(id.len(), 36, "an invalid UTF-8 id is replaced: {id}");
}

#[tokio::test]
async fn an_invalid_policy_refuses_every_request_and_logs_every_problem() {
    let policy = r#"
        [settings]
        response_buffer_limit = -1
        [[routes]]
        name = "Bad Name"
        path = "no-slash"
        auth = "sometimes"
        rate_limit = { preset = "turbo" }
    "#;
    for mode in MODES {
        let host = TestHost::start(Setup::default().policy(policy).reuse(mode)).await;
        for path in ["/", "/health", "/.warden/ready"] {
            let reply = host.get(path).await;
            is_json_error(&reply, 500, "CONFIGURATION_ERROR");
            assert_eq!(
                reply.json(),
                serde_json::json!({"error": {"code": "CONFIGURATION_ERROR", "message": "Service is misconfigured"}}),
                "no detail reaches the client"
            );
        }
        let log = host.log();
        for field in [
            "settings.response_buffer_limit",
            "routes[0].name",
            "routes[0].path",
            "routes[0].auth",
            "routes[0].rate_limit",
        ] {
            assert!(
                log.contains(field),
                "{mode:?}: the log names {field}: {log}"
            );
        }
    }
}

#[tokio::test]
async fn a_policy_that_is_not_toml_is_a_configuration_error() {
    let host = TestHost::start(Setup::default().policy("[[routes]\nname = ")).await;
    is_json_error(&host.get("/").await, 500, "CONFIGURATION_ERROR");
    assert!(host.log().contains("\"config_invalid\""));
}

#[tokio::test]
async fn a_short_worker_secret_fails_loudly_without_showing_it() {
    let secret = "too-short-secret";
    let host = TestHost::start(Setup::default().var("worker_secret", secret)).await;
    is_json_error(&host.get("/").await, 500, "CONFIGURATION_ERROR");
    let log = host.log();
    assert!(log.contains("worker_secret"), "{log}");
    assert!(
        !log.contains(secret),
        "the secret must not be logged: {log}"
    );
}

#[tokio::test]
async fn an_unknown_environment_is_a_configuration_error() {
    let host = TestHost::start(Setup::default().var("environment", "prod")).await;
    is_json_error(&host.get("/").await, 500, "CONFIGURATION_ERROR");
    assert!(host.log().contains("environment"));
}

#[tokio::test]
async fn no_policy_means_the_safe_built_in_default() {
    let host = TestHost::start(Setup::default()).await;
    let reply = host.get("/anything").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.echoed_headers()["x-warden-route"], "default");
    assert!(
        host.log().contains("\"policy_source\":\"built-in\""),
        "{}",
        host.log()
    );
}
