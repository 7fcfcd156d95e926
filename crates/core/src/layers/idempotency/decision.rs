//! The decisions, as plain functions of the request, a slot's value and the
//! time: whether a request takes part ([`admit`]), what one slot says
//! ([`decide_slot`]), what a completion writes ([`complete_slot`],
//! [`stored_response`]) and the problem+json answers ([`Problem`]).
//!
//! ```
//! use warden_core::layers::idempotency::config::IdempotencyConfig;
//! use warden_core::layers::idempotency::decision::{admit, decide_slot, new_claim, Admission, SlotDecision};
//! use warden_core::layers::idempotency::fingerprint::Fingerprinter;
//!
//! let config = IdempotencyConfig { required: true, ..IdempotencyConfig::default() };
//! let lines = [("idempotency-key", b"\"order-42\"".as_slice())];
//! let Admission::Keyed(key) = admit(&config, "POST", &lines) else { panic!() };
//! assert_eq!(key.as_str(), "order-42");
//! assert_eq!(admit(&config, "POST", &[]), Admission::Missing);
//! assert_eq!(admit(&config, "PUT", &[]), Admission::NotApplicable);
//!
//! let fp = Fingerprinter::new("POST", "/api/orders").finish();
//! // An empty slot: claim it (compare-and-swap from "absent").
//! assert_eq!(decide_slot(None, &fp, 1_000), SlotDecision::Claim);
//! // Claimed by another request still running: 409.
//! let claim = new_claim([1; 16], fp, 1_000, 60).encode();
//! assert!(matches!(decide_slot(Some(&claim), &fp, 1_010), SlotDecision::Conflict { retry_after: 50 }));
//! // Its claim has expired (its request died): take it over.
//! assert_eq!(decide_slot(Some(&claim), &fp, 1_060), SlotDecision::TakeOver);
//! ```

use super::config::IdempotencyConfig;
use super::fingerprint::Fingerprint;
use super::key::{IdempotencyKey, KeyRefusal, presented_key};
use super::store::{Claim, Entry, StoredResponse};

/// The header that marks a replayed response (the name and value Stripe
/// and most implementations use; the draft names none).
pub const REPLAY_HEADER: &str = "idempotent-replayed";
/// Its value.
pub const REPLAY_VALUE: &str = "true";
/// The problem documents' media type (RFC 9457).
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";
/// The problems' `type`: the draft, whose error section documents them.
pub const PROBLEM_TYPE: &str =
    "https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/";

/// Whether and how a request takes part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Not for this layer: a method the route's `methods` do not list, or
    /// no key where none is required. The request passes untouched.
    NotApplicable,
    /// No key where one is required: 400.
    Missing,
    /// A key that is not one: 400.
    Invalid(KeyRefusal),
    /// A key: the request goes through the slots.
    Keyed(IdempotencyKey),
}

/// Reads a request's key under the route's settings; `method` as sent,
/// `lines` every request header line.
pub fn admit(config: &IdempotencyConfig, method: &str, lines: &[(&str, &[u8])]) -> Admission {
    if !config.applies_to(method) {
        return Admission::NotApplicable;
    }
    let names: Vec<&str> = config.header_names().collect();
    match presented_key(&names, lines) {
        Ok(Some(key)) => Admission::Keyed(key),
        Ok(None) if config.required => Admission::Missing,
        Ok(None) => Admission::NotApplicable,
        Err(refusal) => Admission::Invalid(refusal),
    }
}

/// What one slot's current value means for a request with `fingerprint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotDecision {
    /// Empty: swap this request's claim in, comparing against the value
    /// just read (absent). A failed swap means another request won: read
    /// again and decide again.
    Claim,
    /// Held by an expired claim with the same fingerprint (its request
    /// died, or gave the claim up): first decide on the slot's outer
    /// neighbour ([`super::store::takeover_neighbour`]), where the dead
    /// request may have completed; act on anything but `Claim` or
    /// `TakeOver` there, else swap this request's claim in as for `Claim`.
    TakeOver,
    /// Completed with this fingerprint: answer the stored response with
    /// [`REPLAY_HEADER`]; the app is not called.
    Replay(StoredResponse),
    /// Completed, but the response was too large to store: [`Problem::TooLargeToReplay`].
    TooLargeToReplay { status: u16 },
    /// Claimed by a request still within its claim: [`Problem::Conflict`].
    Conflict { retry_after: u64 },
    /// Claimed or completed with another fingerprint: [`Problem::Mismatch`].
    Mismatch,
    /// A value this version cannot read (corrupt, or a newer version's):
    /// [`Problem::Unreadable`], never overwritten.
    Unreadable,
}

/// Decides on one slot. The fingerprint is compared first: a key reused
/// for another request is refused whatever the state of the first (draft
/// §2.7), and an expired claim is taken over only by the same request.
pub fn decide_slot(current: Option<&[u8]>, fingerprint: &Fingerprint, now: u64) -> SlotDecision {
    let Some(bytes) = current else {
        return SlotDecision::Claim;
    };
    let Some(entry) = Entry::decode(bytes) else {
        return SlotDecision::Unreadable;
    };
    if entry.fingerprint() != fingerprint {
        return SlotDecision::Mismatch;
    }
    match entry {
        Entry::Claim(claim, _) if claim.until <= now => SlotDecision::TakeOver,
        Entry::Claim(claim, _) => SlotDecision::Conflict {
            retry_after: claim.until - now,
        },
        Entry::Done(response, _) => match response.body {
            Some(_) => SlotDecision::Replay(response),
            None => SlotDecision::TooLargeToReplay {
                status: response.status,
            },
        },
    }
}

/// The claim a request swaps into each of its slots: `token` is 16 random
/// bytes from the host, unique to the request.
pub fn new_claim(token: [u8; 16], fingerprint: Fingerprint, now: u64, claim_ttl: u64) -> Entry {
    Entry::Claim(
        Claim {
            token,
            until: now.saturating_add(claim_ttl),
        },
        fingerprint,
    )
}

/// The value that gives a claim up at once (an expired claim of the same
/// request): written over a request's own claim when it loses its second
/// slot, or when warden itself fails before the app answered, so that the
/// client's retry need not wait out `claim_ttl`.
pub fn released_claim(token: [u8; 16], fingerprint: Fingerprint) -> Entry {
    Entry::Claim(Claim { token, until: 0 }, fingerprint)
}

/// Whether a completion (or a release) may swap its value into a slot
/// that now holds `current`: only while the slot still holds this request's
/// own claim. Otherwise its claim expired and another request took the
/// slot over; the completion leaves it alone (and logs).
pub fn complete_slot(current: Option<&[u8]>, token: &[u8; 16]) -> bool {
    matches!(
        current.and_then(Entry::decode),
        Some(Entry::Claim(claim, _)) if claim.token == *token
    )
}

/// Whether a response header of the app's is stored for replay: not the
/// hop-by-hop ones, not warden's own (identity, request id, the rate-limit
/// family, the replay marker), not `set-cookie` (a replay never sets a
/// cookie: with `scope = "none"` it would hand one caller's session to
/// another), and not the ones recomputed on the way out (`content-length`,
/// `date`).
pub fn stored_header(name_lower: &str) -> bool {
    use crate::http::hop_by_hop::{is_hop_by_hop, is_identity_header, is_request_id_header};
    !(is_hop_by_hop(name_lower)
        || is_identity_header(name_lower)
        || is_request_id_header(name_lower)
        || name_lower.starts_with("ratelimit")
        || matches!(
            name_lower,
            "set-cookie" | "content-length" | "date" | REPLAY_HEADER
        ))
}

/// The record of the app's response. `body` is `None` when the body was
/// larger than the route's `max_response_bytes` (the adapter stops
/// collecting there and passes the rest through). Headers that
/// [`stored_header`] refuses are left out, and so is anything beyond the
/// store's bounds: a header over [`super::store::MAX_HEADER_VALUE`] or past
/// [`super::store::MAX_HEADERS`] makes the response too large to replay
/// rather than replayed without it.
pub fn stored_response(
    status: u16,
    headers: &[(&str, &[u8])],
    body: Option<&[u8]>,
    max_response_bytes: u64,
) -> StoredResponse {
    use super::store::{MAX_HEADER_NAME, MAX_HEADER_VALUE, MAX_HEADERS};
    let mut kept = Vec::new();
    let mut fits = true;
    for (name, value) in headers {
        let name = name.to_ascii_lowercase();
        if !stored_header(&name) {
            continue;
        }
        if kept.len() == MAX_HEADERS
            || name.is_empty()
            || name.len() > MAX_HEADER_NAME
            || !name.bytes().all(crate::base::fields::is_tchar)
            || value.len() > MAX_HEADER_VALUE
        {
            fits = false;
            continue;
        }
        kept.push((name, value.to_vec()));
    }
    let body = body
        .filter(|b| fits && b.len() as u64 <= max_response_bytes.min(super::store::MAX_BODY as u64))
        .map(<[u8]>::to_vec);
    StoredResponse {
        status: status.clamp(200, 599),
        headers: kept,
        body,
    }
}

/// The answers the layer gives itself, as problem+json (RFC 9457) with the
/// draft's titles where it has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// No key on a route that requires one (draft §2.7).
    Missing,
    /// A key that is not an sf-string of 1..=255 characters.
    Invalid(KeyRefusal),
    /// The key's first request is still running (draft §2.7).
    Conflict,
    /// The key was used for another request (draft §2.7).
    Mismatch,
    /// The operation completed, but its response was too large to store.
    TooLargeToReplay,
    /// The stored record cannot be read by this version.
    Unreadable,
}

impl Problem {
    /// The status.
    pub fn status(self) -> u16 {
        match self {
            Problem::Missing | Problem::Invalid(_) => 400,
            Problem::Conflict | Problem::TooLargeToReplay => 409,
            Problem::Mismatch => 422,
            Problem::Unreadable => 500,
        }
    }

    /// The `title`.
    pub fn title(self) -> &'static str {
        match self {
            Problem::Missing => "Idempotency-Key is missing",
            Problem::Invalid(_) => "Idempotency-Key is invalid",
            Problem::Conflict => "A request is outstanding for this Idempotency-Key",
            Problem::Mismatch => "Idempotency-Key is already used",
            Problem::TooLargeToReplay => "The response for this Idempotency-Key cannot be replayed",
            Problem::Unreadable => "The record of this Idempotency-Key cannot be read",
        }
    }

    /// The `detail`.
    pub fn detail(self) -> &'static str {
        match self {
            Problem::Missing => {
                "This operation is idempotent and it requires correct usage of Idempotency Key."
            }
            Problem::Invalid(refusal) => refusal.detail(),
            Problem::Conflict => {
                "A request with the same Idempotency-Key for the same operation is being processed or is outstanding."
            }
            Problem::Mismatch => {
                "This operation is idempotent and it requires correct usage of Idempotency Key. Idempotency Key MUST not be reused across different payloads of this operation."
            }
            Problem::TooLargeToReplay => {
                "The operation for this Idempotency-Key completed, but its response was too large to store; it is not performed again. Use a new key for a new operation."
            }
            Problem::Unreadable => {
                "The stored record of this Idempotency-Key cannot be read; the operation is not performed again."
            }
        }
    }

    /// The problem document. `original_status` (for
    /// [`Problem::TooLargeToReplay`]) is the completed operation's status,
    /// as the extension member `original_status`.
    pub fn body(self, original_status: Option<u16>) -> String {
        let mut doc = serde_json::json!({
            "type": PROBLEM_TYPE,
            "title": self.title(),
            "status": self.status(),
            "detail": self.detail(),
        });
        if let (Problem::TooLargeToReplay, Some(status)) = (self, original_status) {
            doc["original_status"] = status.into();
        }
        doc.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::idempotency::fingerprint::Fingerprinter;

    fn fp(body: &[u8]) -> Fingerprint {
        let mut f = Fingerprinter::new("POST", "/a");
        f.update(body);
        f.finish()
    }

    fn done(body: Option<&[u8]>, fingerprint: Fingerprint) -> Vec<u8> {
        Entry::Done(
            stored_response(201, &[("Content-Type", b"application/json")], body, 1024),
            fingerprint,
        )
        .encode()
    }

    #[test]
    fn admission() {
        let optional = IdempotencyConfig::default();
        let required = IdempotencyConfig {
            required: true,
            ..IdempotencyConfig::default()
        };
        let key: &[(&str, &[u8])] = &[("Idempotency-Key", b"\"k\"")];
        let alias: &[(&str, &[u8])] = &[("X-Idempotency-Key", b"\"k\"")];
        let bad: &[(&str, &[u8])] = &[("Idempotency-Key", b"k")];
        assert!(matches!(admit(&optional, "POST", key), Admission::Keyed(_)));
        assert!(matches!(
            admit(&required, "PATCH", alias),
            Admission::Keyed(_)
        ));
        assert_eq!(admit(&optional, "POST", &[]), Admission::NotApplicable);
        assert_eq!(admit(&required, "POST", &[]), Admission::Missing);
        assert_eq!(
            admit(&required, "POST", bad),
            Admission::Invalid(KeyRefusal::NotAString)
        );
        assert_eq!(
            admit(&optional, "POST", bad),
            Admission::Invalid(KeyRefusal::NotAString)
        );
        // Methods the route does not cover pass, key or not, valid or not.
        assert_eq!(admit(&required, "GET", bad), Admission::NotApplicable);
        assert_eq!(admit(&required, "DELETE", &[]), Admission::NotApplicable);
        assert_eq!(admit(&required, "post", key), Admission::NotApplicable);
    }

    #[test]
    fn every_slot_branch() {
        let mine = fp(b"a");
        let other = fp(b"b");
        let now = 1_000;
        assert_eq!(decide_slot(None, &mine, now), SlotDecision::Claim);
        let claim = new_claim([1; 16], mine, now, 60).encode();
        assert_eq!(
            decide_slot(Some(&claim), &mine, now),
            SlotDecision::Conflict { retry_after: 60 }
        );
        assert_eq!(
            decide_slot(Some(&claim), &mine, now + 59),
            SlotDecision::Conflict { retry_after: 1 }
        );
        assert_eq!(
            decide_slot(Some(&claim), &mine, now + 60),
            SlotDecision::TakeOver
        );
        assert_eq!(
            decide_slot(Some(&claim), &other, now),
            SlotDecision::Mismatch
        );
        assert_eq!(
            decide_slot(Some(&claim), &other, now + 600),
            SlotDecision::Mismatch
        );
        let released = released_claim([1; 16], mine).encode();
        assert_eq!(
            decide_slot(Some(&released), &mine, now),
            SlotDecision::TakeOver
        );
        let stored = done(Some(b"{}"), mine);
        let SlotDecision::Replay(response) = decide_slot(Some(&stored), &mine, now) else {
            panic!()
        };
        assert_eq!(response.status, 201);
        assert_eq!(response.body.as_deref(), Some(b"{}".as_slice()));
        assert_eq!(
            response.headers,
            [("content-type".to_string(), b"application/json".to_vec())]
        );
        assert_eq!(
            decide_slot(Some(&stored), &other, now),
            SlotDecision::Mismatch
        );
        let large = done(None, mine);
        assert_eq!(
            decide_slot(Some(&large), &mine, now),
            SlotDecision::TooLargeToReplay { status: 201 }
        );
        assert_eq!(
            decide_slot(Some(&large), &other, now),
            SlotDecision::Mismatch
        );
        assert_eq!(
            decide_slot(Some(b"garbage"), &mine, now),
            SlotDecision::Unreadable
        );
        assert_eq!(decide_slot(Some(b""), &mine, now), SlotDecision::Unreadable);
    }

    #[test]
    fn completion_only_over_the_own_claim() {
        let f = fp(b"a");
        let mine = new_claim([1; 16], f, 0, 60).encode();
        let theirs = new_claim([2; 16], f, 100, 60).encode();
        assert!(complete_slot(Some(&mine), &[1; 16]));
        assert!(complete_slot(
            Some(&released_claim([1; 16], f).encode()),
            &[1; 16]
        ));
        assert!(!complete_slot(Some(&theirs), &[1; 16]));
        assert!(!complete_slot(None, &[1; 16]));
        assert!(!complete_slot(Some(&done(Some(b""), f)), &[1; 16]));
        assert!(!complete_slot(Some(b"garbage"), &[1; 16]));
    }

    #[test]
    fn stored_headers_and_bounds() {
        let headers: &[(&str, &[u8])] = &[
            ("Content-Type", b"text/plain"),
            ("Location", b"/orders/1"),
            ("Connection", b"close"),
            ("Transfer-Encoding", b"chunked"),
            ("Set-Cookie", b"s=1"),
            ("Content-Length", b"2"),
            ("Date", b"x"),
            ("X-Warden-User-Id", b"u"),
            ("X-Request-Id", b"r"),
            ("RateLimit-Policy", b"p"),
            ("Idempotent-Replayed", b"true"),
            ("ETag", &[0xff, b'"']),
        ];
        let r = stored_response(201, headers, Some(b"ok"), 2);
        let names: Vec<&str> = r.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["content-type", "location", "etag"]);
        assert_eq!(r.body.as_deref(), Some(b"ok".as_slice()));
        // One byte over the limit: a marker, no body.
        assert_eq!(stored_response(201, headers, Some(b"ok!"), 2).body, None);
        assert_eq!(stored_response(201, headers, None, 2).body, None);
        assert_eq!(stored_response(200, &[], Some(b""), 0).body, Some(vec![]));
        // A header beyond the store's bounds: too large to replay, never replayed without it.
        let long = vec![b'v'; super::super::store::MAX_HEADER_VALUE + 1];
        let r = stored_response(200, &[("x-long", &long)], Some(b"ok"), 1024);
        assert_eq!(r.body, None);
        // Whatever it is given, the record decodes.
        let e = Entry::Done(
            stored_response(99, &[("bad name", b"v")], Some(b"x"), u64::MAX),
            fp(b""),
        );
        assert!(Entry::decode(&e.encode()).is_some());
    }

    #[test]
    fn problem_documents() {
        let cases = [
            (Problem::Missing, 400, "Idempotency-Key is missing"),
            (
                Problem::Invalid(KeyRefusal::TooLong),
                400,
                "Idempotency-Key is invalid",
            ),
            (
                Problem::Conflict,
                409,
                "A request is outstanding for this Idempotency-Key",
            ),
            (Problem::Mismatch, 422, "Idempotency-Key is already used"),
            (
                Problem::TooLargeToReplay,
                409,
                "The response for this Idempotency-Key cannot be replayed",
            ),
            (
                Problem::Unreadable,
                500,
                "The record of this Idempotency-Key cannot be read",
            ),
        ];
        for (problem, status, title) in cases {
            let doc: serde_json::Value = serde_json::from_str(&problem.body(Some(201))).unwrap();
            assert_eq!(doc["status"], status);
            assert_eq!(doc["title"], title);
            assert_eq!(doc["type"], PROBLEM_TYPE);
            assert!(doc["detail"].as_str().is_some_and(|d| !d.is_empty()));
            assert_eq!(
                doc.get("original_status").is_some(),
                problem == Problem::TooLargeToReplay
            );
        }
        assert_eq!(
            Problem::Invalid(KeyRefusal::Repeated).detail(),
            KeyRefusal::Repeated.detail()
        );
    }
}
