//! The signature algorithms (RFC 7518, RFC 8037) and verification.
//!
//! Algorithm confusion is impossible by construction: [`verify`] matches the
//! token's algorithm and the key's material as a pair, so an HMAC algorithm
//! only ever meets HMAC secret bytes and a public-key algorithm only the
//! public key of its own family; every other pair is a refusal. The caller
//! has already checked that the token's `alg` is the key's pinned one.

use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha384, Sha512};

use super::reason::Reason;

/// A key's verification material.
#[derive(Clone)]
pub enum Material {
    /// An HMAC secret.
    Hmac(Vec<u8>),
    /// An Ed25519 public key.
    Ed25519(ed25519_dalek::VerifyingKey),
    /// A P-256 public key.
    P256(p256::ecdsa::VerifyingKey),
    /// An RSA public key.
    #[cfg(feature = "jwt-rsa")]
    Rsa(rsa::RsaPublicKey),
}

impl std::fmt::Debug for Material {
    /// Never the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Material::Hmac(_) => "Hmac(redacted)",
            Material::Ed25519(_) => "Ed25519",
            Material::P256(_) => "P256",
            #[cfg(feature = "jwt-rsa")]
            Material::Rsa(_) => "Rsa",
        })
    }
}

/// A JWS algorithm warden verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Hs256,
    Hs384,
    Hs512,
    /// Ed25519 (RFC 8037); the only `EdDSA` curve warden accepts.
    EdDsa,
    /// ECDSA P-256 with SHA-256, the signature as raw `r || s`.
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256, a 32-byte salt.
    Ps256,
}

impl Algorithm {
    /// Every algorithm, in the order the docs list them.
    pub const ALL: [Algorithm; 7] = [
        Algorithm::Hs256,
        Algorithm::Hs384,
        Algorithm::Hs512,
        Algorithm::EdDsa,
        Algorithm::Es256,
        Algorithm::Rs256,
        Algorithm::Ps256,
    ];

    /// The `alg` name (case-sensitive, RFC 7515 §4.1.1).
    pub fn name(&self) -> &'static str {
        match self {
            Algorithm::Hs256 => "HS256",
            Algorithm::Hs384 => "HS384",
            Algorithm::Hs512 => "HS512",
            Algorithm::EdDsa => "EdDSA",
            Algorithm::Es256 => "ES256",
            Algorithm::Rs256 => "RS256",
            Algorithm::Ps256 => "PS256",
        }
    }

    /// The algorithm called `name`, if warden has it.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Whether this is an HMAC (shared-secret) algorithm.
    pub fn is_hmac(&self) -> bool {
        matches!(self, Algorithm::Hs256 | Algorithm::Hs384 | Algorithm::Hs512)
    }

    /// Whether this build can verify it (RSA needs the `jwt-rsa` feature).
    pub fn is_built(&self) -> bool {
        !matches!(self, Algorithm::Rs256 | Algorithm::Ps256) || cfg!(feature = "jwt-rsa")
    }

    /// Shortest HMAC secret, in bytes: the hash's output size (RFC 7518 §3.2).
    pub fn min_secret_bytes(&self) -> usize {
        match self {
            Algorithm::Hs384 => 48,
            Algorithm::Hs512 => 64,
            _ => 32,
        }
    }
}

/// Verifies `signature` over `signing_input` with `key` under `alg`.
pub fn verify(
    alg: Algorithm,
    key: &Material,
    signing_input: &[u8],
    signature: &[u8],
) -> Result<(), Reason> {
    let ok = match (alg, key) {
        (Algorithm::Hs256, Material::Hmac(secret)) => {
            hmac_verify::<Hmac<Sha256>>(secret, signing_input, signature)
        }
        (Algorithm::Hs384, Material::Hmac(secret)) => {
            hmac_verify::<Hmac<Sha384>>(secret, signing_input, signature)
        }
        (Algorithm::Hs512, Material::Hmac(secret)) => {
            hmac_verify::<Hmac<Sha512>>(secret, signing_input, signature)
        }
        (Algorithm::EdDsa, Material::Ed25519(key)) => {
            let Ok(signature) = ed25519_dalek::Signature::from_slice(signature) else {
                return Err(Reason::BadSignature);
            };
            // Strict: refuses small-order keys and non-canonical signatures.
            key.verify_strict(signing_input, &signature).is_ok()
        }
        (Algorithm::Es256, Material::P256(key)) => {
            use p256::ecdsa::signature::Verifier;
            // JWS ES256 is the raw 64-byte r || s (RFC 7518 §3.4), never DER.
            if signature.len() != 64 {
                return Err(Reason::BadSignature);
            }
            let Ok(signature) = p256::ecdsa::Signature::from_slice(signature) else {
                return Err(Reason::BadSignature);
            };
            key.verify(signing_input, &signature).is_ok()
        }
        #[cfg(feature = "jwt-rsa")]
        (Algorithm::Rs256 | Algorithm::Ps256, Material::Rsa(key)) => {
            rsa_verify(alg, key, signing_input, signature)
        }
        #[cfg(not(feature = "jwt-rsa"))]
        (Algorithm::Rs256 | Algorithm::Ps256, _) => return Err(Reason::AlgNotBuilt),
        _ => return Err(Reason::AlgMismatch),
    };
    if ok {
        Ok(())
    } else {
        Err(Reason::BadSignature)
    }
}

/// HMAC, compared in constant time (`verify_slice`).
fn hmac_verify<M: Mac + hmac::digest::KeyInit>(secret: &[u8], input: &[u8], tag: &[u8]) -> bool {
    let Ok(mut mac) = <M as hmac::digest::KeyInit>::new_from_slice(secret) else {
        return false;
    };
    mac.update(input);
    mac.verify_slice(tag).is_ok()
}

#[cfg(feature = "jwt-rsa")]
fn rsa_verify(alg: Algorithm, key: &rsa::RsaPublicKey, input: &[u8], signature: &[u8]) -> bool {
    use rsa::signature::Verifier;
    use rsa::traits::PublicKeyParts;
    // A signature is exactly as long as the modulus (RFC 8017 §8.2.2).
    if signature.len() != key.size() {
        return false;
    }
    match alg {
        Algorithm::Rs256 => {
            let Ok(signature) = rsa::pkcs1v15::Signature::try_from(signature) else {
                return false;
            };
            rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key.clone())
                .verify(input, &signature)
                .is_ok()
        }
        Algorithm::Ps256 => {
            let Ok(signature) = rsa::pss::Signature::try_from(signature) else {
                return false;
            };
            // The salt is the hash's length, as RFC 7518 §3.5 requires.
            rsa::pss::VerifyingKey::<Sha256>::new(key.clone())
                .verify(input, &signature)
                .is_ok()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_case_sensitive() {
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(alg.name()), Some(alg));
        }
        assert_eq!(Algorithm::from_name("hs256"), None);
        assert_eq!(Algorithm::from_name("none"), None);
        assert_eq!(Algorithm::from_name("ES256K"), None);
    }

    #[test]
    fn an_hmac_algorithm_never_meets_a_public_key_nor_the_reverse() {
        let ed = ed25519_dalek::VerifyingKey::from_bytes(&[
            0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64,
            0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68,
            0xf7, 0x07, 0x51, 0x1a,
        ])
        .unwrap();
        let public = Material::Ed25519(ed);
        // The classic confusion: an HS256 token "signed" with the public key's bytes.
        let mut mac = Hmac::<Sha256>::new_from_slice(ed.as_bytes()).unwrap();
        mac.update(b"a.b");
        let tag = mac.finalize().into_bytes();
        assert_eq!(
            verify(Algorithm::Hs256, &public, b"a.b", &tag),
            Err(Reason::AlgMismatch)
        );
        let secret = Material::Hmac(vec![7; 32]);
        assert_eq!(
            verify(Algorithm::EdDsa, &secret, b"a.b", &[0; 64]),
            Err(Reason::AlgMismatch)
        );
        assert_eq!(
            verify(Algorithm::Es256, &public, b"a.b", &[0; 64]),
            Err(Reason::AlgMismatch)
        );
    }
}
