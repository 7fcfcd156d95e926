-- Better Auth's tables, exactly as Better Auth 1.7 (SQLite, admin plugin)
-- creates them, so warden and Better Auth can share one database.
-- Idempotent: `spin up --sqlite @migrations.sql` and the local host run it on
-- every start.
CREATE TABLE IF NOT EXISTS "user" ("id" text not null primary key, "name" text not null, "email" text not null unique,
  "emailVerified" integer not null, "image" text, "createdAt" date not null, "updatedAt" date not null,
  "role" text, "banned" integer, "banReason" text, "banExpires" date);
CREATE TABLE IF NOT EXISTS "session" ("id" text not null primary key, "expiresAt" date not null, "token" text not null unique,
  "createdAt" date not null, "updatedAt" date not null, "ipAddress" text, "userAgent" text,
  "userId" text not null references "user" ("id") on delete cascade, "impersonatedBy" text);
CREATE INDEX IF NOT EXISTS "session_userId_idx" on "session" ("userId");
-- Better Auth's JWT plugin (better-auth 1.7 `jwt()`), exactly as its
-- migration creates the table. Warden reads `id`, `publicKey` and `alg`
-- only (auth = "jwt" with jwks_table = true); never `privateKey`.
CREATE TABLE IF NOT EXISTS "jwks" ("id" text not null primary key, "publicKey" text not null, "privateKey" text not null,
  "createdAt" date not null, "expiresAt" date, "alg" text, "crv" text);
-- Better Auth's API Key plugin (@better-auth/api-key 1.7), exactly as its
-- migration creates the table: `key` is base64url(SHA-256(key)) without
-- padding, `referenceId` the owner.
CREATE TABLE IF NOT EXISTS "apikey" ("id" text not null primary key, "configId" text not null, "name" text, "start" text,
  "referenceId" text not null, "prefix" text, "key" text not null, "refillInterval" integer, "refillAmount" integer,
  "lastRefillAt" date, "enabled" integer, "rateLimitEnabled" integer, "rateLimitTimeWindow" integer, "rateLimitMax" integer,
  "requestCount" integer, "remaining" integer, "lastRequest" date, "expiresAt" date, "createdAt" date not null,
  "updatedAt" date not null, "permissions" text, "metadata" text);
CREATE INDEX IF NOT EXISTS "apikey_configId_idx" on "apikey" ("configId");
CREATE INDEX IF NOT EXISTS "apikey_referenceId_idx" on "apikey" ("referenceId");
CREATE INDEX IF NOT EXISTS "apikey_key_idx" on "apikey" ("key");
-- Warden's own API keys (`warden apikey create`): only the SHA-256 hex of the
-- key is stored; `prefix` is its first characters, for display. `roles` is a
-- JSON array, `permissions` Better Auth's {"resource":["action"]} JSON; dates
-- are ISO-8601 text like Better Auth's.
CREATE TABLE IF NOT EXISTS "api_keys" ("id" text not null primary key, "key_hash" text not null unique,
  "prefix" text not null, "owner" text not null, "name" text not null, "roles" text, "permissions" text, "tier" text,
  "created_at" date not null, "expires_at" date, "revoked_at" date, "last_used_at" date);
CREATE INDEX IF NOT EXISTS "api_keys_owner_idx" on "api_keys" ("owner");
-- Warden's security events (`[security_events] table = true`,
-- docs/security-events.md), in seed 001's shape: `ip_address` holds the
-- client's address prefix (/24, /48), never the address; `details` the JSON
-- log line; `created_at` ISO-8601 text like Better Auth's dates.
CREATE TABLE IF NOT EXISTS "security_events" ("id" text not null primary key, "type" text not null,
  "user_id" text, "ip_address" text, "user_agent" text, "details" text, "created_at" date not null);
CREATE INDEX IF NOT EXISTS "security_events_created_at_idx" on "security_events" ("created_at");
