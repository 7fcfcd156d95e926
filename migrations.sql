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
