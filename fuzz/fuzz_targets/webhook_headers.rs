//! The four webhook schemes' header parsers and verification, fed arbitrary
//! header values (repeated lines included) and bodies, plus the secret
//! decoder. None of it may panic; and whatever the body and timestamp, a
//! request signed by `webhook::sign` must verify (the parsers and the
//! signers agree).
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_core::layers::signature::webhook::{self, WebhookMessage};
use warden_core::layers::signature::{
    Keys, RequestView, Scheme, SignatureRule, WorkerSettings, check_headers,
};

const SECRET: &[u8] = b"whsec_fuzz-only-webhook-secret-0123456789";

/// The header names each scheme reads, in the order the input fills them.
fn names(scheme: Scheme) -> &'static [&'static str] {
    match scheme {
        Scheme::Stripe => &["Stripe-Signature", "stripe-signature"],
        Scheme::Github => &["X-Hub-Signature-256", "X-GitHub-Delivery", "x-hub-signature-256"],
        Scheme::Standard => &["webhook-id", "webhook-timestamp", "webhook-signature", "svix-id", "svix-timestamp", "svix-signature"],
        Scheme::Slack => &["X-Slack-Signature", "X-Slack-Request-Timestamp", "x-slack-signature"],
        _ => &[],
    }
}

fn view(headers: &[(String, Vec<u8>)]) -> RequestView<'_> {
    RequestView {
        method: "POST",
        scheme: "https",
        authority: "hooks.example.com",
        path_and_query: "/hooks",
        headers,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let schemes = [Scheme::Stripe, Scheme::Github, Scheme::Standard, Scheme::Slack];
    let scheme = schemes[usize::from(selector) % schemes.len()];
    let settings = WorkerSettings::default();
    let rule = SignatureRule::new(scheme);
    let now = 1_700_000_000 + u64::from(selector);
    let key = webhook::key_bytes(scheme, "whsec_ZnV6ei1vbmx5LXdlYmhvb2stc2VjcmV0LTAxMjM=")
        .unwrap_or_else(|_| SECRET.to_vec());
    let keys = Keys { current: &key, previous: Some(SECRET) };

    // Arbitrary values for the scheme's headers; the last part is the body.
    let mut parts: Vec<&[u8]> = rest.split(|b| *b == 0xff).collect();
    let body = parts.pop().unwrap_or(&[]);
    let headers: Vec<(String, Vec<u8>)> = names(scheme)
        .iter()
        .zip(parts.iter())
        .map(|(n, v)| (n.to_string(), v.to_vec()))
        .collect();
    if let Ok(pending) = check_headers(&settings, &rule, &view(&headers), now) {
        let _ = pending.verify(&view(&headers), body, &keys, now);
    }
    let _ = webhook::key_bytes(Scheme::Standard, &String::from_utf8_lossy(rest));

    // The signer and the parser agree for any body, id and timestamp.
    let id = String::from_utf8_lossy(parts.first().copied().unwrap_or(b"msg_1")).into_owned();
    let id_ok = !id.is_empty() && id.len() <= 255 && id.bytes().all(|b| (0x21..=0x7e).contains(&b));
    let message = WebhookMessage { timestamp: now, id: Some(if id_ok { &id } else { "msg_1" }), body };
    let signed: Vec<(String, Vec<u8>)> = webhook::sign(scheme, &key, &message)
        .expect("a webhook scheme with an id signs")
        .into_iter()
        .map(|(n, v)| (n.to_string(), v.into_bytes()))
        .collect();
    let pending = check_headers(&settings, &rule, &view(&signed), now).expect("signed headers parse");
    let verified = pending.verify(&view(&signed), body, &keys, now).expect("signed request verifies");
    assert_eq!(verified.scheme, scheme);
});
