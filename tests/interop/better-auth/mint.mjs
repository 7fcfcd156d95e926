#!/usr/bin/env node
// Mints genuine Better Auth 1.7 credentials for warden's end-to-end tests.
//
// Everything here comes out of the real npm packages (better-auth with its
// jwt() and admin() plugins, @better-auth/api-key) running on SQLite through
// better-sqlite3: the schema is Better Auth's own migration, the users sign up
// and sign in through auth.handler(), and the JWTs, JWKS, cookies and API keys
// are exactly what Better Auth hands out. Warden's Rust tests read FILE.
//
//   node mint.mjs --db PATH --out FILE [--base-url http://localhost:3000] [--describe]
//
// --describe prints a short summary of the facts warden's implementation
// relies on (and re-derives the hashes/signatures independently with
// node:crypto, failing loudly when Better Auth disagrees with them).
// With --describe, --db and --out are optional (a temporary directory is used).
//
// Not deterministic by nature: ids, tokens, keys and the EdDSA key pair are
// random, and timestamps are the wall clock. Structure and rules are fixed.

import { createHash, createHmac, createPublicKey, verify as cryptoVerify } from "node:crypto";
import { mkdtempSync, rmSync, existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { getCookieCache } from "better-auth/cookies";
import { jwt, admin } from "better-auth/plugins";
import { apiKey } from "@better-auth/api-key";

const HERE = dirname(fileURLToPath(import.meta.url));
const versionOf = (pkg) => JSON.parse(readFileSync(join(HERE, "node_modules", pkg, "package.json"), "utf8")).version;
const VERSIONS = {
  "better-auth": versionOf("better-auth"),
  "@better-auth/api-key": versionOf("@better-auth/api-key"),
  "better-sqlite3": versionOf("better-sqlite3"),
  node: process.versions.node,
};

const SECRET = "better-auth-secret-for-the-tests-0123456789";
const PASSWORD = "correct-horse-battery-staple";

// ---------------------------------------------------------------- arguments
function parseArgs(argv) {
  const out = { baseUrl: "http://localhost:3000", describe: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) die(`${a} needs a value`);
      return argv[++i];
    };
    if (a === "--db") out.db = next();
    else if (a === "--out") out.out = next();
    else if (a === "--base-url") out.baseUrl = next();
    else if (a === "--describe") out.describe = true;
    else if (a === "-h" || a === "--help") {
      console.log("usage: node mint.mjs --db PATH --out FILE [--base-url URL] [--describe]");
      process.exit(0);
    } else die(`unknown argument ${a}`);
  }
  if (!out.describe && (!out.db || !out.out)) die("--db PATH and --out FILE are required");
  return out;
}
function die(msg) {
  console.error(`mint.mjs: ${msg}`);
  process.exit(2);
}

// ---------------------------------------------------------------- helpers
const b64urlJson = (part) => JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
function decodeJwt(token) {
  const [h, p, s] = token.split(".");
  return { header: b64urlJson(h), payload: b64urlJson(p), signatureLength: Buffer.from(s, "base64url").length };
}
function verifyJwtWithJwks(token, jwks) {
  const [h, p, s] = token.split(".");
  const header = b64urlJson(h);
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk) return { ok: false, why: `no jwk with kid ${header.kid}` };
  const key = createPublicKey({ key: jwk, format: "jwk" });
  const data = Buffer.from(`${h}.${p}`);
  const sig = Buffer.from(s, "base64url");
  let ok;
  if (header.alg === "EdDSA") ok = cryptoVerify(null, data, key, sig);
  else if (header.alg === "ES256") ok = cryptoVerify("sha256", data, { key, dsaEncoding: "ieee-p1363" }, sig);
  else return { ok: false, why: `alg ${header.alg} not checked here` };
  return { ok };
}
// All Set-Cookie headers of a Response as [name, value, attributes-string].
function setCookies(res) {
  return res.headers.getSetCookie().map((line) => {
    const [pair, ...attrs] = line.split(";");
    const eq = pair.indexOf("=");
    return [pair.slice(0, eq).trim(), pair.slice(eq + 1).trim(), attrs.map((s) => s.trim()).join("; "), line];
  });
}
const isoOrNull = (d) => (d == null ? null : new Date(d).toISOString());

// ---------------------------------------------------------------- main
async function main() {
  const args = parseArgs(process.argv.slice(2));
  let tmp = null;
  if (!args.db || !args.out) {
    tmp = mkdtempSync(join(tmpdir(), "warden-better-auth-"));
    args.db ??= join(tmp, "auth.db");
    args.out ??= join(tmp, "better-auth.json");
  }
  const dbPath = resolve(args.db);
  const outPath = resolve(args.out);
  // A fresh database every run: stale rows would mix old and new credentials.
  for (const f of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`, `${dbPath}-journal`]) if (existsSync(f)) rmSync(f);
  mkdirSync(dirname(dbPath), { recursive: true });
  mkdirSync(dirname(outPath), { recursive: true });

  const sqlite = new Database(dbPath);

  // In-memory secondary storage, as Better Auth's docs show with a Map. It
  // records every key/value/ttl it is handed (sessions and API keys).
  const kv = new Map();
  const kvTtl = new Map();
  const secondaryStorage = {
    get: async (key) => kv.get(key) ?? null,
    set: async (key, value, ttl) => {
      kv.set(key, value);
      kvTtl.set(key, ttl ?? null);
    },
    delete: async (key) => {
      kv.delete(key);
      kvTtl.delete(key);
    },
  };

  const authOptions = {
    appName: "warden-interop",
    baseURL: args.baseUrl,
    secret: SECRET,
    database: sqlite,
    secondaryStorage,
    telemetry: { enabled: false },
    logger: { disabled: true },
    emailAndPassword: { enabled: true },
    session: {
      // Sessions also go to the database (not only the secondary storage),
      // so the session table is a source of truth warden can read.
      storeSessionInDatabase: true,
      cookieCache: { enabled: true, strategy: "jwt", maxAge: 300 },
    },
    plugins: [
      admin(),
      jwt({ sessionCookieCache: true }),
      apiKey([
        // "default": stored in the database (the apikey table) only.
        { configId: "default", enableMetadata: true, keyExpiration: { minExpiresIn: 0 } },
        // "kv": stored in secondary storage only (no apikey row).
        { configId: "kv", storage: "secondary-storage", defaultPrefix: "kv_" },
      ]),
    ],
  };

  // 1. Better Auth's own schema, through its programmatic migrations.
  const migrations = await getMigrations(authOptions);
  const migrationSql = await migrations.compileMigrations();
  await migrations.runMigrations();
  const createSql = (name) =>
    sqlite.prepare("select sql from sqlite_master where type = 'table' and name = ?").get(name)?.sql ?? null;
  const tables = sqlite
    .prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name")
    .all()
    .map((r) => r.name);
  const indexes = sqlite
    .prepare("select name, tbl_name, sql from sqlite_master where type = 'index' and sql is not null order by name")
    .all();

  // 2. The auth instance.
  const auth = betterAuth(authOptions);
  const ctx = await auth.$context;
  const base = `${args.baseUrl.replace(/\/$/, "")}/api/auth`;
  const call = async (method, path, { body, cookie, headers = {} } = {}) => {
    const h = new Headers({ origin: args.baseUrl, ...headers });
    if (body !== undefined) h.set("content-type", "application/json");
    if (cookie) h.set("cookie", cookie);
    const res = await auth.handler(
      new Request(`${base}${path}`, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) }),
    );
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {}
    if (!res.ok) throw new Error(`${method} ${path} -> ${res.status} ${text}`);
    return { res, json, cookies: setCookies(res) };
  };

  // 3. Users: sign up, give alice the admin role, sign in.
  const people = [
    { name: "Alice Admin", email: "alice@example.com", role: "admin" },
    { name: "Bob User", email: "bob@example.com", role: "user" },
    // Carol's image URL is long enough that her cookie-cache JWT exceeds one
    // cookie and Better Auth splits it into better-auth.session_data.0, .1, ...
    { name: "Carol Chunked", email: "carol@example.com", role: "user", image: `https://example.com/avatar/${"c".repeat(6000)}.png` },
  ];
  for (const p of people) {
    const { json } = await call("POST", "/sign-up/email", {
      body: { name: p.name, email: p.email, password: PASSWORD, ...(p.image ? { image: p.image } : {}) },
    });
    p.id = json.user.id;
    if (p.role !== "user") await ctx.internalAdapter.updateUser(p.id, { role: p.role });
  }
  const cookieHeader = (pairs) => pairs.map(([n, v]) => `${n}=${v}`).join("; ");
  const sessionTokenName = ctx.authCookies.sessionToken.name;
  const sessionDataName = ctx.authCookies.sessionData.name;
  for (const p of people) {
    const { json, cookies } = await call("POST", "/sign-in/email", { body: { email: p.email, password: PASSWORD } });
    p.signIn = { json, cookies };
    p.sessionToken = cookies.find(([n]) => n === sessionTokenName);
    // get-session with only the session token: Better Auth reads the session,
    // re-issues the cookie cache and the jwt plugin adds set-auth-jwt.
    const gs = await call("GET", "/get-session", { cookie: cookieHeader([p.sessionToken]) });
    p.getSession = gs;
    p.headerJwt = gs.res.headers.get("set-auth-jwt");
    p.exposeHeaders = gs.res.headers.get("access-control-expose-headers");
    const tk = await call("GET", "/token", { cookie: cookieHeader([p.sessionToken]) });
    p.tokenJwt = tk.json.token;
  }
  const jwksRes = await call("GET", "/jwks");
  const jwks = jwksRes.json;

  // Cookie cache round trip: Better Auth must accept its own (possibly
  // chunked) session_data cookies without the session token's DB lookup.
  for (const p of people) {
    const dataCookies = p.signIn.cookies.filter(([n]) => n === sessionDataName || n.startsWith(`${sessionDataName}.`));
    const gs = await call("GET", "/get-session", { cookie: cookieHeader([p.sessionToken, ...dataCookies]) });
    p.cacheRoundTrip = gs.json?.user?.id === p.id;
  }

  // 4. API keys (server-side calls: permissions are a server-only property).
  const alice = people[0];
  const bob = people[1];
  const keys = [];
  const mk = async (label, body, expect) => {
    const r = await auth.api.createApiKey({ body });
    keys.push({ label, created: r, expect });
    return r;
  };
  await mk("plain", { userId: alice.id, name: "plain" }, "valid");
  await mk("permissions", { userId: alice.id, name: "files-read", permissions: { files: ["read"] } }, "valid");
  await mk("expiring", { userId: bob.id, name: "expires-in-a-day", expiresIn: 60 * 60 * 24 }, "valid");
  const disabled = await mk("disabled", { userId: bob.id, name: "disabled" }, "KEY_DISABLED");
  await auth.api.updateApiKey({ body: { keyId: disabled.id, userId: bob.id, enabled: false } });
  const revoked = await mk("revoked", { userId: bob.id, name: "revoked" }, "INVALID_API_KEY");
  await mk("prefixed", { userId: alice.id, name: "prefixed", prefix: "wdn_" }, "valid");
  await mk("metadata-remaining", { userId: alice.id, name: "limited", remaining: 100, metadata: { plan: "pro" } }, "valid");
  const expiredAt = Date.now();
  await mk("expired", { userId: bob.id, name: "expired", expiresIn: 1 }, "KEY_EXPIRED");
  await mk("secondary-storage", { configId: "kv", userId: alice.id, name: "kv" }, "valid");
  // Deleting needs the owner's session (a sessionMiddleware endpoint).
  await auth.api.deleteApiKey({ body: { keyId: revoked.id }, headers: new Headers({ cookie: cookieHeader([bob.sessionToken]) }) });
  // Snapshot rows and storage before any verification touches them
  // (verification bumps requestCount/lastRequest, and deletes expired keys).
  const apikeyRows = sqlite.prepare("select * from apikey").all();
  const apikeyTypes = sqlite
    .prepare(
      `select id, typeof(enabled) enabled, typeof(rateLimitEnabled) rateLimitEnabled, typeof(expiresAt) expiresAt,
              typeof(createdAt) createdAt, typeof(permissions) permissions, typeof(metadata) metadata from apikey`,
    )
    .all();
  const kvSnapshot = Object.fromEntries([...kv.entries()].sort(([a], [b]) => a.localeCompare(b)));
  const kvTtlSnapshot = Object.fromEntries([...kvTtl.entries()].sort(([a], [b]) => a.localeCompare(b)));

  // Let the 1-second key expire, then ask Better Auth for its verdict on
  // every key (the expired one is verified last: verification deletes it).
  const wait = expiredAt + 1100 - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const order = [...keys].sort((a, b) => (a.label === "expired") - (b.label === "expired"));
  for (const k of order) {
    const v = await auth.api.verifyApiKey({ body: { key: k.created.key, ...(k.created.configId === "kv" ? { configId: "kv" } : {}) } });
    k.verify = { valid: v.valid, code: v.error?.code ?? null };
    if (k.label === "permissions") {
      const ok = await auth.api.verifyApiKey({ body: { key: k.created.key, permissions: { files: ["read"] } } });
      const no = await auth.api.verifyApiKey({ body: { key: k.created.key, permissions: { files: ["write"] } } });
      k.verifyPermissions = { "files:read": ok.valid, "files:write": no.valid, deniedCode: no.error?.code ?? null };
    }
  }

  // Verifying the expired key made Better Auth delete its row. Put Better
  // Auth's own row back, so the database keeps an expired key for warden.
  const expiredKey = keys.find((k) => k.label === "expired").created;
  const expiredRow = apikeyRows.find((r) => r.id === expiredKey.id);
  if (expiredRow && !sqlite.prepare("select 1 from apikey where id = ?").get(expiredRow.id)) {
    const cols = Object.keys(expiredRow);
    sqlite
      .prepare(`insert into apikey (${cols.map((c) => `"${c}"`).join(", ")}) values (${cols.map((c) => `@${c}`).join(", ")})`)
      .run(expiredRow);
  }
  const apikeyRowsFinal = sqlite.prepare("select * from apikey").all();

  // Better Auth's own standalone verifier for JWT cookie caches (what an
  // external service such as warden does): getCookieCache with the JWKS.
  const standalone = {};
  for (const p of people) {
    const dataCookies = p.getSession.cookies.filter(([n, v]) => (n === sessionDataName || n.startsWith(`${sessionDataName}.`)) && v !== "");
    const r = await getCookieCache(new Headers({ cookie: cookieHeader(dataCookies) }), {
      strategy: "jwt",
      isSecure: sessionDataName.startsWith("__Secure-"),
      jwt: { jwks, issuer: args.baseUrl },
    });
    const wrongIss = await getCookieCache(new Headers({ cookie: cookieHeader(dataCookies) }), {
      strategy: "jwt",
      isSecure: sessionDataName.startsWith("__Secure-"),
      jwt: { jwks, issuer: "https://not-the-issuer.example" },
    });
    standalone[p.id] = { accepted: r?.user?.id === p.id, wrongIssuerRejected: wrongIss === null };
  }

  // ---------------------------------------------------------------- output
  const rowById = Object.fromEntries(apikeyRows.map((r) => [r.id, r]));
  const apiKeys = keys.map(({ label, created, expect, verify, verifyPermissions }) => {
    const row = rowById[created.id] ?? null;
    return {
      label,
      key: created.key,
      id: created.id,
      configId: created.configId,
      referenceId: created.referenceId,
      name: created.name,
      prefix: created.prefix ?? null,
      start: created.start ?? null,
      permissions: created.permissions ?? null,
      metadata: created.metadata ?? null,
      remaining: created.remaining ?? null,
      expiresAt: isoOrNull(created.expiresAt),
      enabled: label === "disabled" ? false : created.enabled,
      deleted: label === "revoked",
      hashedInDb: row?.key ?? null,
      sha256Base64UrlNoPad: createHash("sha256").update(created.key).digest("base64url"),
      storage: created.configId === "kv" ? "secondary-storage" : "database",
      expect,
      verify,
      ...(verifyPermissions ? { verifyPermissions } : {}),
    };
  });

  const jwtOf = (t) => (t ? { token: t, ...decodeJwt(t) } : null);
  const cookieCacheOf = (p) => {
    const data = p.getSession.cookies.filter(([n, v]) => (n === sessionDataName || n.startsWith(`${sessionDataName}.`)) && v !== "");
    const whole = data.length === 1 && data[0][0] === sessionDataName ? data[0][1] : data.map(([, v]) => v).join("");
    return {
      cookies: data.map(([n, v]) => [n, v]),
      attributes: data.map(([n, , a]) => [n, a]),
      setCookieLines: data.map(([, , , l]) => l),
      jwt: jwtOf(decodeURIComponent(whole)),
    };
  };
  const userRows = sqlite.prepare('select * from "user"').all();
  const sessionRows = sqlite.prepare("select * from session").all();
  const jwksRows = sqlite.prepare("select * from jwks").all();

  const usersOut = people.map((p) => {
    const [tokName, tokValue, tokAttrs] = p.sessionToken;
    const decoded = decodeURIComponent(tokValue);
    const dot = decoded.lastIndexOf(".");
    const rawToken = decoded.slice(0, dot);
    const cc = cookieCacheOf(p);
    return {
      id: p.id,
      email: p.email,
      name: p.name,
      role: p.role,
      sessionTokenCookie: [tokName, tokValue],
      sessionTokenAttributes: tokAttrs,
      sessionToken: rawToken,
      sessionTokenSignature: decoded.slice(dot + 1),
      sessionId: sessionRows.find((s) => s.token === rawToken)?.id ?? null,
      jwt: { fromToken: jwtOf(p.tokenJwt), fromHeader: jwtOf(p.headerJwt), exposeHeaders: p.exposeHeaders },
      cookieCache: cc,
      cookieCacheAcceptedByBetterAuth: p.cacheRoundTrip,
      cookieCacheStandalone: standalone[p.id],
      signInCookieNames: p.signIn.cookies.map(([n]) => n),
      getSessionBody: p.getSession.json,
    };
  });

  const a = usersOut[0];
  const c = usersOut[2];
  const out = {
    generatedBy: "tests/interop/better-auth/mint.mjs",
    versions: VERSIONS,
    generatedAt: new Date().toISOString(),
    baseUrl: args.baseUrl,
    basePath: "/api/auth",
    secret: SECRET,
    password: PASSWORD,
    db: dbPath,
    users: usersOut.map(({ id, email, name, role, sessionToken, sessionId }) => ({ id, email, name, role, sessionToken, sessionId })),
    jwt: {
      fromToken: a.jwt.fromToken.token,
      fromHeader: a.jwt.fromHeader.token,
      jwks,
      header: a.jwt.fromToken.header,
      payload: a.jwt.fromToken.payload,
      headerJwtHeader: a.jwt.fromHeader.header,
      headerJwtPayload: a.jwt.fromHeader.payload,
      perUser: usersOut.map((u) => ({ userId: u.id, fromToken: u.jwt.fromToken.token, fromHeader: u.jwt.fromHeader.token })),
    },
    cookies: {
      sessionTokenName,
      sessionDataName,
      sessionToken: a.sessionTokenCookie[1],
      sessionTokenAttributes: a.sessionTokenAttributes,
      sessionData: a.cookieCache.cookies,
      sessionDataAttributes: a.cookieCache.attributes[0]?.[1] ?? null,
      cookieCacheJwt: { header: a.cookieCache.jwt.header, payload: a.cookieCache.jwt.payload },
      chunked: c.cookieCache.cookies.length > 1 ? c.cookieCache.cookies : null,
      chunkedUserId: c.id,
      chunkedSessionToken: c.sessionTokenCookie[1],
      chunkedJwtLength: c.cookieCache.jwt.token.length,
      chunkLengths: c.cookieCache.cookies.map(([, v]) => v.length),
      perUser: usersOut.map((u) => ({
        userId: u.id,
        sessionToken: u.sessionTokenCookie,
        sessionData: u.cookieCache.cookies,
        setCookieLines: u.cookieCache.setCookieLines,
        acceptedByBetterAuth: u.cookieCacheAcceptedByBetterAuth,
      })),
    },
    apiKeys,
    apiKeyConfig: {
      header: "x-api-key",
      defaultKeyLength: 64,
      alphabet: "a-zA-Z",
      startLength: 6,
      enableSessionForAPIKeys: false,
      configs: [
        { configId: "default", storage: "database" },
        { configId: "kv", storage: "secondary-storage", defaultPrefix: "kv_" },
      ],
    },
    // Snapshot taken right after the keys were created (before verification).
    secondaryStorage: kvSnapshot,
    secondaryStorageTtl: kvTtlSnapshot,
    schema: {
      jwks: createSql("jwks"),
      apikey: createSql("apikey"),
      user: createSql("user"),
      session: createSql("session"),
      account: createSql("account"),
      verification: createSql("verification"),
      tables,
      indexes,
      migrationSql,
    },
    // apikey: as created (before any verification); apikeyFinal: the database
    // at exit (verification bumped requestCount/lastRequest/remaining).
    rows: { user: userRows, session: sessionRows, jwks: jwksRows, apikey: apikeyRows, apikeyFinal: apikeyRowsFinal, apikeyTypes },
    usersDetail: usersOut,
  };
  out.facts = facts(out);
  writeFileSync(outPath, JSON.stringify(out, null, 2) + "\n");
  sqlite.close();
  if (args.describe) describe(out);
  else console.log(`mint.mjs: wrote ${outPath} (db ${dbPath})`);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  const bad = out.facts.checks.filter((x) => !x.ok);
  if (bad.length) {
    console.error(`mint.mjs: ${bad.length} self-check(s) failed:\n${bad.map((x) => `  - ${x.what}`).join("\n")}`);
    process.exit(1);
  }
}

// Facts re-derived independently (node:crypto), recorded in the output.
function facts(out) {
  const checks = [];
  const check = (what, ok) => checks.push({ what, ok: !!ok });
  const jwks = out.jwt.jwks;
  for (const u of out.usersDetail) {
    for (const [k, j] of Object.entries(u.jwt)) {
      if (!j || typeof j !== "object") continue;
      check(`${u.email}: ${k} JWT verifies against /jwks`, verifyJwtWithJwks(j.token, jwks).ok);
    }
    check(`${u.email}: cookie-cache JWT verifies against /jwks`, verifyJwtWithJwks(u.cookieCache.jwt.token, jwks).ok);
    check(`${u.email}: Better Auth accepts its own cookie cache`, u.cookieCacheAcceptedByBetterAuth);
    check(`${u.email}: getCookieCache({ strategy: "jwt", jwt: { jwks, issuer } }) accepts it`, u.cookieCacheStandalone.accepted);
    check(`${u.email}: getCookieCache rejects it with a wrong issuer`, u.cookieCacheStandalone.wrongIssuerRejected);
    const mac = createHmac("sha256", out.secret).update(u.sessionToken).digest("base64");
    check(`${u.email}: session_token cookie = encodeURIComponent(token + "." + base64(HMAC-SHA256(secret, token)))`,
      u.sessionTokenCookie[1] === encodeURIComponent(`${u.sessionToken}.${mac}`));
    const cc = u.cookieCache.jwt.payload;
    check(`${u.email}: cookie-cache sid == session token and sub == user id`, cc.sid === u.sessionToken && cc.sub === u.id);
  }
  for (const k of out.apiKeys) {
    if (k.hashedInDb) check(`api key ${k.label}: apikey.key == base64url-nopad(SHA-256(key))`, k.hashedInDb === k.sha256Base64UrlNoPad);
    const want = k.expect === "valid" ? true : false;
    check(`api key ${k.label}: Better Auth verify -> ${k.expect}`, k.verify.valid === want && (want || k.verify.code === k.expect));
  }
  const kvKey = out.apiKeys.find((k) => k.storage === "secondary-storage");
  check("secondary storage holds api-key:<hash> for the kv key", out.secondaryStorage[`api-key:${kvKey.sha256Base64UrlNoPad}`]);
  check("cookie cache was chunked for the large user", out.cookies.chunked);
  for (const line of out.usersDetail.flatMap((u) => u.cookieCache.setCookieLines)) check(`Set-Cookie within 4050 bytes (${line.length})`, line.length <= 4050);
  return { checks };
}

function describe(out) {
  const a = out.usersDetail[0];
  const t = a.jwt.fromToken;
  const h = a.jwt.fromHeader;
  const cc = a.cookieCache.jwt;
  const row = out.rows.apikey[0];
  const types = out.rows.apikeyTypes[0];
  const kvKeys = Object.keys(out.secondaryStorage);
  const lines = [];
  const say = (s = "") => lines.push(s);
  say(`Better Auth facts (better-auth ${out.versions["better-auth"]}, @better-auth/api-key ${out.versions["@better-auth/api-key"]}, better-sqlite3 ${out.versions["better-sqlite3"]}, node ${out.versions.node}); baseURL ${out.baseUrl}, basePath ${out.basePath}`);
  say();
  say("JWT plugin (/token and the set-auth-jwt header of /get-session):");
  say(`  header ${JSON.stringify(t.header)}  (typ absent: ${t.header.typ === undefined}); /jwks keys: ${JSON.stringify(out.jwt.jwks.keys.map((k) => ({ kty: k.kty, crv: k.crv, alg: k.alg, kid: k.kid?.length + " chars" })))}`);
  say(`  iss ${JSON.stringify(t.payload.iss)}  aud ${JSON.stringify(t.payload.aud)}  sub = user id: ${t.payload.sub === a.id}  exp-iat = ${t.payload.exp - t.payload.iat} s`);
  say(`  payload keys: ${Object.keys(t.payload).join(", ")}`);
  say(`  set-auth-jwt header JWT has the same header/claim shape: ${JSON.stringify(Object.keys(h.payload)) === JSON.stringify(Object.keys(t.payload)) && h.header.kid === t.header.kid}; Access-Control-Expose-Headers: ${a.jwt.exposeHeaders}`);
  say(`  jwks table columns: ${Object.keys(out.rows.jwks[0]).join(", ")}; privateKey stored encrypted (a JSON string of hex, not a JWK): ${typeof JSON.parse(out.rows.jwks[0].privateKey) === "string"}; publicKey is a JSON JWK: ${JSON.stringify(Object.keys(JSON.parse(out.rows.jwks[0].publicKey)))}`);
  say();
  say(`Cookie cache (${out.cookies.sessionDataName}, strategy "jwt" with jwt({ sessionCookieCache: true })):`);
  say(`  header ${JSON.stringify(cc.header)}`);
  say(`  iss ${JSON.stringify(cc.payload.iss)}  aud ${JSON.stringify(cc.payload.aud)}  sub = user id: ${cc.payload.sub === a.id}  sid = session token (not session id): ${cc.payload.sid === a.sessionToken}  exp-iat = ${cc.payload.exp - cc.payload.iat} s`);
  say(`  payload keys: ${Object.keys(cc.payload).join(", ")}; session keys: ${Object.keys(cc.payload.session).join(", ")}; user keys: ${Object.keys(cc.payload.user).join(", ")}`);
  say(`  session.expiresAt/createdAt are ${typeof cc.payload.session.expiresAt} (${cc.payload.session.expiresAt}); updatedAt is ${typeof cc.payload.updatedAt} ms; version ${JSON.stringify(cc.payload.version)}`);
  say(`  signed with the same jwks key as /token (kid equal): ${cc.header.kid === t.header.kid}; better-auth/cookies getCookieCache({ strategy: "jwt", jwt: { jwks, issuer } }) accepts it: ${out.usersDetail.every((u) => u.cookieCacheStandalone.accepted)}`);
  say(`  Set-Cookie: ${a.cookieCache.setCookieLines[0].replace(/=[^;]*/, "=…")}`);
  say(`  chunking: when "<name>.99=<value>; <attributes>" would exceed 4050 bytes, the value is cut into fixed-size pieces named <name>.0, <name>.1, … (at most 100); unchunked it is the bare name.`);
  say(`    here: JWT of ${out.cookies.chunkedJwtLength} chars -> ${out.cookies.chunked?.map(([n]) => n).join(", ")} with lengths ${out.cookies.chunkLengths.join(", ")}; join the values in index order`);
  say();
  say(`Session token cookie (${out.cookies.sessionTokenName}): value = encodeURIComponent(token + "." + base64std(HMAC-SHA256(secret, token))); token ${a.sessionToken.length} chars; verified: ${out.facts.checks.filter((c) => c.what.includes("session_token")).every((c) => c.ok)}`);
  say(`  attributes: ${a.sessionTokenAttributes}`);
  say();
  say("API keys (@better-auth/api-key):");
  const plain = out.apiKeys.find((k) => k.label === "plain");
  const pre = out.apiKeys.find((k) => k.label === "prefixed");
  say(`  key = [prefix] + 64 random [a-zA-Z]; plain key ${plain.key.length} chars, prefixed "${pre.prefix}" key ${pre.key.length} chars; start = first 6 chars of the full key (prefix included): ${pre.start === pre.key.slice(0, 6)}`);
  say(`  apikey.key = base64url-no-padding(SHA-256(full key)): ${out.apiKeys.filter((k) => k.hashedInDb).every((k) => k.hashedInDb === k.sha256Base64UrlNoPad)} (checked with node:crypto for ${out.apiKeys.filter((k) => k.hashedInDb).length} rows)`);
  say(`  apikey columns: ${Object.keys(row).join(", ")}`);
  say(`  SQLite storage: enabled ${types.enabled} (${JSON.stringify(out.rows.apikey.map((r) => r.enabled))}), rateLimitEnabled ${types.rateLimitEnabled}, createdAt ${types.createdAt} (${JSON.stringify(row.createdAt)}), expiresAt ${JSON.stringify(out.rows.apikey.find((r) => r.expiresAt)?.expiresAt)}, permissions ${JSON.stringify(out.rows.apikey.find((r) => r.permissions)?.permissions)}, metadata absent -> ${JSON.stringify(out.rows.apikey.find((r) => r.name === "plain")?.metadata)} (a string), present -> ${JSON.stringify(out.rows.apikey.find((r) => r.name === "limited")?.metadata)}; remaining ${JSON.stringify(out.rows.apikey.find((r) => r.name === "limited")?.remaining)}; rateLimit defaults on: max ${row.rateLimitMax} per ${row.rateLimitTimeWindow} ms`);
  say(`  owner column is referenceId (user id), plus configId ("default"); header x-api-key`);
  say(`  Better Auth verify verdicts: ${out.apiKeys.map((k) => `${k.label}=${k.verify.valid ? "valid" : k.verify.code}`).join(", ")}`);
  const pk = out.apiKeys.find((k) => k.verifyPermissions);
  say(`  permissions ${JSON.stringify(pk.permissions)}: files:read ${pk.verifyPermissions["files:read"]}, files:write ${pk.verifyPermissions["files:write"]} (${pk.verifyPermissions.deniedCode})`);
  say();
  say("Secondary storage (key -> JSON string):");
  const groups = {};
  for (const k of kvKeys) {
    const shape = k.startsWith("api-key:by-id:") ? "api-key:by-id:<id>" : k.startsWith("api-key:by-ref:") ? "api-key:by-ref:<referenceId>" : k.startsWith("api-key:") ? "api-key:<base64url sha256 of key>" : k.startsWith("active-sessions-") ? "active-sessions-<userId>" : /^[A-Za-z0-9]{32}$/.test(k) ? "<session token>" : k;
    groups[shape] = (groups[shape] ?? 0) + 1;
  }
  say(`  ${Object.entries(groups).map(([k, n]) => `${k} (${n})`).join(", ")}`);
  const kvk = out.apiKeys.find((k) => k.storage === "secondary-storage");
  const stored = JSON.parse(out.secondaryStorage[`api-key:${kvk.sha256Base64UrlNoPad}`]);
  say(`  api-key JSON fields: ${Object.keys(stored).join(", ")}; dates ISO strings (${stored.createdAt}); enabled ${JSON.stringify(stored.enabled)}; ttl ${out.secondaryStorageTtl[`api-key:${kvk.sha256Base64UrlNoPad}`]}`);
  say();
  say(`Self-checks: ${out.facts.checks.filter((c) => c.ok).length}/${out.facts.checks.length} passed`);
  console.log(lines.join("\n"));
}

main().catch((e) => {
  if (e?.body) console.error(JSON.stringify(e.body));
  console.error(e?.stack || e);
  process.exit(1);
});
