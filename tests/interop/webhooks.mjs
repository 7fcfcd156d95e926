#!/usr/bin/env node
// Reference signer/verifier for Stripe and Standard Webhooks (Svix) signatures,
// for warden's end-to-end tests. Signing and verifying are done by each
// provider's OFFICIAL SDK (npm `stripe`, npm `standardwebhooks`, pinned in
// package.json), so warden is checked against code nobody here wrote.
//
//   SECRET=whsec_... node tests/interop/webhooks.mjs --provider stripe|standard \
//       --secret-env SECRET --body-file FILE [--timestamp UNIX_SECONDS] [--id MSG_ID] [--svix]
//     prints {"headers": [["Name", "value"], ...]}
//
//   ... --verify --header 'Name: value' [--header ...] [--timestamp-free]
//     checks the headers with the SDK's own verifier; prints {"ok": true} (exit 0)
//     or {"ok": false, "error": "..."} (exit 1). --timestamp-free skips the
//     SDK's 5-minute freshness window (Stripe: tolerance 0; Standard Webhooks:
//     the SDK's clock is set to the message's timestamp).
//
//   node tests/interop/webhooks.mjs --self-test
//
// The secret comes only from the environment variable named by --secret-env.
// Bodies are read as UTF-8 text, which is what both SDKs sign.
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import Stripe from 'stripe';
import { Webhook } from 'standardwebhooks';

function sign(provider, secret, payload, timestamp, id, svix) {
  if (provider === 'stripe') {
    return [['Stripe-Signature', Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp })]];
  }
  const signature = new Webhook(secret).sign(id, new Date(timestamp * 1000), payload);
  const prefix = svix ? 'svix' : 'webhook';
  return [[`${prefix}-id`, id], [`${prefix}-timestamp`, String(timestamp)], [`${prefix}-signature`, signature]];
}

// Throws the SDK's own error when the headers do not verify.
function verify(provider, secret, payload, headers, timestampFree) {
  const get = (name) => headers.find(([n]) => n.toLowerCase() === name)?.[1];
  if (provider === 'stripe') {
    Stripe.webhooks.constructEvent(payload, get('stripe-signature'), secret, timestampFree ? 0 : undefined);
    return;
  }
  // The SDK reads webhook-* names; Svix sends the same values as svix-*.
  const unbranded = Object.fromEntries(headers.map(([n, v]) => [n.toLowerCase().replace(/^svix-/, 'webhook-'), v]));
  const realNow = Date.now;
  if (timestampFree) Date.now = () => parseInt(unbranded['webhook-timestamp'], 10) * 1000;
  try {
    new Webhook(secret).verify(payload, unbranded, { jsonParse: false });
  } finally {
    Date.now = realNow;
  }
}

function check(label, actual, expected) {
  if (actual !== expected) throw new Error(`${label}: got ${actual}, expected ${expected}`);
  console.log(`ok: ${label}`);
}

function rejects(label, fn) {
  try { fn(); } catch { console.log(`ok: ${label}`); return; }
  throw new Error(`${label}: was accepted`);
}

function selfTest() {
  // Stripe: the SDK's header equals t=TS,v1=hex(HMAC-SHA256(secret, "TS.payload")),
  // and the SDK's verifier accepts it and rejects a changed body or stale timestamp.
  const secret = 'whsec_warden_interop_self_test';
  const body = '{"id":"evt_self_test","object":"event","type":"ping"}';
  const [[, header]] = sign('stripe', secret, body, 1700000000);
  const hex = createHmac('sha256', secret).update(`1700000000.${body}`).digest('hex');
  check('stripe header = t=TS,v1=hex(HMAC-SHA256(secret, "TS.body"))', header, `t=1700000000,v1=${hex}`);
  verify('stripe', secret, body, [['Stripe-Signature', header]], true);
  console.log('ok: stripe constructEvent accepts its own header');
  rejects('stripe rejects a changed body', () => verify('stripe', secret, body + ' ', [['Stripe-Signature', header]], true));
  rejects('stripe rejects a stale timestamp', () => verify('stripe', secret, body, [['Stripe-Signature', header]], false));

  // Standard Webhooks: the published example, then a fresh round trip.
  const std = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const example = new Webhook(std).sign('msg_p5jXN8AQM9LWM0D4loKWxJek', new Date(1614265330 * 1000), '{"test": 2432232314}');
  check('standard webhooks published example', example, 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  const now = Math.floor(Date.now() / 1000);
  const headers = sign('standard', std, body, now, 'msg_self_test', false);
  verify('standard', std, body, headers, false);
  console.log('ok: standard webhooks verify accepts its own headers');
  verify('standard', std, body, sign('standard', std, body, now, 'msg_self_test', true), false);
  console.log('ok: standard webhooks verify accepts the svix-* names');
  rejects('standard rejects a changed body', () => verify('standard', std, body + ' ', headers, false));
  const old = sign('standard', std, body, now - 600, 'msg_self_test', false);
  rejects('standard rejects a stale timestamp', () => verify('standard', std, body, old, false));
  verify('standard', std, body, old, true);
  console.log('ok: standard --timestamp-free accepts the stale one');
}

function main() {
  const { values: o } = parseArgs({
    options: {
      provider: { type: 'string' }, 'secret-env': { type: 'string' }, 'body-file': { type: 'string' },
      timestamp: { type: 'string' }, id: { type: 'string' }, svix: { type: 'boolean' },
      verify: { type: 'boolean' }, header: { type: 'string', multiple: true },
      'timestamp-free': { type: 'boolean' }, 'self-test': { type: 'boolean' },
    },
  });
  if (o['self-test']) {
    try { return selfTest(); } catch (e) { console.error(`FAIL: ${e.message}`); process.exit(1); }
  }
  if (!['stripe', 'standard'].includes(o.provider) || !o['secret-env'] || !o['body-file'] ||
      (o.timestamp !== undefined && !/^\d+$/.test(o.timestamp)) || o.header?.some((h) => !h.includes(':'))) {
    console.error('usage: webhooks.mjs --provider stripe|standard --secret-env VAR --body-file FILE ' +
      '[--timestamp S] [--id ID] [--svix] [--verify --header "Name: value" ... [--timestamp-free]] | --self-test');
    process.exit(2);
  }
  const secret = process.env[o['secret-env']];
  if (!secret) { console.error(`webhooks.mjs: $${o['secret-env']} is not set`); process.exit(2); }
  const payload = readFileSync(o['body-file'], 'utf8');
  if (o.verify) {
    const headers = (o.header ?? []).map((h) => {
      const i = h.indexOf(':');
      return [h.slice(0, i).trim(), h.slice(i + 1).trim()];
    });
    try {
      verify(o.provider, secret, payload, headers, o['timestamp-free']);
      console.log(JSON.stringify({ ok: true }));
    } catch (e) {
      console.log(JSON.stringify({ ok: false, error: e.message }));
      process.exit(1);
    }
    return;
  }
  const timestamp = o.timestamp !== undefined ? Number(o.timestamp) : Math.floor(Date.now() / 1000);
  const id = o.id ?? `msg_${randomUUID().replaceAll('-', '')}`;
  console.log(JSON.stringify({ headers: sign(o.provider, secret, payload, timestamp, id, o.svix) }));
}

main();
