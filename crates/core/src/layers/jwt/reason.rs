//! Why a token was refused: one variant per check, for the log. A reason
//! never carries the token, a claim value or a key; only which check failed.

/// Why a token (or the cookie cache) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// No token in any of the configured places.
    Missing,
    /// Longer than `max_token_bytes`.
    TooLarge,
    /// Not three dot-separated segments.
    Malformed,
    /// A segment is not strict base64url without padding.
    BadBase64,
    /// The header or payload is not a JSON object.
    NotJsonObject,
    /// A JSON object in the header or payload names one member twice.
    DuplicateMember,
    /// The decoded header is larger than warden accepts.
    HeaderTooLarge,
    /// A header member has the wrong JSON type (`alg`, `kid`, `typ`).
    BadHeader,
    /// The header has no `alg`.
    MissingAlg,
    /// `alg` is `none`.
    AlgNone,
    /// `alg` is not one warden implements.
    UnsupportedAlg,
    /// `alg` is not in the configured `algorithms`.
    AlgNotAllowed,
    /// The header has `crit`, whose extensions warden does not implement.
    CritUnsupported,
    /// The header's `typ` is not the required one.
    WrongType,
    /// No key has the token's `kid`.
    UnknownKid,
    /// No key is pinned to the token's `alg` (token without `kid`).
    NoKeyForAlg,
    /// Several keys fit a token without `kid`.
    AmbiguousKey,
    /// The selected key is pinned to another algorithm.
    AlgMismatch,
    /// The signature does not verify.
    BadSignature,
    /// No `exp`, and one is required.
    MissingExp,
    /// `exp`, `nbf` or `iat` is not a number.
    BadTimeClaim,
    /// `exp` is past (beyond the leeway).
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    IssuedInFuture,
    /// `iss` missing or not the configured issuer.
    IssuerMismatch,
    /// `aud` missing or none of the configured audiences.
    AudienceMismatch,
    /// A configured exact-match claim is missing or differs.
    ClaimMismatch,
    /// No `sub`.
    MissingSubject,
    /// `sub` is not 1..=255 visible ASCII characters.
    BadSubject,
    /// The roles claim has the wrong shape or too many roles.
    BadRoles,
    /// Cookie cache: chunks missing, repeated, too many or too large.
    BadChunks,
    /// Cookie cache: the payload lacks the session or user, or they
    /// disagree with `sub` and `sid`.
    BadSessionPayload,
    /// The algorithm is known but left out of this build (feature `jwt-rsa`).
    AlgNotBuilt,
}

impl Reason {
    /// The reason's name in log lines.
    pub fn kind(&self) -> &'static str {
        match self {
            Reason::Missing => "missing",
            Reason::TooLarge => "too_large",
            Reason::Malformed => "malformed",
            Reason::BadBase64 => "bad_base64url",
            Reason::NotJsonObject => "not_json_object",
            Reason::DuplicateMember => "duplicate_member",
            Reason::HeaderTooLarge => "header_too_large",
            Reason::BadHeader => "bad_header",
            Reason::MissingAlg => "missing_alg",
            Reason::AlgNone => "alg_none",
            Reason::UnsupportedAlg => "unsupported_alg",
            Reason::AlgNotAllowed => "alg_not_allowed",
            Reason::CritUnsupported => "crit_unsupported",
            Reason::WrongType => "wrong_typ",
            Reason::UnknownKid => "unknown_kid",
            Reason::NoKeyForAlg => "no_key_for_alg",
            Reason::AmbiguousKey => "ambiguous_key",
            Reason::AlgMismatch => "alg_mismatch",
            Reason::BadSignature => "bad_signature",
            Reason::MissingExp => "missing_exp",
            Reason::BadTimeClaim => "bad_time_claim",
            Reason::Expired => "expired",
            Reason::NotYetValid => "not_yet_valid",
            Reason::IssuedInFuture => "issued_in_future",
            Reason::IssuerMismatch => "issuer_mismatch",
            Reason::AudienceMismatch => "audience_mismatch",
            Reason::ClaimMismatch => "claim_mismatch",
            Reason::MissingSubject => "missing_sub",
            Reason::BadSubject => "bad_sub",
            Reason::BadRoles => "bad_roles",
            Reason::BadChunks => "bad_cookie_chunks",
            Reason::BadSessionPayload => "bad_session_payload",
            Reason::AlgNotBuilt => "alg_not_built",
        }
    }

    /// Whether the refusal is about a missing credential (RFC 6750 §3.1: no
    /// `error` attribute then) rather than a bad one.
    pub fn is_missing(&self) -> bool {
        matches!(self, Reason::Missing)
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind())
    }
}
