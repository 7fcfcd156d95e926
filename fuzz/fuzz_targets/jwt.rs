//! The jwt layer, fed arbitrary bytes: the JOSE parser, JWK Set loading,
//! key selection, signature verification and claims must never panic, and
//! what verifies always yields a header-safe user id.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_core::layers::jwt::{
    self, Algorithm, JwksOrigin, JwtSettings, Key, Keyring, LoadOptions, cookie_cache,
};

/// The interop fixtures' public keys (tests/interop/jwt_sign.py).
const JWKS: &str = r#"{"keys":[
 {"kty":"OKP","crv":"Ed25519","kid":"ed","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
 {"kty":"EC","crv":"P-256","kid":"ec","alg":"ES256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#;

fuzz_target!(|data: &[u8]| {
    // The input as a JWK Set, from each origin.
    for origin in [JwksOrigin::Variable, JwksOrigin::Url, JwksOrigin::Table] {
        let _ = Keyring::from_jwks_json(data, &LoadOptions::new(origin));
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Key::from_better_auth_row("kid", text, None);
    // The input as a token, against public keys and an HMAC secret.
    let Ok(loaded) = Keyring::from_jwks_json(JWKS.as_bytes(), &LoadOptions::new(JwksOrigin::Url))
    else {
        return;
    };
    let mut keys = loaded.keyring;
    let _ = keys.push(Key::hmac(&[7; 32], Algorithm::Hs256, None).expect("a valid secret"));
    let settings = JwtSettings {
        require_exp: false,
        ..JwtSettings::default()
    };
    if let Ok(verified) = jwt::verify_bearer(&settings, &keys, text, 1_700_000_000) {
        // Only a genuinely signed token gets here (the seed corpus holds
        // the interop fixtures): its subject is a safe header value.
        assert!(verified.claims.user_id.bytes().all(|b| b.is_ascii_graphic()));
    }
    let _ = jwt::parse(text, 8192);
    let _ = jwt::bearer_token(text);
    // The input as the cookie cache, whole and split into chunks.
    let name = cookie_cache::COOKIE_NAME;
    let _ = cookie_cache::verify_session_cookie(&[(name, text)], name, "http://x", &keys, 0);
    let chunk_names = [format!("{name}.1"), format!("{name}.0")];
    let middle = (text.len() / 2..=text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    let (a, b) = text.split_at(middle);
    let chunks = [(chunk_names[0].as_str(), b), (chunk_names[1].as_str(), a)];
    let _ = cookie_cache::reassemble(&chunks, name);
});
