//! What idempotency keeps in the key-value store: the names of its keys
//! (expiry first, so a sweep deletes by name) and the one value each holds,
//! an [`Entry`]: a claim while the app runs, the completed response after.
//!
//! ```
//! use warden_core::layers::idempotency::store::{
//!     key_expiry, slot_keys, CallerScope, Claim, Entry, OperationId,
//! };
//! use warden_core::layers::idempotency::fingerprint::Fingerprinter;
//!
//! let id = OperationId::new("orders", &CallerScope::User("u1".into()), "8e03978e");
//! let [first, second] = slot_keys(&id, 1_000_000, 86_400);
//! assert!(first.starts_with("warden:idem:"));
//! assert_eq!(key_expiry(&first), Some(1_036_800));
//! assert_eq!(key_expiry(&second), Some(1_123_200));
//!
//! let fingerprint = Fingerprinter::new("POST", "/api/orders").finish();
//! let claim = Entry::Claim(Claim { token: [7; 16], until: 1_000_060 }, fingerprint);
//! let bytes = claim.encode();
//! assert_eq!(Entry::decode(&bytes), Some(claim));
//! ```
//!
//! # Keys
//!
//! The store has no TTL (DESIGN §2), so, as for the replay cache, time is
//! cut into buckets of `ttl` seconds and an operation lives in two *slots*:
//! the one of the bucket its request arrived in and the next. The slot of
//! bucket `b` is named `warden:idem:<(b+1)·ttl>:<operation id>`: its expiry
//! is the end of its bucket. A sweep lists the prefix and deletes the keys
//! whose expiry has passed, without reading a value. Two requests for the
//! same operation at most `ttl` seconds apart always share a slot, and the
//! *first* slot of the later one is always that shared slot (see
//! `docs/idempotency.md` for the whole argument). A completed key is
//! remembered at least `ttl` seconds and at most `2·ttl`.
//!
//! The operation id is SHA-256 over a domain, the route's name, the
//! caller's scope and the key, each length-prefixed: the client's key never
//! appears in a store key, and one caller's key cannot reach another's
//! operation (draft §5, "a unique composite key").
//!
//! # Values
//!
//! Versioned JSON (`"v":1`), bounded in every dimension ([`MAX_ENTRY_BYTES`],
//! [`MAX_HEADERS`], ...), decoded strictly: an entry that does not decode is
//! never guessed at. The sweep's election key, `warden:idem:<expiry>:sweep`,
//! is a counter; nothing reads it as an entry.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::fingerprint::Fingerprint;
use crate::base::digest::{decode_hex, hex};

/// The key prefix of idempotency slots.
pub const IDEMPOTENCY_PREFIX: &str = "warden:idem:";
/// The domain that opens every operation id.
pub const DOMAIN: &[u8] = b"warden-idempotency-operation-v1";
/// The largest encoded entry read or written.
pub const MAX_ENTRY_BYTES: usize = 2 * 1024 * 1024;
/// At most this many response headers are stored.
pub const MAX_HEADERS: usize = 64;
/// The longest stored header name.
pub const MAX_HEADER_NAME: usize = 256;
/// The longest stored header value, in bytes.
pub const MAX_HEADER_VALUE: usize = 8192;
/// The largest stored body (the largest `max_response_bytes`).
pub const MAX_BODY: usize = super::config::MAX_RESPONSE_BYTES as usize;

/// Whose operation it is, as the route's `scope` resolves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerScope {
    /// An authenticated user, by id.
    User(String),
    /// A client address (the rate limiter's, IPv6 by /64 or as configured).
    Address(String),
    /// Every caller of the route.
    Everyone,
}

impl CallerScope {
    /// The scope of a request under `scope`: `user` is the authenticated
    /// user's id, `address` the client's. `auto` and `user` take the user
    /// and fall back to the address for an anonymous request (on an
    /// `optional` route; policy validation keeps `user` off routes that
    /// never authenticate). An unknown address is the one scope `"unknown"`.
    pub fn resolve(
        scope: super::config::Scope,
        user: Option<&str>,
        address: Option<&str>,
    ) -> CallerScope {
        use super::config::Scope;
        let address = || CallerScope::Address(address.unwrap_or("unknown").to_string());
        match (scope, user) {
            (Scope::None, _) => CallerScope::Everyone,
            (Scope::Address, _) => address(),
            (Scope::Auto | Scope::User, Some(user)) => CallerScope::User(user.to_string()),
            (Scope::Auto | Scope::User, None) => address(),
        }
    }

    fn parts(&self) -> (&[u8], &[u8]) {
        match self {
            CallerScope::User(u) => (b"user", u.as_bytes()),
            CallerScope::Address(a) => (b"address", a.as_bytes()),
            CallerScope::Everyone => (b"everyone", b""),
        }
    }
}

/// One operation: a key, of one caller, on one route.
#[derive(Clone, PartialEq, Eq)]
pub struct OperationId([u8; 32]);

impl std::fmt::Debug for OperationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OperationId({})", self.fingerprint())
    }
}

impl OperationId {
    /// SHA-256 over the domain, the route, the scope and the key.
    pub fn new(route: &str, scope: &CallerScope, key: &str) -> OperationId {
        let (kind, who) = scope.parts();
        let mut hash = Sha256::new();
        for part in [DOMAIN, route.as_bytes(), kind, who, key.as_bytes()] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
        OperationId(hash.finalize().into())
    }

    /// The first 8 hex characters, for logs.
    pub fn fingerprint(&self) -> String {
        hex(&self.0[..4])
    }
}

/// The two slots of `id` for a request at `now` (unix seconds): its own
/// bucket's, then the next one's. Claimed in this order.
pub fn slot_keys(id: &OperationId, now: u64, ttl: u64) -> [String; 2] {
    let ttl = ttl.max(1);
    let bucket = now / ttl;
    let key = |b: u64| {
        let expiry = b.saturating_add(1).saturating_mul(ttl);
        format!("{IDEMPOTENCY_PREFIX}{expiry}:{}", hex(&id.0))
    };
    [key(bucket), key(bucket.saturating_add(1))]
}

/// The slot to look at before taking over an expired claim in slot
/// `index` (0 or 1) of [`slot_keys`]: the slot on its outer side (the
/// bucket before the first, the bucket after the second). The dead
/// request that held the claim held one more slot: this one, or the
/// request's other slot, which the request decides on anyway. If it
/// completed there before dying, its record is there to replay.
pub fn takeover_neighbour(id: &OperationId, now: u64, ttl: u64, index: usize) -> String {
    let ttl = ttl.max(1);
    let bucket = now / ttl;
    let neighbour = if index == 0 {
        bucket.saturating_sub(1)
    } else {
        bucket.saturating_add(2)
    };
    let expiry = neighbour.saturating_add(1).saturating_mul(ttl);
    format!("{IDEMPOTENCY_PREFIX}{expiry}:{}", hex(&id.0))
}

/// The counter whose first increment elects the instance that sweeps the
/// expired slots of the current bucket: one sweep per `period` fleet-wide.
pub fn sweep_claim_key(now: u64, period: u64) -> String {
    crate::base::expiring_key::sweep_claim_key(IDEMPOTENCY_PREFIX, now, period)
}

/// The unix second from which an idempotency key may be deleted; `None`
/// for keys that are not idempotency keys.
pub fn key_expiry(key: &str) -> Option<u64> {
    crate::base::expiring_key::key_expiry(IDEMPOTENCY_PREFIX, key)
}

/// Whether an idempotency key has expired at `now`.
pub fn is_expired(key: &str, now: u64) -> bool {
    crate::base::expiring_key::is_expired(IDEMPOTENCY_PREFIX, key, now)
}

/// A request's hold on an operation while the app runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    /// Random bytes from the host, unique to the claiming request: its
    /// completion swaps only a slot that still holds this claim.
    pub token: [u8; 16],
    /// The unix second from which another request may take the claim over.
    pub until: u64,
}

/// A completed operation's response, as replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// 200..=599.
    pub status: u16,
    /// Names lowercase, in the app's order, minus the ones
    /// [`super::decision::stored_header`] leaves out.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body; `None` when it was larger than `max_response_bytes`: the
    /// operation happened, and a replay is refused with its own problem.
    pub body: Option<Vec<u8>>,
}

/// The value of a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// The operation is running (or its request died: see `until`).
    Claim(Claim, Fingerprint),
    /// The operation completed with this response.
    Done(StoredResponse, Fingerprint),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    v: u8,
    fp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    claim: Option<WireClaim>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    done: Option<WireDone>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireClaim {
    token: String,
    until: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireDone {
    status: u16,
    /// `[name, base64 value]`: values are bytes, replayed exactly.
    headers: Vec<(String, String)>,
    /// Base64; absent when the body was too large to store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body: Option<String>,
}

impl Entry {
    /// The fingerprint of the request that claimed or completed it.
    pub fn fingerprint(&self) -> &Fingerprint {
        match self {
            Entry::Claim(_, f) | Entry::Done(_, f) => f,
        }
    }

    /// The stored bytes. Callers keep within the bounds ([`StoredResponse`]
    /// built through `decision::stored_response` always does); an entry
    /// outside them would not decode, so encoding checks them too.
    pub fn encode(&self) -> Vec<u8> {
        let mut wire = Wire {
            v: 1,
            fp: self.fingerprint().hex(),
            claim: None,
            done: None,
        };
        match self {
            Entry::Claim(claim, _) => {
                wire.claim = Some(WireClaim {
                    token: hex(&claim.token),
                    until: claim.until,
                })
            }
            Entry::Done(response, _) => {
                wire.done = Some(WireDone {
                    status: response.status,
                    headers: response
                        .headers
                        .iter()
                        .map(|(n, v)| (n.clone(), STANDARD.encode(v)))
                        .collect(),
                    body: response.body.as_ref().map(|b| STANDARD.encode(b)),
                })
            }
        }
        serde_json::to_vec(&wire).unwrap_or_default()
    }

    /// An entry from stored bytes; `None` for anything not written by
    /// [`Entry::encode`] of this version, or outside the bounds.
    pub fn decode(bytes: &[u8]) -> Option<Entry> {
        if bytes.len() > MAX_ENTRY_BYTES {
            return None;
        }
        let wire: Wire = serde_json::from_slice(bytes).ok()?;
        if wire.v != 1 {
            return None;
        }
        let fingerprint = Fingerprint::from_hex(&wire.fp)?;
        match (wire.claim, wire.done) {
            (Some(claim), None) => {
                let token = decode_hex(&claim.token, 16)?.try_into().ok()?;
                Some(Entry::Claim(
                    Claim {
                        token,
                        until: claim.until,
                    },
                    fingerprint,
                ))
            }
            (None, Some(done)) => {
                if !(200..=599).contains(&done.status) || done.headers.len() > MAX_HEADERS {
                    return None;
                }
                let mut headers = Vec::with_capacity(done.headers.len());
                for (name, value) in done.headers {
                    let value = STANDARD.decode(value).ok()?;
                    if name.is_empty()
                        || name.len() > MAX_HEADER_NAME
                        || !name
                            .bytes()
                            .all(|b| crate::base::fields::is_tchar(b) && !b.is_ascii_uppercase())
                        || value.len() > MAX_HEADER_VALUE
                    {
                        return None;
                    }
                    headers.push((name, value));
                }
                let body = match done.body {
                    Some(b) => {
                        let body = STANDARD.decode(b).ok()?;
                        (body.len() <= MAX_BODY).then_some(())?;
                        Some(body)
                    }
                    None => None,
                };
                Some(Entry::Done(
                    StoredResponse {
                        status: done.status,
                        headers,
                        body,
                    },
                    fingerprint,
                ))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::idempotency::config::Scope;
    use crate::layers::idempotency::fingerprint::Fingerprinter;

    fn fp() -> Fingerprint {
        Fingerprinter::new("POST", "/a").finish()
    }

    fn done(body: Option<Vec<u8>>) -> Entry {
        Entry::Done(
            StoredResponse {
                status: 201,
                headers: vec![
                    ("content-type".into(), b"application/json".to_vec()),
                    ("x-bytes".into(), vec![0xff, 0x00, b'a']),
                ],
                body,
            },
            fp(),
        )
    }

    #[test]
    fn operations_share_a_slot_within_ttl_and_the_later_ones_first_slot_is_it() {
        let id = OperationId::new("r", &CallerScope::Everyone, "k");
        let ttl = 7;
        for first in 1000..1030 {
            let a = slot_keys(&id, first, ttl);
            for later in first..first + 3 * ttl {
                let b = slot_keys(&id, later, ttl);
                if later - first <= ttl {
                    assert!(
                        a.contains(&b[0]),
                        "{first} and {later}: the later's first slot is shared"
                    );
                }
                if later - first >= 2 * ttl {
                    assert!(
                        !a.iter().any(|k| b.contains(k)),
                        "{first} and {later} are far apart"
                    );
                }
            }
            // The second slot lives at least ttl past the request.
            assert!(key_expiry(&a[1]).unwrap() > first + ttl);
            assert!(key_expiry(&a[1]).unwrap() <= first + 2 * ttl);
        }
    }

    #[test]
    fn the_neighbours_flank_the_two_slots() {
        let id = OperationId::new("r", &CallerScope::Everyone, "k");
        let ttl = 10;
        for now in 100..140 {
            let [a, b] = slot_keys(&id, now, ttl);
            let before = takeover_neighbour(&id, now, ttl, 0);
            let after = takeover_neighbour(&id, now, ttl, 1);
            assert_eq!(key_expiry(&before).unwrap() + ttl, key_expiry(&a).unwrap());
            assert_eq!(key_expiry(&b).unwrap() + ttl, key_expiry(&after).unwrap());
            // A request one bucket earlier held the neighbour and the first slot;
            // one bucket later, the second slot and the neighbour after.
            assert_eq!(slot_keys(&id, now - ttl, ttl), [before, a]);
            assert_eq!(slot_keys(&id, now + ttl, ttl), [b, after]);
        }
    }

    #[test]
    fn operation_ids_separate_route_scope_and_key() {
        let user = |u: &str| CallerScope::User(u.into());
        let id = OperationId::new("r", &user("u"), "k");
        assert_eq!(id, OperationId::new("r", &user("u"), "k"));
        assert_ne!(id, OperationId::new("s", &user("u"), "k"));
        assert_ne!(id, OperationId::new("r", &user("v"), "k"));
        assert_ne!(
            id,
            OperationId::new("r", &CallerScope::Address("u".into()), "k")
        );
        assert_ne!(id, OperationId::new("r", &user("u"), "k2"));
        assert_ne!(
            OperationId::new("r", &user("uk"), ""),
            OperationId::new("r", &user("u"), "k")
        );
        assert!(!format!("{id:?}").contains('k') || format!("{id:?}").starts_with("OperationId("));
    }

    #[test]
    fn scopes_resolve() {
        let r = CallerScope::resolve;
        assert_eq!(
            r(Scope::Auto, Some("u"), Some("1.2.3.4")),
            CallerScope::User("u".into())
        );
        assert_eq!(
            r(Scope::User, Some("u"), None),
            CallerScope::User("u".into())
        );
        assert_eq!(
            r(Scope::Auto, None, Some("1.2.3.4")),
            CallerScope::Address("1.2.3.4".into())
        );
        assert_eq!(
            r(Scope::User, None, None),
            CallerScope::Address("unknown".into())
        );
        assert_eq!(
            r(Scope::Address, Some("u"), Some("a")),
            CallerScope::Address("a".into())
        );
        assert_eq!(r(Scope::None, Some("u"), Some("a")), CallerScope::Everyone);
    }

    #[test]
    fn expiry_parsing_and_sweep_key() {
        assert_eq!(key_expiry("warden:idem:42:abc"), Some(42));
        assert_eq!(sweep_claim_key(95, 10), "warden:idem:100:sweep");
        assert!(is_expired("warden:idem:42:abc", 42));
        assert!(!is_expired("warden:idem:42:abc", 41));
        for other in [
            "warden:idem:",
            "warden:idem:x:abc",
            "warden:idem:42",
            "warden:idem::abc",
            "warden:replay:42:abc",
            "warden:idem:-1:abc",
            "warden:idem:99999999999999999999999:a",
        ] {
            assert_eq!(key_expiry(other), None, "{other}");
            assert!(!is_expired(other, u64::MAX));
        }
    }

    #[test]
    fn entries_round_trip() {
        let claim = Entry::Claim(
            Claim {
                token: [0xab; 16],
                until: u64::MAX,
            },
            fp(),
        );
        for entry in [
            claim,
            done(Some(b"{\"id\":1}".to_vec())),
            done(Some(vec![])),
            done(None),
        ] {
            let bytes = entry.encode();
            assert!(bytes.len() < MAX_ENTRY_BYTES);
            assert_eq!(Entry::decode(&bytes), Some(entry));
        }
        let largest = done(Some(vec![0xee; MAX_BODY]));
        let bytes = largest.encode();
        assert!(bytes.len() <= MAX_ENTRY_BYTES, "{}", bytes.len());
        assert_eq!(Entry::decode(&bytes), Some(largest));
    }

    #[test]
    fn decoding_is_strict_and_bounded() {
        let good = String::from_utf8(done(Some(b"x".to_vec())).encode()).unwrap();
        let claim = String::from_utf8(
            Entry::Claim(
                Claim {
                    token: [1; 16],
                    until: 5,
                },
                fp(),
            )
            .encode(),
        )
        .unwrap();
        let fp = fp().hex();
        for bad in [
            String::new(),
            "null".into(),
            "{}".into(),
            good.replace("\"v\":1", "\"v\":2"),
            good.replace(&fp, "00"),
            good.replace("201", "199"),
            good.replace("201", "600"),
            good.replace("content-type", "Content-Type"),
            good.replace("content-type", ""),
            good.replace("\"status\"", "\"extra\":1,\"status\""),
            claim.replace("\"until\":5", "\"until\":-5"),
            claim.replace(&crate::base::digest::hex(&[1; 16]), "0101"),
            format!("{{\"v\":1,\"fp\":\"{fp}\"}}"),
            format!(
                "{{\"v\":1,\"fp\":\"{fp}\",\"claim\":{{\"token\":\"{}\",\"until\":1}},\"done\":{{\"status\":200,\"headers\":[]}}}}",
                "00".repeat(16)
            ),
        ] {
            assert_eq!(Entry::decode(bad.as_bytes()), None, "{bad}");
        }
        let many = Entry::Done(
            StoredResponse {
                status: 200,
                headers: vec![("a".into(), vec![]); MAX_HEADERS + 1],
                body: None,
            },
            self::fp(),
        );
        assert_eq!(Entry::decode(&many.encode()), None);
        let long_value = Entry::Done(
            StoredResponse {
                status: 200,
                headers: vec![("a".into(), vec![b'v'; MAX_HEADER_VALUE + 1])],
                body: None,
            },
            self::fp(),
        );
        assert_eq!(Entry::decode(&long_value.encode()), None);
        let big_body = done(Some(vec![0; MAX_BODY + 1]));
        assert_eq!(Entry::decode(&big_body.encode()), None);
        assert_eq!(Entry::decode(&vec![b' '; MAX_ENTRY_BYTES + 1]), None);
    }
}
