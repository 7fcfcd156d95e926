//! Verification keys: JWK and JWK Set (RFC 7517), Better Auth's `jwks`
//! table rows, and an HMAC secret. Every key is pinned to one algorithm at
//! load (its `alg`, else the one its curve implies), so the token's `alg`
//! can only ever select, never change, how a key is used.
//!
//! ```
//! use warden_core::layers::jwt::{Algorithm, JwksOrigin, Keyring, LoadOptions};
//!
//! let jwks = br#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1",
//!     "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
//! let loaded = Keyring::from_jwks_json(jwks, &LoadOptions::new(JwksOrigin::Url)).unwrap();
//! assert!(loaded.skipped.is_empty());
//! assert_eq!(loaded.keyring.len(), 1);
//! assert_eq!(loaded.keyring.keys()[0].alg, Algorithm::EdDsa);
//! ```

use serde_json::{Map, Value};

use super::algorithms::{Algorithm, Material};
use super::jose::{decode_segment, object};
use super::reason::Reason;

/// Largest JWK Set accepted, in bytes.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// Most keys kept from one JWK Set.
pub const MAX_KEYS: usize = 32;
/// Smallest RSA modulus, in bits (RFC 7518 §3.3).
pub const MIN_RSA_BITS: usize = 2048;
/// Longest `kid` kept.
pub const MAX_KID: usize = 256;

/// Where a JWK Set came from: only a secret variable may carry `oct`
/// (symmetric) keys; a fetched or stored set is public and may not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwksOrigin {
    /// A Spin variable (may be a secret).
    Variable,
    /// `jwks_url`.
    Url,
    /// Better Auth's `jwks` table.
    Table,
}

/// How keys are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    /// Where the keys come from.
    pub origin: JwksOrigin,
    /// The algorithm of an RSA key without `alg`; `None` refuses such keys
    /// (RS256 or PS256 cannot be told apart from the key).
    pub rsa_without_alg: Option<Algorithm>,
}

impl LoadOptions {
    /// Keys from `origin`, RSA keys without `alg` refused.
    pub fn new(origin: JwksOrigin) -> LoadOptions {
        LoadOptions {
            origin,
            rsa_without_alg: None,
        }
    }
}

/// Why one key was not loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyProblem {
    /// The JWK is not a JSON object, or the set has no `keys` array.
    NotObject,
    /// Longer than [`MAX_JWKS_BYTES`] or more than [`MAX_KEYS`] keys.
    TooLarge,
    /// A member named twice.
    DuplicateMember,
    /// A `kty` warden does not verify with.
    UnsupportedKeyType,
    /// A curve other than Ed25519 (OKP) or P-256 (EC).
    UnsupportedCurve,
    /// A required member is missing or not a string.
    MissingMember(&'static str),
    /// A member is not valid base64url or has the wrong length.
    BadMember(&'static str),
    /// The point is not on the curve, or a weak (small-order) Ed25519 key.
    InvalidKey,
    /// An RSA modulus under 2048 bits.
    WeakRsa,
    /// An RSA key without `alg`, and none configured.
    RsaNeedsAlg,
    /// `alg` is unknown or does not fit the key type.
    AlgDoesNotFitKey,
    /// An `oct` key from a URL or a table.
    SymmetricNotAllowed,
    /// An `oct` key without `alg` (it must name its HMAC).
    SymmetricNeedsAlg,
    /// An HMAC secret shorter than its hash (RFC 7518 §3.2).
    ShortSecret,
    /// An encryption key (`use` = `enc`): ignored, never a problem.
    EncryptionKey,
    /// `kid` is not a string or longer than [`MAX_KID`].
    BadKid,
    /// A `kid` already taken by an earlier key.
    DuplicateKid,
    /// RSA, in a build without the `jwt-rsa` feature.
    NotBuilt,
}

impl KeyProblem {
    /// What is wrong, for logs and startup problems.
    pub fn message(&self) -> String {
        match self {
            KeyProblem::NotObject => "not a JWK (a JSON object with kty)".into(),
            KeyProblem::TooLarge => {
                format!("larger than {MAX_JWKS_BYTES} bytes or more than {MAX_KEYS} keys")
            }
            KeyProblem::DuplicateMember => "names a member twice".into(),
            KeyProblem::UnsupportedKeyType => "kty must be OKP, EC, RSA or oct".into(),
            KeyProblem::UnsupportedCurve => "crv must be Ed25519 (OKP) or P-256 (EC)".into(),
            KeyProblem::MissingMember(m) => format!("has no {m}"),
            KeyProblem::BadMember(m) => format!("{m} is not valid base64url of the right length"),
            KeyProblem::InvalidKey => "is not a valid public key".into(),
            KeyProblem::WeakRsa => format!("RSA modulus under {MIN_RSA_BITS} bits"),
            KeyProblem::RsaNeedsAlg => {
                "RSA key without alg (list exactly one of RS256, PS256 in algorithms to pin it)"
                    .into()
            }
            KeyProblem::AlgDoesNotFitKey => "alg is unknown or does not fit the key type".into(),
            KeyProblem::SymmetricNotAllowed => {
                "oct (symmetric) keys are only accepted from a variable".into()
            }
            KeyProblem::SymmetricNeedsAlg => "oct key without alg (HS256, HS384 or HS512)".into(),
            KeyProblem::ShortSecret => "HMAC secret shorter than its hash output".into(),
            KeyProblem::EncryptionKey => "an encryption key (use = enc), ignored".into(),
            KeyProblem::BadKid => format!("kid must be a string of at most {MAX_KID} bytes"),
            KeyProblem::DuplicateKid => "kid already used by an earlier key".into(),
            KeyProblem::NotBuilt => {
                "RSA, which this warden was built without (cargo feature \"jwt-rsa\")".into()
            }
        }
    }
}

/// One verification key, pinned to one algorithm.
#[derive(Debug, Clone)]
pub struct Key {
    /// Its key id, if it has one.
    pub kid: Option<String>,
    /// The one algorithm it verifies.
    pub alg: Algorithm,
    /// The key itself.
    pub material: Material,
}

impl Key {
    /// An HMAC secret (from a secret variable), pinned to `alg`.
    pub fn hmac(secret: &[u8], alg: Algorithm, kid: Option<String>) -> Result<Key, KeyProblem> {
        if !alg.is_hmac() {
            return Err(KeyProblem::AlgDoesNotFitKey);
        }
        if secret.len() < alg.min_secret_bytes() {
            return Err(KeyProblem::ShortSecret);
        }
        Ok(Key {
            kid,
            alg,
            material: Material::Hmac(secret.to_vec()),
        })
    }

    /// One JWK; `Ok(None)` for a key warden ignores (`use` = `enc`).
    pub fn from_jwk(
        jwk: &Map<String, Value>,
        options: &LoadOptions,
    ) -> Result<Option<Key>, KeyProblem> {
        if jwk.get("use").and_then(Value::as_str) == Some("enc") {
            return Ok(None);
        }
        let kid = match jwk.get("kid") {
            None => None,
            Some(Value::String(k)) if k.len() <= MAX_KID => Some(k.clone()),
            Some(_) => return Err(KeyProblem::BadKid),
        };
        let alg = match jwk.get("alg") {
            None => None,
            Some(Value::String(name)) => {
                Some(Algorithm::from_name(name).ok_or(KeyProblem::AlgDoesNotFitKey)?)
            }
            Some(_) => return Err(KeyProblem::AlgDoesNotFitKey),
        };
        let member = |name: &'static str| -> Result<Vec<u8>, KeyProblem> {
            match jwk.get(name) {
                Some(Value::String(s)) => {
                    decode_segment(s).map_err(|_| KeyProblem::BadMember(name))
                }
                _ => Err(KeyProblem::MissingMember(name)),
            }
        };
        let crv = || jwk.get("crv").and_then(Value::as_str);
        let (alg, material) = match jwk.get("kty").and_then(Value::as_str) {
            Some("OKP") => {
                if crv() != Some("Ed25519") {
                    return Err(KeyProblem::UnsupportedCurve);
                }
                let x: [u8; 32] = member("x")?
                    .try_into()
                    .map_err(|_| KeyProblem::BadMember("x"))?;
                let key = ed25519_dalek::VerifyingKey::from_bytes(&x)
                    .map_err(|_| KeyProblem::InvalidKey)?;
                if key.is_weak() {
                    return Err(KeyProblem::InvalidKey);
                }
                (pinned(alg, Algorithm::EdDsa)?, Material::Ed25519(key))
            }
            Some("EC") => {
                if crv() != Some("P-256") {
                    return Err(KeyProblem::UnsupportedCurve);
                }
                let x: [u8; 32] = member("x")?
                    .try_into()
                    .map_err(|_| KeyProblem::BadMember("x"))?;
                let y: [u8; 32] = member("y")?
                    .try_into()
                    .map_err(|_| KeyProblem::BadMember("y"))?;
                let point =
                    p256::EncodedPoint::from_affine_coordinates(&x.into(), &y.into(), false);
                let key = p256::ecdsa::VerifyingKey::from_encoded_point(&point)
                    .map_err(|_| KeyProblem::InvalidKey)?;
                (pinned(alg, Algorithm::Es256)?, Material::P256(key))
            }
            Some("RSA") => rsa_key(alg, &member, options)?,
            Some("oct") => {
                if options.origin != JwksOrigin::Variable {
                    return Err(KeyProblem::SymmetricNotAllowed);
                }
                let alg = alg.ok_or(KeyProblem::SymmetricNeedsAlg)?;
                let key = Key::hmac(&member("k")?, alg, None)?;
                (key.alg, key.material)
            }
            Some(_) => return Err(KeyProblem::UnsupportedKeyType),
            None => return Err(KeyProblem::NotObject),
        };
        Ok(Some(Key { kid, alg, material }))
    }

    /// One row of Better Auth's `jwks` table: `id` is the kid, `publicKey`
    /// a JWK without `alg`, `alg` the row's column (or the plugin's default,
    /// EdDSA, when the column is empty). The `privateKey` column is never
    /// asked for.
    pub fn from_better_auth_row(
        id: &str,
        public_key: &str,
        alg_column: Option<&str>,
    ) -> Result<Key, KeyProblem> {
        let mut jwk = object(public_key.as_bytes()).map_err(|e| match e {
            Reason::DuplicateMember => KeyProblem::DuplicateMember,
            _ => KeyProblem::NotObject,
        })?;
        let column = alg_column.filter(|a| !a.is_empty()).unwrap_or("EdDSA");
        if let Some(own) = jwk.get("alg")
            && own.as_str() != Some(column)
        {
            return Err(KeyProblem::AlgDoesNotFitKey);
        }
        jwk.insert("alg".into(), Value::String(column.into()));
        jwk.insert("kid".into(), Value::String(id.into()));
        jwk.remove("use");
        Key::from_jwk(&jwk, &LoadOptions::new(JwksOrigin::Table))?.ok_or(KeyProblem::NotObject)
    }
}

/// The key's own `alg` when it has one (it must be `implied`), else `implied`.
fn pinned(alg: Option<Algorithm>, implied: Algorithm) -> Result<Algorithm, KeyProblem> {
    match alg {
        Some(a) if a != implied => Err(KeyProblem::AlgDoesNotFitKey),
        _ => Ok(implied),
    }
}

#[cfg(feature = "jwt-rsa")]
fn rsa_key(
    alg: Option<Algorithm>,
    member: &dyn Fn(&'static str) -> Result<Vec<u8>, KeyProblem>,
    options: &LoadOptions,
) -> Result<(Algorithm, Material), KeyProblem> {
    let alg = match alg.or(options.rsa_without_alg) {
        Some(a @ (Algorithm::Rs256 | Algorithm::Ps256)) => a,
        Some(_) => return Err(KeyProblem::AlgDoesNotFitKey),
        None => return Err(KeyProblem::RsaNeedsAlg),
    };
    let n = rsa::BigUint::from_bytes_be(&member("n")?);
    let e = rsa::BigUint::from_bytes_be(&member("e")?);
    if n.bits() < MIN_RSA_BITS {
        return Err(KeyProblem::WeakRsa);
    }
    // Checks the exponent and caps the modulus at 4096 bits.
    let key = rsa::RsaPublicKey::new(n, e).map_err(|_| KeyProblem::InvalidKey)?;
    Ok((alg, Material::Rsa(key)))
}

#[cfg(not(feature = "jwt-rsa"))]
fn rsa_key(
    _: Option<Algorithm>,
    _: &dyn Fn(&'static str) -> Result<Vec<u8>, KeyProblem>,
    _: &LoadOptions,
) -> Result<(Algorithm, Material), KeyProblem> {
    Err(KeyProblem::NotBuilt)
}

/// One key of a set that was not loaded, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    /// Its index in `keys`.
    pub index: usize,
    /// Its `kid`, when it had a readable one.
    pub kid: Option<String>,
    /// Why.
    pub problem: KeyProblem,
}

/// A JWK Set, read: the keys loaded and those skipped (RFC 7517 §5: keys
/// a reader does not understand are ignored, not fatal to the set).
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The usable keys.
    pub keyring: Keyring,
    /// Keys left out, for the log (encryption keys are not listed).
    pub skipped: Vec<SkippedKey>,
}

/// The keys a route verifies with.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    keys: Vec<Key>,
}

impl Keyring {
    /// No keys.
    pub fn new() -> Keyring {
        Keyring::default()
    }

    /// The keys, in load order.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Adds a key; refused when its `kid` is taken or the ring is full.
    pub fn push(&mut self, key: Key) -> Result<(), KeyProblem> {
        if self.keys.len() >= MAX_KEYS {
            return Err(KeyProblem::TooLarge);
        }
        if key.kid.is_some() && self.keys.iter().any(|k| k.kid == key.kid) {
            return Err(KeyProblem::DuplicateKid);
        }
        self.keys.push(key);
        Ok(())
    }

    /// Reads a JWK Set (`{"keys":[...]}`).
    pub fn from_jwks_json(json: &[u8], options: &LoadOptions) -> Result<Loaded, KeyProblem> {
        if json.len() > MAX_JWKS_BYTES {
            return Err(KeyProblem::TooLarge);
        }
        let set = object(json).map_err(|e| match e {
            Reason::DuplicateMember => KeyProblem::DuplicateMember,
            _ => KeyProblem::NotObject,
        })?;
        let Some(Value::Array(keys)) = set.get("keys") else {
            return Err(KeyProblem::NotObject);
        };
        if keys.len() > MAX_KEYS {
            return Err(KeyProblem::TooLarge);
        }
        let mut loaded = Loaded {
            keyring: Keyring::new(),
            skipped: Vec::new(),
        };
        for (index, jwk) in keys.iter().enumerate() {
            let kid = jwk.get("kid").and_then(Value::as_str).map(str::to_owned);
            let result = match jwk {
                Value::Object(jwk) => Key::from_jwk(jwk, options),
                _ => Err(KeyProblem::NotObject),
            };
            let pushed = match result {
                Ok(None) => Ok(()),
                Ok(Some(key)) => loaded.keyring.push(key),
                Err(problem) => Err(problem),
            };
            if let Err(problem) = pushed {
                loaded.skipped.push(SkippedKey {
                    index,
                    kid,
                    problem,
                });
            }
        }
        Ok(loaded)
    }

    /// Adds every key of `other` that fits (a taken `kid` keeps the first).
    pub fn extend(&mut self, other: Keyring) {
        for key in other.keys {
            let _ = self.push(key);
        }
    }

    /// The key for a token: by `kid` when it names one; else (or when no
    /// key has that kid) the one key without a kid pinned to its `alg`. The
    /// key found must be pinned to the token's `alg`.
    pub fn select(&self, alg: Algorithm, kid: Option<&str>) -> Result<&Key, Reason> {
        if let Some(kid) = kid
            && let Some(key) = self.keys.iter().find(|k| k.kid.as_deref() == Some(kid))
        {
            return if key.alg == alg {
                Ok(key)
            } else {
                Err(Reason::AlgMismatch)
            };
        }
        let mut fitting = self
            .keys
            .iter()
            .filter(|k| k.alg == alg && (kid.is_none() || k.kid.is_none()));
        match (fitting.next(), fitting.next()) {
            (Some(key), None) => Ok(key),
            (Some(_), Some(_)) => Err(Reason::AmbiguousKey),
            (None, _) if kid.is_some() => Err(Reason::UnknownKid),
            (None, _) => Err(Reason::NoKeyForAlg),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    const EC_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const EC_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

    fn jwk(json: &str) -> Map<String, Value> {
        object(json.as_bytes()).unwrap()
    }

    fn load(json: &str, origin: JwksOrigin) -> Result<Option<Key>, KeyProblem> {
        Key::from_jwk(&jwk(json), &LoadOptions::new(origin))
    }

    #[test]
    fn keys_are_pinned_to_their_algorithm() {
        let ed = load(
            &format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{ED_X}"}}"#),
            JwksOrigin::Url,
        );
        assert_eq!(ed.unwrap().unwrap().alg, Algorithm::EdDsa);
        let ec = load(
            &format!(r#"{{"kty":"EC","crv":"P-256","x":"{EC_X}","y":"{EC_Y}","alg":"ES256"}}"#),
            JwksOrigin::Url,
        );
        assert_eq!(ec.unwrap().unwrap().alg, Algorithm::Es256);
        let wrong = load(
            &format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{ED_X}","alg":"HS256"}}"#),
            JwksOrigin::Url,
        );
        assert_eq!(wrong.unwrap_err(), KeyProblem::AlgDoesNotFitKey);
    }

    #[test]
    fn bad_keys_are_refused_with_their_problem() {
        let secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA";
        let cases = [
            (
                format!(r#"{{"kty":"oct","k":"{secret}","alg":"HS256"}}"#),
                KeyProblem::SymmetricNotAllowed,
            ),
            (
                r#"{"kty":"OKP","crv":"X25519","x":"AA"}"#.to_string(),
                KeyProblem::UnsupportedCurve,
            ),
            (
                r#"{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}"#.to_string(),
                KeyProblem::UnsupportedCurve,
            ),
            (
                r#"{"kty":"OKP","crv":"Ed25519"}"#.to_string(),
                KeyProblem::MissingMember("x"),
            ),
            (
                r#"{"kty":"OKP","crv":"Ed25519","x":"AAAA"}"#.to_string(),
                KeyProblem::BadMember("x"),
            ),
            (
                format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{ED_X}="}}"#),
                KeyProblem::BadMember("x"),
            ),
            (
                format!(r#"{{"kty":"EC","crv":"P-256","x":"{EC_X}","y":"{EC_X}"}}"#),
                KeyProblem::InvalidKey,
            ),
            (
                r#"{"kty":"DSA"}"#.to_string(),
                KeyProblem::UnsupportedKeyType,
            ),
            (
                r#"{"kty":"OKP","crv":"Ed25519","x":"","kid":3}"#.to_string(),
                KeyProblem::BadKid,
            ),
        ];
        for (json, problem) in cases {
            assert_eq!(load(&json, JwksOrigin::Url).unwrap_err(), problem, "{json}");
        }
        // A variable may hold a symmetric key, which must name its HMAC and be long enough.
        let oct = load(
            &format!(r#"{{"kty":"oct","k":"{secret}","alg":"HS256"}}"#),
            JwksOrigin::Variable,
        );
        assert_eq!(oct.unwrap().unwrap().alg, Algorithm::Hs256);
        let short = load(
            r#"{"kty":"oct","k":"c2hvcnQ","alg":"HS256"}"#,
            JwksOrigin::Variable,
        );
        assert_eq!(short.unwrap_err(), KeyProblem::ShortSecret);
        let no_alg = load(
            &format!(r#"{{"kty":"oct","k":"{secret}"}}"#),
            JwksOrigin::Variable,
        );
        assert_eq!(no_alg.unwrap_err(), KeyProblem::SymmetricNeedsAlg);
        // Encryption keys are ignored.
        let enc = load(
            &format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{ED_X}","use":"enc"}}"#),
            JwksOrigin::Url,
        );
        assert!(enc.unwrap().is_none());
    }

    #[test]
    fn a_set_keeps_the_good_keys_and_names_the_others() {
        let json = format!(
            r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","x":"{ED_X}","kid":"a"}},
                {{"kty":"weird","kid":"b"}},
                {{"kty":"EC","crv":"P-256","x":"{EC_X}","y":"{EC_Y}","kid":"a"}}]}}"#
        );
        let loaded =
            Keyring::from_jwks_json(json.as_bytes(), &LoadOptions::new(JwksOrigin::Url)).unwrap();
        assert_eq!(loaded.keyring.len(), 1);
        let problems: Vec<_> = loaded
            .skipped
            .iter()
            .map(|s| (s.index, s.problem))
            .collect();
        assert_eq!(
            problems,
            [
                (1, KeyProblem::UnsupportedKeyType),
                (2, KeyProblem::DuplicateKid)
            ]
        );
        for bad in [
            &b"[]"[..],
            b"{}",
            b"{\"keys\":1}",
            b"{\"keys\":[],\"keys\":[]}",
        ] {
            assert!(Keyring::from_jwks_json(bad, &LoadOptions::new(JwksOrigin::Url)).is_err());
        }
    }

    #[test]
    fn selection_by_kid_then_by_algorithm() {
        let mut ring = Keyring::new();
        ring.push(Key::hmac(&[1; 32], Algorithm::Hs256, None).unwrap())
            .unwrap();
        let ed = load(
            &format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{ED_X}","kid":"e"}}"#),
            JwksOrigin::Url,
        );
        ring.push(ed.unwrap().unwrap()).unwrap();
        assert_eq!(
            ring.select(Algorithm::EdDsa, Some("e")).unwrap().alg,
            Algorithm::EdDsa
        );
        assert_eq!(
            ring.select(Algorithm::Hs256, Some("e")).unwrap_err(),
            Reason::AlgMismatch
        );
        assert_eq!(
            ring.select(Algorithm::Hs256, None).unwrap().alg,
            Algorithm::Hs256
        );
        assert_eq!(
            ring.select(Algorithm::Hs256, Some("other")).unwrap().alg,
            Algorithm::Hs256
        );
        assert_eq!(
            ring.select(Algorithm::EdDsa, Some("other")).unwrap_err(),
            Reason::UnknownKid
        );
        assert_eq!(
            ring.select(Algorithm::Es256, None).unwrap_err(),
            Reason::NoKeyForAlg
        );
        ring.push(Key::hmac(&[2; 32], Algorithm::Hs256, None).unwrap())
            .unwrap();
        assert_eq!(
            ring.select(Algorithm::Hs256, None).unwrap_err(),
            Reason::AmbiguousKey
        );
        assert!(!format!("{ring:?}").contains("[1, 1"));
    }

    #[test]
    fn better_auth_rows_take_kid_and_alg_from_their_columns() {
        let public = format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{ED_X}"}}"#);
        let key = Key::from_better_auth_row("row-1", &public, None).unwrap();
        assert_eq!(
            (key.kid.as_deref(), key.alg),
            (Some("row-1"), Algorithm::EdDsa)
        );
        assert_eq!(
            Key::from_better_auth_row("row-1", &public, Some("ES256")).unwrap_err(),
            KeyProblem::AlgDoesNotFitKey
        );
    }
}
