#!/usr/bin/env python3
"""What each warden layer costs: throughput and latency of the same requests
through the bare echo app, two do-nothing middlewares, warden with headers
only, and warden with the full demo policy (on the SQLite-file store and on
Redis), each as a ratio to the bare app measured in the same run; and warden with the
full policy on a key-value store that is down (issue 19: every store call
waits out its deadline until the breaker opens, then fails open).

The floors: `no-op middleware` hands the app's response through as it is
(warden's default does the same); `no-op middleware, buffered` collects a
small response and sends it on whole, as warden does when
`response_buffer_limit` is set; `one increment per request` makes one atomic
key-value increment and nothing else, the floor for a rate-limited route on
the store it runs on.

Token credentials (issue 13), on the full policy: `jwt-eddsa` is an EdDSA
bearer JWT verified against a JWK Set in a Spin variable (no store call);
`jwt-table` one verified against Better Auth's `jwks` table, read once and
then kept in the instance and in key-value; `api-key-hit` one key from
warden's `api_keys` table, cached in key-value after the first request;
`api-key-miss` the same key with `[api_keys] cache = false`, so that every
request reads the table.

Security events (issue 14), on the full policy: `auth-refused` is a session
cookie with a forged signature, refused before any store call, so each
request is one `session_auth_failed` event and little else, with sampling
opened up (10000 per 1 s window: every event is a line); `auth-refused-table`
the same with `[security_events] table = true` (batches of 50), so the two
differ by the table's cost alone; `auth-refused-sampled` the same request
under the default sampling (10 lines per minute, the rest counted).

Run through `bench/run`, which builds everything first. Results go to
bench/results/<date>.md and .json, and the plot to bench/results/<date>.svg
(and latest.svg, which the README shows).
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
HOST = TARGET / "bench-host" / "warden-host"
WASM = TARGET / "wasm32-wasip2" / "release"
RESULTS = ROOT / "bench" / "results"
MANIFEST = tomllib.loads((ROOT / "spin.toml").read_text())
DEMO_VARS = {k: v.get("default", "") for k, v in MANIFEST["variables"].items()}

# Issue 13's credentials. The Ed25519 keys are fixed (derived from these
# seeds), so that every server of a run, and every run, has the same ones;
# the tokens are signed once, at bench start, valid for ten years.
JWT_ISSUER = "http://localhost:3000"  # the demo's [jwt] issuer and audience
JWT_VARIABLE_KID = "bench-variable"
JWT_TABLE_KID = "bench-table"
JWKS_VARIABLE = "bench_jwks"
API_KEY = "wk_" + hashlib.sha256(b"warden bench api key").hexdigest()  # the seeds' form: prefix + 64 hex


def ed25519_key(kid):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives import serialization
    private = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"warden bench {kid}".encode()).digest())
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}
    return private, jwk


def jwt_token(kid):
    """A long-lived EdDSA token with the claims the demo's [jwt] requires."""
    import jwt as pyjwt
    private, _ = ed25519_key(kid)
    now = int(time.time())
    claims = {"sub": USER_ID, "iss": JWT_ISSUER, "aud": JWT_ISSUER, "iat": now,
              "exp": now + 10 * 365 * 86400}
    return pyjwt.encode(claims, private, algorithm="EdDSA", headers={"kid": kid})


# A JWK Set variable (`[jwt] jwks_variable`), declared beside the demo's.
DEMO_VARS[JWKS_VARIABLE] = json.dumps(
    {"keys": [dict(ed25519_key(JWT_VARIABLE_KID)[1], kid=JWT_VARIABLE_KID, alg="EdDSA", use="sig")]})


def bench_policy(cache=True, jwt_keys="table"):
    """The demo policy with the same routes and layers, but limits that never
    trip for the load generator's one address (except `/auth/*`, the 429
    case), and no replay cache: wrk repeats one signed request, which the
    replay cache would rightly refuse. `cache = false` forces session misses
    and API-key misses (`[api_keys] cache = false`). `jwt_keys = "variable"`
    replaces the demo's `jwks_table` by a JWK Set variable, so that a JWT is
    verified with no store call at all."""
    policy = DEMO_VARS["policy"]
    unlimited = 'rate_limit = { requests = 1000000000, window = "1m" }'
    for preset in ["api", "strict", "webhook", "web"]:
        policy = policy.replace(f'rate_limit = "{preset}"', unlimited)
    # The API-key route's tiered limit (`{ preset = "api", key = ["user"], tiers = … }`).
    policy = re.sub(r'rate_limit = \{ preset = "(api|strict|webhook|web)"[^\n]*\}', unlimited, policy)
    policy = policy.replace("[session]\n", f"[session]\ncache = {'true' if cache else 'false'}\n", 1)
    if jwt_keys == "variable":
        assert "jwks_table = true\n" in policy
        policy = policy.replace("jwks_table = true\n", f'jwks_table = false\njwks_variable = "{JWKS_VARIABLE}"\n', 1)
    if not cache:
        policy += "\n[api_keys]\ncache = false\n"
    return policy + "\n[worker]\nreplay = false\n"


# Every security event written as a line (issue 14's cases): the sampling
# opened up, so that the table case writes a row for every request.
EVERY_EVENT = '\n[security_events]\nsample_per_window = 10000\nwindow = "1s"\n'

# The policy of each group of cases on the full-policy configurations (the
# others serve every case with the variables they have).
POLICY_GROUPS = {
    "default": lambda: bench_policy(),
    "no-cache": lambda: bench_policy(cache=False),
    "jwt-variable": lambda: bench_policy(jwt_keys="variable"),
    "events-log": lambda: bench_policy() + EVERY_EVENT,
    "events-table": lambda: bench_policy() + EVERY_EVENT + "table = true\n",
}


HEADERS_ONLY_POLICY = """
[[routes]]
name = "all"
path = "/*"
rate_limit = "off"
"""

# Issue 15's flavours: one limited route, never over its limit, counted by
# the address a proxy sets (the wasmcloud flavour's hosts give none; the
# case sends it): an exact increment per request (Spin, wasmcloud), or the
# minimal flavour's approximate counting within its write budget.
RATE_LIMIT_ONLY_POLICY = """
[rate_limit]
client_ip = "x-real-ip"

[[routes]]
name = "api"
path = "/*"
rate_limit = { requests = 100000000, window = "1m" }
"""

USER_ID = "bench-user"
TOKEN = "BenchSessionToken0123456789abcd"  # 32 letters and digits, like Better Auth's


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpus():
    return len(os.sched_getaffinity(0))


def pinned(cmd, cpu):
    """Runs the server and the load generator on different cores."""
    if cpus() >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", str(cpu)] + cmd
    return cmd


class Server:
    """One warden-host process serving one configuration."""

    def __init__(self, name, middleware, variables, redis_url=None, faults=None):
        self.name = name
        self.port = free_port()
        self.state = Path(tempfile.mkdtemp(prefix=f"warden-bench-{name}-"))
        seed_database(self.state / "sqlite_db.db")
        cmd = [
            str(HOST), "serve",
            "--app", str(WASM / "echo_app.wasm"),
            "--listen", f"127.0.0.1:{self.port}",
            "--state-dir", str(self.state),
            "--migrations", str(ROOT / "migrations.sql"),
            "--stats",
        ]
        for mw in middleware:
            cmd += ["--middleware", str(WASM / mw)]
            # A flavour runs on the local host's profile for its hosts.
            for flavour in ("wasmcloud", "minimal"):
                if mw == f"warden-{flavour}.wasm":
                    cmd += ["--profile", flavour]
        for k, v in variables.items():
            cmd += ["--variable", f"{k}={v}"]
        if redis_url:
            cmd += ["--key-value-redis", redis_url]
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("SPIN_VARIABLE_") and k != "WARDEN_HOST_FAULTS"}
        if faults:
            env["WARDEN_HOST_FAULTS"] = faults
        self.proc = subprocess.Popen(pinned(cmd, 0), env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.url("/.well-known/warden-host/stats"), timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{name}: host did not start")

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def stats(self, reset=False):
        req = urllib.request.Request(self.url("/.well-known/warden-host/stats"),
                                     method="POST" if reset else "GET")
        return json.loads(urllib.request.urlopen(req).read())

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        # `spin up` starts `spin trigger` as a child; the server runs in a
        # session of its own so that nothing it started outlives it.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        shutil.rmtree(self.state, ignore_errors=True)


class BlackHole:
    """A Redis that is down the worst way: the port accepts connections and
    reads what is sent, but never answers (a dead host behind a proxy, a
    wedged server). Spin's Redis client then waits on every call; only
    warden's deadline ends it. A thread of this process; stopped with it."""

    def __init__(self):
        import threading
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self.serve, daemon=True).start()

    def url(self):
        return f"redis://127.0.0.1:{self.port}"

    def serve(self):
        import threading
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self.drain, args=(conn,), daemon=True).start()

    @staticmethod
    def drain(conn):
        try:
            while conn.recv(4096):
                pass
        except OSError:
            pass

    def close(self):
        self.sock.close()
        for conn in self.conns:
            try:
                conn.close()
            except OSError:
                pass


SPIN_INHERIT = '["key_value_stores", "sqlite_databases", "variables"]'


def spin_binary():
    """`spin` 4.1 or later on the PATH (middleware needs it), else None."""
    spin = shutil.which("spin")
    if not spin:
        return None
    out = subprocess.run([spin, "--version"], capture_output=True, text=True).stdout
    m = re.search(r"(\d+)\.(\d+)\.\d+", out)
    if not m or (int(m.group(1)), int(m.group(2))) < (4, 1):
        print(f"bench: {out.strip() or 'spin'} is older than 4.1; not measuring under Spin", file=sys.stderr)
        return None
    return spin


class SpinServer(Server):
    """The same configuration under real Spin (`spin up`), wired as the demo's
    spin.toml wires warden: the middleware in `dependencies.middleware`,
    inheriting the app's stores, database and variables. Spin counts no store
    operations, so those columns stay empty."""

    def __init__(self, name, middleware, variables, redis_url=None, spin="spin", faults=None):
        self.name = name
        self.port = free_port()
        self.state = Path(tempfile.mkdtemp(prefix=f"warden-bench-spin-{name}-"))
        seed_database(self.state / "sqlite_db.db")
        manifest = self.state / "spin.toml"
        manifest.write_text(spin_manifest(middleware))
        cmd = [spin, "up", "--from", str(manifest), "--listen", f"127.0.0.1:{self.port}",
               "--state-dir", str(self.state), "--sqlite", f"@{ROOT / 'migrations.sql'}"]
        if redis_url:
            runtime = self.state / "runtime-config.toml"
            runtime.write_text(f'[key_value_store.default]\ntype = "redis"\nurl = "{redis_url}"\n')
            cmd += ["--runtime-config-file", str(runtime)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPIN_VARIABLE_")}
        env.update({f"SPIN_VARIABLE_{k.upper()}": v for k, v in dict(DEMO_VARS, **variables).items()})
        self.proc = subprocess.Popen(pinned(cmd, 0), env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{name}: spin up exited with {self.proc.returncode}")
            try:
                urllib.request.urlopen(self.url("/health"), timeout=1)
                return
            except urllib.error.HTTPError:
                return  # answered: up, whatever the status
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{name}: spin did not start")

    def stats(self, reset=False):
        return None


def spin_manifest(middleware):
    """A Spin 4.1 manifest: the echo app, behind the given middleware."""
    lines = ["spin_manifest_version = 2", "", "[application]", 'name = "warden-bench"',
             'version = "0.1.0"', "", "[variables]"]
    lines += [f"{k} = {{ default = {json.dumps(v)} }}" for k, v in DEMO_VARS.items()]
    lines += ["", "[[trigger.http]]", 'route = "/..."', 'component = "echo"']
    if middleware:
        deps = ", ".join(f'{{ component = "mw{i}", inherit_configuration = {SPIN_INHERIT} }}'
                         for i in range(len(middleware)))
        lines.append(f"dependencies.middleware = [{deps}]")
    lines += ["", "[component.echo]", f"source = {json.dumps(str(WASM / 'echo_app.wasm'))}",
              'key_value_stores = ["default"]', 'sqlite_databases = ["default"]',
              "[component.echo.variables]"]
    lines += [f'{k} = "{{{{ {k} }}}}"' for k in DEMO_VARS]
    for i, mw in enumerate(middleware):
        lines += ["", f"[component.mw{i}]", f"source = {json.dumps(str(WASM / mw))}"]
    return "\n".join(lines) + "\n"


def seed_database(path):
    """A user and a week-long session, written the way Better Auth writes them."""
    db = sqlite3.connect(path)
    db.executescript((ROOT / "migrations.sql").read_text())
    now = datetime.datetime.now(datetime.timezone.utc)
    iso = lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
    db.execute('INSERT OR REPLACE INTO "user" (id, name, email, emailVerified, createdAt, updatedAt, role) '
               "VALUES (?, ?, ?, 1, ?, ?, 'user')", (USER_ID, "Bench User", "bench@example.com", iso(now), iso(now)))
    db.execute('INSERT OR REPLACE INTO "session" (id, expiresAt, token, createdAt, updatedAt, userId) '
               "VALUES (?, ?, ?, ?, ?, ?)",
               ("bench-session", iso(now + datetime.timedelta(days=7)), TOKEN, iso(now), iso(now), USER_ID))
    # Better Auth's jwt() plugin: `publicKey` is the JWK as text; the private
    # key is never read by warden, so a placeholder stands in for it.
    db.execute('INSERT OR REPLACE INTO "jwks" (id, publicKey, privateKey, createdAt, expiresAt, alg, crv) '
               "VALUES (?, ?, ?, ?, NULL, 'EdDSA', 'Ed25519')",
               (JWT_TABLE_KID, json.dumps(ed25519_key(JWT_TABLE_KID)[1]), "bench: not read", iso(now)))
    # Warden's api_keys, as `warden apikey create` writes a key: its SHA-256 hex.
    db.execute('INSERT OR REPLACE INTO "api_keys" (id, key_hash, prefix, owner, name, roles, permissions, tier, '
               "created_at, expires_at) VALUES (?, ?, ?, ?, ?, NULL, NULL, NULL, ?, NULL)",
               ("bench-key", hashlib.sha256(API_KEY.encode()).hexdigest(), API_KEY[:11], "bench", "bench",
                iso(now)))
    db.commit()
    db.close()


def session_cookie(secret=None):
    secret = DEMO_VARS["session_secret"] if secret is None else secret
    sig = base64.b64encode(hmac.new(secret.encode(), TOKEN.encode(), hashlib.sha256).digest())
    value = urllib.parse.quote(f"{TOKEN}.{sig.decode()}", safe="")
    return f"better-auth.session_token={value}"


# Signed with the wrong secret: refused on its signature, before any store
# call (the security-event cases).
FORGED_SESSION_COOKIE = session_cookie(secret="not the session secret, forged by a bench client")


def worker_headers(body):
    ts = str(int(time.time()))
    sig = base64.b64encode(hmac.new(DEMO_VARS["worker_secret"].encode(), f"{ts}:".encode() + body,
                                    hashlib.sha256).digest()).decode()
    return {"X-Worker-Timestamp": ts, "X-Worker-Signature": sig, "Content-Type": "application/octet-stream"}


LATENCY = re.compile(r"^\s+(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(server, case, duration, connections):
    """Runs wrk against one case; returns requests/s, p50 and p99 in ms."""
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    body = case.get("body", b"")
    headers = dict(case.get("headers", {}))
    if case.get("signed"):
        headers.update(worker_headers(body))
    lua = [f'wrk.method = "{case.get("method", "GET")}"']
    if body:
        # A long bracket: JSON bodies have quotes.
        assert b"]==]" not in body
        lua.append(f'wrk.body = [==[{body.decode()}]==]')
    for k, v in headers.items():
        lua.append(f"wrk.headers[ [==[{k}]==] ] = [==[{v}]==]")
    if case.get("unique_key"):
        # A new Idempotency-Key on every request (unique across wrk runs):
        # each request is a first call.
        prefix = os.urandom(6).hex()
        lua.append("local n = 0\nrequest = function()\n  n = n + 1\n  local h = {}\n"
                   "  for k, v in pairs(wrk.headers) do h[k] = v end\n"
                   f"  h[\"Idempotency-Key\"] = '\"{prefix}-' .. n .. '\"'\n"
                   "  return wrk.format(nil, nil, h, nil)\nend")
    # Count non-2xx/3xx answers, so a case that should be 200 but is not shows.
    lua.append("statuses = {}\nresponse = function(status) statuses[status] = (statuses[status] or 0) + 1 end")
    script.write_text("\n".join(lua) + "\n")
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script),
           server.url(case["path"])]
    out = subprocess.run(pinned(cmd, 1), capture_output=True, text=True, check=True).stdout
    script.unlink()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    lat = {p: float(v) * UNITS[u] for p, v, u in LATENCY.findall(out)}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50_ms": lat.get("50"), "p99_ms": lat.get("99"), "requests": total,
            "non_2xx": int(non2xx.group(1)) if non2xx else 0}


def status_of(server, case):
    headers = dict(case.get("headers", {}))
    body = case.get("body", b"") or None
    if case.get("signed"):
        headers.update(worker_headers(case.get("body", b"")))
    req = urllib.request.Request(server.url(case["path"]), data=body, headers=headers,
                                 method=case.get("method", "GET"))
    try:
        return urllib.request.urlopen(req, timeout=30).status
    except urllib.error.HTTPError as e:
        return e.code


# JSON bodies within the strict preset: one 1,013-character string (1 KiB in
# all), and 1,000 strings of 1,040 characters (0.995 MiB, under the demo's
# 1 MiB limit and its 1,000-item array limit).
JSON_1KIB = b'{"note":"' + b"x" * 1013 + b'"}'
JSON_1MIB = b'{"items":[' + b",".join([b'"' + b"x" * 1040 + b'"'] * 1000) + b']}'
ORDER = b'{"item":42,"quantity":1}'
assert len(JSON_1KIB) == 1024 and len(JSON_1MIB) <= 1024 * 1024


# `latency`: also measured with one connection, where the server is never
# queued, so p50/p99 are what each request itself costs (the 16-connection
# run saturates the server, and its latency mostly mirrors throughput).
CASES = [
    {"name": "health", "path": "/health", "latency": True},
    {"name": "rate-limited", "path": "/api/x", "headers": {"x-real-ip": "192.0.2.1"}, "latency": True},
    {"name": "api-anonymous", "path": "/api/x", "latency": True},
    {"name": "protected-cache-hit", "path": "/api/protected/me", "headers": {"Cookie": session_cookie()},
     "latency": True},
    {"name": "protected-cache-miss", "path": "/api/protected/me", "headers": {"Cookie": session_cookie()},
     "policy": "no-cache"},
    {"name": "internal-hook-signed-1KiB", "path": "/internal/hook", "method": "POST", "body": b"x" * 1024,
     "signed": True, "latency": True},
    {"name": "over-limit-429", "path": "/auth/login", "prime": 6, "latency": True},
    # Issue 13. The demo's `/api/token/*` (auth = "jwt") and `/api/keys/*`
    # (auth = "api_key") routes.
    {"name": "jwt-eddsa", "path": "/api/token/x",
     "headers": {"Authorization": f"Bearer {jwt_token(JWT_VARIABLE_KID)}"}, "policy": "jwt-variable",
     "latency": True},
    {"name": "jwt-table", "path": "/api/token/x",
     "headers": {"Authorization": f"Bearer {jwt_token(JWT_TABLE_KID)}"}, "latency": True},
    {"name": "api-key-hit", "path": "/api/keys/x", "headers": {"x-api-key": API_KEY}, "latency": True},
    {"name": "api-key-miss", "path": "/api/keys/x", "headers": {"x-api-key": API_KEY}, "policy": "no-cache"},
    # Issue 14. The demo's `/api/*` takes JSON within seed 004's shape
    # limits and 1 MiB: every byte goes through the streaming scanner.
    {"name": "api-json-1KiB", "path": "/api/x", "method": "POST", "body": JSON_1KIB,
     "headers": {"Content-Type": "application/json"}, "latency": True},
    {"name": "api-json-1MiB", "path": "/api/x", "method": "POST", "body": JSON_1MIB,
     "headers": {"Content-Type": "application/json"}},
    # `POST /api/orders` requires an idempotency key: a new key on every
    # request (claim, app, record), and one key repeated (a replay from the
    # store, the app not called).
    {"name": "orders-idempotent-first", "path": "/api/orders", "method": "POST", "body": ORDER,
     "headers": {"Content-Type": "application/json", "Idempotency-Key": f'"status-{os.urandom(6).hex()}"'},
     "unique_key": True, "latency": True},
    {"name": "orders-idempotent-replay", "path": "/api/orders", "method": "POST", "body": ORDER,
     "headers": {"Content-Type": "application/json", "Idempotency-Key": f'"replay-{os.urandom(6).hex()}"'},
     "latency": True},
    # Issue 14's security events: a refused session cookie on the demo's
    # `/api/protected/*` (auth = "required"), 401 every time.
    {"name": "auth-refused", "path": "/api/protected/me", "headers": {"Cookie": FORGED_SESSION_COOKIE},
     "policy": "events-log", "latency": True},
    {"name": "auth-refused-table", "path": "/api/protected/me", "headers": {"Cookie": FORGED_SESSION_COOKIE},
     "policy": "events-table", "latency": True},
    {"name": "auth-refused-sampled", "path": "/api/protected/me", "headers": {"Cookie": FORGED_SESSION_COOKIE}},
]


BUFFERED = "no-op middleware, buffered"
STORE_DOWN = "warden full policy (store down)"
INCREMENT = "one increment per request"


def configurations(redis_url):
    demo = dict(DEMO_VARS, policy=bench_policy())
    headers_only = dict(DEMO_VARS, policy=HEADERS_ONLY_POLICY)
    out = [
        ("bare app", [], {}, None),
        ("no-op middleware", ["noop_middleware.wasm"], {}, None),
        (BUFFERED, ["noop_buffered_middleware.wasm"], {}, None),
        (INCREMENT, ["increment_floor_middleware.wasm"], {}, None),
        ("warden headers only", ["warden.wasm"], headers_only, None),
        ("warden full policy (SQLite store)", ["warden.wasm"], demo, None),
        # The key-value store down (issue 19), fail open with the default
        # deadline (50 ms) and breaker (open after 5 failures, for 60 s, per
        # instance): under Spin, Redis on a black hole that accepts and never
        # answers; on the local host, its `kv-hang` fault.
        (STORE_DOWN, ["warden.wasm"], demo, None),
    ]
    rate_limit_only = dict(DEMO_VARS, policy=RATE_LIMIT_ONLY_POLICY)
    for flavour in FLAVOURS:
        out.append((f"flavour {flavour}, rate limit only", [f"{flavour}.wasm"], rate_limit_only,
                    redis_url))
    if redis_url:
        out.append((INCREMENT + " (Redis)", ["increment_floor_middleware.wasm"], {}, redis_url))
        out.append(("warden headers only (Redis)", ["warden.wasm"], headers_only, redis_url))
        out.append(("warden full policy (Redis store)", ["warden.wasm"], demo, redis_url))
    return out


FLAVOURS = ["warden", "warden-wasmcloud", "warden-minimal"]
# Hosts each flavour's imports link on: real Spin offers the minimal
# flavour's interfaces, not the wasmcloud flavour's.
SPIN_RUNS = {"warden", "warden-minimal"}

COMPONENTS = ["warden.wasm", "echo_app.wasm", "noop_middleware.wasm", "noop_buffered_middleware.wasm",
              "increment_floor_middleware.wasm", "warden-wasmcloud.wasm", "warden-minimal.wasm"]


def snapshot_components():
    """Copies the components just built to a directory of this run's own:
    other builds sharing target/ (tests, other worktrees' sessions) rewrite
    target/wasm32-wasip2/release/warden.wasm, and a server started while it
    is being rewritten answers 500 (seen on this 2-core machine). Returns
    the copy's directory and warden.wasm's SHA-256, kept in the results."""
    import atexit
    copy = Path(tempfile.mkdtemp(prefix="warden-bench-components-"))
    atexit.register(shutil.rmtree, copy, ignore_errors=True)
    for name in COMPONENTS:
        shutil.copy2(WASM / name, copy / name)
    return copy, hashlib.sha256((copy / "warden.wasm").read_bytes()).hexdigest()


def main():
    global WASM
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--redis", default=os.environ.get("WARDEN_BENCH_REDIS"))
    ap.add_argument("--only", help="measure only configurations whose name matches this regular "
                    "expression (results go to <date>-partial.md; latest.md is left alone)")
    ap.add_argument("--hosts", choices=["both", "spin", "local"], default="both")
    ap.add_argument("--cases", help="measure only cases whose name matches this regular expression "
                    "(a partial run, as --only)")
    args = ap.parse_args()

    started = datetime.datetime.now(datetime.timezone.utc)
    WASM, warden_sha256 = snapshot_components()
    results = {"date": started.isoformat(timespec="seconds"), "duration_s": args.duration,
               "connections": args.connections, "cpus": cpus(), "warden_wasm_sha256": warden_sha256,
               "configs": {}}
    spin = spin_binary()
    # Spin first: it is the host users run, and the one the targets are for.
    hosts = ([(spin, " [Spin]")] if spin and args.hosts != "local" else []) + (
        [(None, "")] if args.hosts != "spin" else [])
    if spin:
        results["spin_version"] = subprocess.run([spin, "--version"], capture_output=True,
                                                 text=True).stdout.strip()
    for host, suffix in hosts:
        for name, middleware, variables, redis_url in configurations(args.redis):
            if args.only and not re.search(args.only, name):
                continue
            if host and any(m == f"{f}.wasm" for m in middleware for f in FLAVOURS if f not in SPIN_RUNS):
                continue
            rows = {}
            full = "full policy" in name
            hole, faults = None, None
            if name == STORE_DOWN:
                if host:
                    hole = BlackHole()
                    redis_url = hole.url()
                else:
                    faults = "kv-hang"
            selected = [c for c in CASES if not args.cases or re.search(args.cases, c["name"])]
            # Without warden's layers a miss is the same request as a hit: one
            # server takes every case. The full policy takes one per group.
            groups = POLICY_GROUPS if full else {"default": None}
            try:
                for group, policy in groups.items():
                    cases = [c for c in selected if not full or c.get("policy", "default") == group]
                    if not cases:
                        continue
                    group_vars = dict(variables, policy=policy()) if full else variables
                    run_cases(name + suffix, middleware, group_vars, redis_url, cases, rows, args,
                              spin=host, faults=faults)
            finally:
                if hole:
                    hole.close()
            results["configs"][name + suffix] = rows

    results["sizes"] = sizes()
    results["startup"] = startup()
    write(results, started, partial=bool(args.only) or bool(args.cases) or args.hosts != "both")


def run_cases(name, middleware, variables, redis_url, cases, rows, args, spin=None, faults=None):
    store_down = name.startswith(STORE_DOWN)
    if redis_url and not store_down:
        flush_redis(redis_url)
    slug = re.sub(r"\W+", "-", name)
    if spin:
        server = SpinServer(slug, middleware, variables, redis_url, spin=spin)
    else:
        server = Server(slug, middleware, variables, redis_url, faults=faults)
    try:
        for case in cases:
            for _ in range(case.get("prime", 0)):
                status_of(server, case)
            status = status_of(server, case)
            wrk(server, case, args.warmup, args.connections)
            server.stats(reset=True)
            row = wrk(server, case, args.duration, args.connections)
            ops = server.stats()
            per = max(row["requests"], 1)
            row.update(status=status)
            if ops:
                row.update(kv_ops_per_request=round((ops["kv_reads"] + ops["kv_writes"]) / per, 3),
                           kv_writes_per_request=round(ops["kv_writes"] / per, 3),
                           sqlite_per_request=round(ops["sqlite_statements"] / per, 3),
                           instances=ops["instances"])
            else:  # Spin: not counted
                row.update(kv_ops_per_request="–", kv_writes_per_request="–", sqlite_per_request="–")
            if case.get("latency"):
                one = wrk(server, case, args.duration, 1)
                row.update(c1_rps=one["rps"], c1_p50_ms=one["p50_ms"], c1_p99_ms=one["p99_ms"])
            rows[case["name"]] = row
            print(f"{name:38} {case['name']:28} {row['rps']:>9.0f} req/s  p50 {row['p50_ms']:.2f} ms"
                  f"  p99 {row['p99_ms']:.2f} ms  status {status}  kv/req {row['kv_ops_per_request']}",
                  flush=True)
    finally:
        server.stop()


def flush_redis(url):
    host, port = re.match(r"redis://([^:/]+):(\d+)", url).groups()
    subprocess.run(["redis-cli", "-h", host, "-p", port, "FLUSHALL"], check=True, capture_output=True)


def sizes():
    out = {}
    for name in COMPONENTS:
        out[name] = (WASM / name).stat().st_size
    unstripped = TARGET / "bench-unstripped" / "wasm32-wasip2" / "release" / "warden.wasm"
    if unstripped.exists():
        out["warden.wasm (not stripped)"] = unstripped.stat().st_size
    return out


def startup():
    out = {}
    for label, mw in [("echo app alone", []), ("warden + echo app", ["warden.wasm"])]:
        cmd = [str(HOST), "measure", "--app", str(WASM / "echo_app.wasm")]
        for m in mw:
            cmd += ["--middleware", str(WASM / m)]
        out[label] = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    return out


SPIN_SUFFIX = " [Spin]"


def floor(configs, name, floor_name):
    """The floor configuration measured on the same host as `name`."""
    suffix = SPIN_SUFFIX if name.endswith(SPIN_SUFFIX) else ""
    return configs.get(floor_name + suffix, {})


def one_conn(row):
    if row.get("c1_p50_ms") is None:
        return "–"
    return f"{row['c1_p50_ms']:.2f} / {row['c1_p99_ms']:.2f}"


def ratio(x, base):
    return x / base if x is not None and base else None


def write(results, started, partial=False):
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = started.strftime("%Y-%m-%d-%H%M") + ("-partial" if partial else "")
    (RESULTS / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    configs = results["configs"]
    fmt = lambda v: "–" if v is None else f"{v:.2f}"
    lines = [f"# warden benchmark, {results['date']}", "",
             f"wrk, {results['connections']} connections, {results['duration_s']} s per case after a warm-up; "
             f"server and load generator pinned to different cores ({results['cpus']} CPUs). "
             "Ratios are to the bare app, the no-op middleware (streams the response through, as "
             "warden does by default) and the buffered no-op middleware (collects small responses, "
             "as warden does with `response_buffer_limit` set), all measured in the same run on the "
             "same host: Spin for rows marked [Spin] "
             f"({results.get('spin_version', 'not measured: no spin 4.1+ on the PATH')}), "
             "else the local host.", ""]
    lines += targets(configs, fmt)
    for case in CASES:
        c = case["name"]
        lines += [f"## {c}", "",
                  "| configuration | status | req/s | × bare | × no-op | × buffered no-op | p50 ms | × bare | p99 ms | × bare "
                  "| 1 conn. p50 / p99 ms | kv ops/req | kv writes/req | sqlite/req |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for name, rows in configs.items():
            r = rows.get(c)
            if not r:
                continue
            b = floor(configs, name, "bare app").get(c, {})
            n = floor(configs, name, "no-op middleware").get(c, {})
            nb = floor(configs, name, BUFFERED).get(c, {})
            lines.append(
                f"| {name} | {r['status']} | {r['rps']:.0f} | {fmt(ratio(r['rps'], b.get('rps')))} | "
                f"{fmt(ratio(r['rps'], n.get('rps')))} | {fmt(ratio(r['rps'], nb.get('rps')))} | "
                f"{r['p50_ms']:.2f} | {fmt(ratio(r['p50_ms'], b.get('p50_ms')))} | "
                f"{r['p99_ms']:.2f} | {fmt(ratio(r['p99_ms'], b.get('p99_ms')))} | "
                f"{one_conn(r)} | {r['kv_ops_per_request']} | "
                f"{r['kv_writes_per_request']} | {r['sqlite_per_request']} |")
        lines.append("")
    lines += ["## Component sizes", "", "| file | bytes |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in results["sizes"].items()]
    lines += ["", "## Compile and instantiate (local host, no cache)", "",
              "| component | compile ms | instantiate µs |", "|---|---|---|"]
    lines += [f"| {k} | {v['compile_ms']} | {v['instantiate_us']} |" for k, v in results["startup"].items()]
    lines.append("")
    (RESULTS / f"{stem}.md").write_text("\n".join(lines))
    svg = plot(results)
    (RESULTS / f"{stem}.svg").write_text(svg)
    if not partial:
        (RESULTS / "latest.svg").write_text(svg)
        shutil.copy(RESULTS / f"{stem}.md", RESULTS / "latest.md")
    print(f"wrote {RESULTS / (stem + '.md')} and {stem}.svg")


def targets(configs, fmt):
    """The performance targets, each a ratio to the streaming no-op measured in
    the same run (Spin rows first where Spin was measured)."""
    rows = [("headers only, /health", "warden headers only", "health", "no-op middleware"),
            ("full policy (Redis), anonymous IP-limited", "warden full policy (Redis store)", "api-anonymous",
             "no-op middleware"),
            ("full policy (Redis), session cache hit", "warden full policy (Redis store)", "protected-cache-hit",
             "no-op middleware"),
            ("full policy (Redis), signed 1 KiB hook", "warden full policy (Redis store)",
             "internal-hook-signed-1KiB", "no-op middleware"),
            ("full policy (Redis), over-limit 429", "warden full policy (Redis store)", "over-limit-429",
             "no-op middleware"),
            ("full policy (SQLite store), anonymous IP-limited, vs one increment",
             "warden full policy (SQLite store)", "api-anonymous", INCREMENT),
            ("full policy, key-value store down (fail open), anonymous IP-limited", STORE_DOWN,
             "api-anonymous", "no-op middleware")]
    rows = [(label + SPIN_SUFFIX, config + SPIN_SUFFIX, case, fl) for label, config, case, fl in rows
            if config + SPIN_SUFFIX in configs] + rows
    lines = ["## Targets", "",
             "Added p99 is shown at 16 connections (a saturated server: mostly queueing) and at one "
             "connection (each request's own latency).", "",
             "| warden | against | req/s × floor | 1 conn. p50 × floor | added p99 ms, 16 conn. / 1 conn. |",
             "|---|---|---|---|---|"]
    for label, config, case, floor_name in rows:
        r = configs.get(config, {}).get(case)
        n = floor(configs, config, floor_name).get(case)
        if not r or not n:
            continue
        one = (f"{r['c1_p99_ms'] - n['c1_p99_ms']:.2f}"
               if r.get("c1_p99_ms") is not None and n.get("c1_p99_ms") is not None else "–")
        p50 = fmt(ratio(r.get("c1_p50_ms"), n.get("c1_p50_ms")))
        lines.append(f"| {label} | {floor_name} | {fmt(ratio(r['rps'], n['rps']))} | {p50} | "
                     f"{r['p99_ms'] - n['p99_ms']:.2f} / {one} |")
    lines += ["", "Targets (on Spin): headers only ≥ 0.95× the no-op; full policy on Redis ≥ 0.8× "
              "with ≤ 0.5 ms added p99 at one connection; over-limit 429 ≥ 1.0×; no stall: every "
              "one-connection p50 within 2× the no-op's.", ""]
    return lines


def plot(results):
    """One bar per configuration: throughput as a share of the bare app's,
    for each case. Plain SVG, no plotting library needed."""
    configs = list(results["configs"].items())
    cases = [c["name"] for c in CASES]
    colors = ["#9e9e9e", "#607d8b", "#b0bec5", "#4caf50", "#2196f3", "#81c784", "#0d47a1"]
    # Spin's rows, when measured, take darker shades of the same colours.
    colors += ["#616161", "#37474f", "#78909c", "#2e7d32", "#1565c0", "#519657", "#002171"]
    bar, gap, group_gap = 14, 2, 26
    left, top, height = 180, 40, 220
    group_w = len(configs) * (bar + gap) + group_gap
    width = left + len(cases) * group_w + 40
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{top + height + 90 + 14 * len(configs)}" '
           f'font-family="sans-serif" font-size="11">',
           f'<text x="{left}" y="20" font-size="14">Throughput as a share of the bare app (same run; higher is better)</text>']
    for i in range(0, 11, 2):
        y = top + height - height * i / 10
        out.append(f'<line x1="{left}" x2="{width - 30}" y1="{y}" y2="{y}" stroke="#ddd"/>'
                   f'<text x="{left - 6}" y="{y + 4}" text-anchor="end">{i / 10:.1f}</text>')
    for gi, case in enumerate(cases):
        x0 = left + 10 + gi * group_w
        for ci, (name, rows) in enumerate(configs):
            r = rows.get(case)
            bare = floor(results["configs"], name, "bare app")
            if not r or not bare.get(case):
                continue
            share = min(r["rps"] / bare[case]["rps"], 1.2)
            h = height * share
            x = x0 + ci * (bar + gap)
            out.append(f'<rect x="{x}" y="{top + height - h}" width="{bar}" height="{h}" fill="{colors[ci % len(colors)]}">'
                       f'<title>{name}, {case}: {r["rps"]:.0f} req/s ({share:.2f}x)</title></rect>')
        out.append(f'<text x="{x0}" y="{top + height + 16}" transform="rotate(20 {x0} {top + height + 16})">{case}</text>')
    for ci, (name, _) in enumerate(configs):
        y = top + height + 70 + ci * 14
        out.append(f'<rect x="{left}" y="{y - 9}" width="10" height="10" fill="{colors[ci % len(colors)]}"/>'
                   f'<text x="{left + 16}" y="{y}">{name}</text>')
    out.append("</svg>")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
