//! End-to-end tests: the real `warden.wasm` composed in front of the real
//! echo app, served by the local host over real HTTP, on SQLite-backed
//! key-value and database files. Each behaviour is checked with instance
//! reuse on (as Spin does) and with one instance per request.

mod api_keys;
mod bad_input;
mod component;
mod cors;
mod credentials;
mod csrf;
mod flavours;
mod hardening;
mod headers;
mod hostile;
mod idempotency;
mod isolation;
mod jwt;
mod lockout;
mod outage;
mod outbound;
mod pipeline;
mod rate_limit;
mod redis_store;
mod security_events;
mod session;
mod signatures;
mod stall;
mod throttle;
mod timeouts;
mod webhooks;
