//! `warden apikey create | list | revoke`: warden's own API keys in a SQLite
//! file (the `api_keys` table of `migrations.sql`), or as SQL to run on a
//! remote database. A key is printed once, at creation; only its SHA-256 hex
//! is stored, and no listing ever shows a hash.

use std::fmt::Write as _;

use warden_core::base::fields::parse_duration;
use warden_core::base::time::format_iso8601_ms;
use warden_core::layers::api_key::hash::warden_hash;
use warden_core::layers::api_key::record::{check_id, check_name, parse_permissions};

use crate::commands::Output;

/// The prefix of keys unless `--prefix` says otherwise.
pub const DEFAULT_PREFIX: &str = "wk_";
/// Random bytes after the prefix (64 hex digits, as the seeds' keys).
pub const KEY_BYTES: usize = 32;
/// Hex digits of the key kept with the prefix for display and `revoke --prefix`.
pub const SHOWN_HEX: usize = 8;

/// The `api_keys` table, as in `migrations.sql` (a test checks they agree),
/// created when missing so that `create` works on a fresh file.
pub const CREATE_TABLE: &str = r#"CREATE TABLE IF NOT EXISTS "api_keys" ("id" text not null primary key, "key_hash" text not null unique,
  "prefix" text not null, "owner" text not null, "name" text not null, "roles" text, "permissions" text, "tier" text,
  "created_at" date not null, "expires_at" date, "revoked_at" date, "last_used_at" date);
CREATE INDEX IF NOT EXISTS "api_keys_owner_idx" on "api_keys" ("owner");"#;

const INSERT: &str = r#"INSERT INTO "api_keys" ("id", "key_hash", "prefix", "owner", "name", "roles", "permissions", "tier", "created_at", "expires_at") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"#;
const LIST: &str = r#"SELECT "id", "prefix", "owner", "name", "tier", "expires_at", "revoked_at" FROM "api_keys" ORDER BY "created_at", "id""#;
const REVOKE_BY_ID: &str =
    r#"UPDATE "api_keys" SET "revoked_at" = ?1 WHERE "id" = ?2 AND "revoked_at" IS NULL"#;
const REVOKE_BY_PREFIX: &str =
    r#"UPDATE "api_keys" SET "revoked_at" = ?1 WHERE "prefix" = ?2 AND "revoked_at" IS NULL"#;
const COUNT_BY_PREFIX: &str = r#"SELECT count(*) FROM "api_keys" WHERE "prefix" = ?1"#;

/// What `warden apikey` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiKeyCommand {
    Create(CreateArgs),
    List { db: String },
    Revoke(RevokeArgs),
}

/// `warden apikey create`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateArgs {
    /// The SQLite file; `None` only with `--sql`.
    pub db: Option<String>,
    pub owner: String,
    pub name: String,
    pub tier: Option<String>,
    /// Seconds until the key expires.
    pub expires_secs: Option<u64>,
    pub roles: Vec<String>,
    /// Better Auth-style permissions JSON, as given (checked).
    pub permissions: Option<String>,
    pub prefix: String,
    pub sql: bool,
}

/// `warden apikey revoke`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokeArgs {
    pub db: Option<String>,
    pub target: RevokeTarget,
    pub sql: bool,
}

/// Which key to revoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokeTarget {
    Id(String),
    /// The stored display prefix, as `list` shows it.
    Prefix(String),
}

/// Parses the arguments after `apikey`.
pub fn parse(args: &[String]) -> Result<ApiKeyCommand, String> {
    let Some((command, rest)) = args.split_first() else {
        return Err("apikey needs a command: create, list or revoke".to_string());
    };
    let options = options(rest)?;
    let get = |name: &str| {
        options
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.clone())
    };
    let flag = |name: &str| options.iter().any(|(n, _)| n == name);
    let allowed: &[&str] = match command.as_str() {
        "create" => &[
            "db",
            "owner",
            "name",
            "tier",
            "expires",
            "roles",
            "permissions",
            "prefix",
            "sql",
        ],
        "list" => &["db"],
        "revoke" => &["db", "id", "prefix", "sql"],
        other => return Err(format!("unknown apikey command {other}")),
    };
    for (name, value) in &options {
        if !allowed.contains(&name.as_str()) {
            return Err(format!("apikey {command} does not take --{name}"));
        }
        if name == "sql" && value.is_some() {
            return Err("--sql takes no value".to_string());
        }
    }
    let sql = flag("sql");
    let db = get("db");
    if db.is_none() && !sql {
        return Err(format!("apikey {command} needs --db FILE"));
    }
    if db.is_some() && sql {
        return Err(
            "--sql prints the statement instead of writing: give --db or --sql, not both"
                .to_string(),
        );
    }
    match command.as_str() {
        "create" => {
            let owner = get("owner").ok_or("apikey create needs --owner ID")?;
            check_id(&owner).map_err(|p| format!("--owner {p}"))?;
            let name = get("name").ok_or("apikey create needs --name NAME")?;
            if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
                return Err("--name must be 1 to 128 bytes without control characters".to_string());
            }
            let tier = get("tier");
            if let Some(tier) = &tier {
                check_name(tier).map_err(|p| format!("--tier {p}"))?;
            }
            let expires_secs = get("expires")
                .map(|e| parse_duration(&e).map_err(|p| format!("--expires: {p}")))
                .transpose()?;
            let roles: Vec<String> = get("roles")
                .map(|r| r.split(',').map(str::trim).map(str::to_string).collect())
                .unwrap_or_default();
            for role in &roles {
                check_name(role).map_err(|p| format!("--roles: a role {p}"))?;
            }
            let permissions = get("permissions");
            if let Some(p) = &permissions {
                parse_permissions(p).map_err(|p| format!("--permissions {p}"))?;
            }
            let prefix = get("prefix").unwrap_or_else(|| DEFAULT_PREFIX.to_string());
            if prefix.is_empty()
                || prefix.len() > 32
                || !prefix
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err("--prefix must be 1 to 32 letters, digits, _ or -".to_string());
            }
            Ok(ApiKeyCommand::Create(CreateArgs {
                db,
                owner,
                name,
                tier,
                expires_secs,
                roles,
                permissions,
                prefix,
                sql,
            }))
        }
        "list" => Ok(ApiKeyCommand::List {
            db: db.unwrap_or_default(),
        }),
        _ => {
            let target = match (get("id"), get("prefix")) {
                (Some(id), None) => RevokeTarget::Id(id),
                (None, Some(prefix)) => RevokeTarget::Prefix(prefix),
                _ => {
                    return Err(
                        "apikey revoke needs exactly one of --id ID and --prefix P".to_string()
                    );
                }
            };
            Ok(ApiKeyCommand::Revoke(RevokeArgs { db, target, sql }))
        }
    }
}

/// `--name VALUE`, `--name=VALUE`, or the bare flag `--sql`; each once.
fn options(args: &[String]) -> Result<Vec<(String, Option<String>)>, String> {
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let Some(option) = arg.strip_prefix("--") else {
            return Err(format!("unexpected argument {arg}"));
        };
        let (name, value) = match option.split_once('=') {
            Some((name, value)) => (name.to_string(), Some(value.to_string())),
            None if option == "sql" => (option.to_string(), None),
            None => {
                let value = rest
                    .next()
                    .ok_or_else(|| format!("--{option} needs a value"))?;
                (option.to_string(), Some(value.clone()))
            }
        };
        if out.iter().any(|(n, _)| *n == name) {
            return Err(format!("--{name} given twice"));
        }
        out.push((name, value));
    }
    Ok(out)
}

/// Runs a command with the real clock and randomness.
pub fn run(command: ApiKeyCommand) -> Output {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let result = match command {
        ApiKeyCommand::Create(args) => random_bytes()
            .and_then(|random| random_bytes().map(|id| (random, id)))
            .and_then(|(random, id)| create(&args, &random, &id, now_ms)),
        ApiKeyCommand::List { db } => list(&db),
        ApiKeyCommand::Revoke(args) => revoke(&args, now_ms),
    };
    result.unwrap_or_else(|message| Output {
        stderr: format!("error: {message}\n"),
        code: 1,
        ..Output::default()
    })
}

/// The new row's values, in `INSERT`'s order, and the key.
struct NewKey {
    key: String,
    values: Vec<Option<String>>,
}

fn new_key(
    args: &CreateArgs,
    random: &[u8; KEY_BYTES],
    id: &[u8; KEY_BYTES],
    now_ms: i64,
) -> NewKey {
    let secret = warden_core::base::digest::hex(random);
    let key = format!("{}{secret}", args.prefix);
    let shown: String = secret.chars().take(SHOWN_HEX).collect();
    let id: String = warden_core::base::digest::hex(id)
        .chars()
        .take(24)
        .collect();
    let roles =
        (!args.roles.is_empty()).then(|| serde_json::Value::from(args.roles.clone()).to_string());
    let expires = args.expires_secs.map(|s| {
        format_iso8601_ms(
            now_ms.saturating_add(
                i64::try_from(s)
                    .unwrap_or(i64::MAX / 2)
                    .saturating_mul(1000),
            ),
        )
    });
    NewKey {
        values: vec![
            Some(format!("key_{id}")),
            Some(warden_hash(&key)),
            Some(format!("{}{shown}", args.prefix)),
            Some(args.owner.clone()),
            Some(args.name.clone()),
            roles,
            args.permissions.clone(),
            args.tier.clone(),
            Some(format_iso8601_ms(now_ms)),
            expires,
        ],
        key,
    }
}

/// `create`: the key on stdout, once. With `--sql`, the statement on stdout
/// and the key on stderr (so that the SQL can go to a file or a pipe and the
/// key to the terminal, never into the database's logs).
pub fn create(
    args: &CreateArgs,
    random: &[u8; KEY_BYTES],
    id: &[u8; KEY_BYTES],
    now_ms: i64,
) -> Result<Output, String> {
    let new = new_key(args, random, id, now_ms);
    let about = format!(
        "created {} ({}) for {}; the key is shown once, only its hash is stored\n",
        new.values[0].as_deref().unwrap_or(""),
        new.values[2].as_deref().unwrap_or(""),
        args.owner
    );
    if args.sql {
        return Ok(Output {
            stdout: format!("{CREATE_TABLE}\n{};\n", inline(INSERT, &new.values)?),
            stderr: format!("key: {}\n{about}", new.key),
            code: 0,
        });
    }
    let db = open(args.db.as_deref().unwrap_or_default())?;
    db.execute_batch(CREATE_TABLE)
        .map_err(|e| format!("cannot create api_keys: {e}"))?;
    db.execute(INSERT, rusqlite::params_from_iter(new.values.iter()))
        .map_err(|e| format!("cannot insert the key: {e}"))?;
    Ok(Output {
        stdout: format!("{}\n", new.key),
        stderr: about,
        code: 0,
    })
}

/// `list`: one line per key, tab-separated, with a header; never a hash.
pub fn list(db: &str) -> Result<Output, String> {
    let db = open(db)?;
    let mut statement = db
        .prepare(LIST)
        .map_err(|e| format!("cannot read api_keys: {e}"))?;
    let rows = statement
        .query_map([], |row| {
            (0..7)
                .map(|i| row.get::<_, Option<String>>(i))
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(|e| format!("cannot read api_keys: {e}"))?;
    let mut out = String::from("id\tprefix\towner\tname\ttier\texpires\trevoked\n");
    for row in rows {
        let row = row.map_err(|e| format!("cannot read api_keys: {e}"))?;
        let cells: Vec<String> = row
            .into_iter()
            .map(|c| {
                c.unwrap_or_else(|| "-".to_string())
                    .replace(['\t', '\n', '\r'], " ")
            })
            .collect();
        let _ = writeln!(out, "{}", cells.join("\t"));
    }
    Ok(Output {
        stdout: out,
        ..Output::default()
    })
}

/// `revoke`: sets `revoked_at`; a prefix must name exactly one key.
pub fn revoke(args: &RevokeArgs, now_ms: i64) -> Result<Output, String> {
    let (statement, target) = match &args.target {
        RevokeTarget::Id(id) => (REVOKE_BY_ID, id),
        RevokeTarget::Prefix(prefix) => (REVOKE_BY_PREFIX, prefix),
    };
    let values = [Some(format_iso8601_ms(now_ms)), Some(target.clone())];
    if args.sql {
        return Ok(Output {
            stdout: format!("{};\n", inline(statement, &values)?),
            ..Output::default()
        });
    }
    let db = open(args.db.as_deref().unwrap_or_default())?;
    if let RevokeTarget::Prefix(prefix) = &args.target {
        let count: i64 = db
            .query_row(COUNT_BY_PREFIX, [prefix], |row| row.get(0))
            .map_err(|e| format!("cannot read api_keys: {e}"))?;
        if count > 1 {
            return Err(format!(
                "{count} keys have the prefix {prefix}; revoke by --id"
            ));
        }
    }
    let changed = db
        .execute(statement, rusqlite::params_from_iter(values.iter()))
        .map_err(|e| format!("cannot revoke: {e}"))?;
    if changed == 0 {
        return Err(format!("no key {target} that is not already revoked"));
    }
    Ok(Output {
        stdout: format!("revoked {target}\n"),
        ..Output::default()
    })
}

fn open(path: &str) -> Result<rusqlite::Connection, String> {
    rusqlite::Connection::open(path).map_err(|e| format!("cannot open {path}: {e}"))
}

/// `statement` with `?N` replaced by the N-th value as an SQL literal:
/// single-quoted with quotes doubled, or NULL. Values with control
/// characters or NUL are refused (they were checked before; this is the
/// last line).
fn inline(statement: &str, values: &[Option<String>]) -> Result<String, String> {
    let mut out = String::with_capacity(statement.len() + 256);
    let mut chars = statement.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '?' {
            out.push(c);
            continue;
        }
        let mut digits = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        let index: usize = digits
            .parse()
            .map_err(|_| "a bare ? in a statement".to_string())?;
        let value = values
            .get(index.wrapping_sub(1))
            .ok_or_else(|| format!("no value for ?{index}"))?;
        match value {
            None => out.push_str("NULL"),
            Some(v) if v.chars().any(char::is_control) => {
                return Err("a value has control characters".to_string());
            }
            Some(v) => {
                out.push('\'');
                out.push_str(&v.replace('\'', "''"));
                out.push('\'');
            }
        }
    }
    Ok(out)
}

/// `N` bytes from the operating system's random source.
fn random_bytes<const N: usize>() -> Result<[u8; N], String> {
    use std::io::Read as _;
    let mut bytes = [0u8; N];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use warden_core::layers::api_key::config::ApiKeyConfig;
    use warden_core::layers::api_key::extract::Presented;
    use warden_core::layers::api_key::record::{Cell, decide, record_from_warden_row};
    use warden_core::layers::api_key::refusal::Refusal;
    use warden_core::layers::api_key::sql::WARDEN_LOOKUP;

    /// 2026-11-27T22:34:11.281Z.
    const NOW: i64 = 1_795_818_851_281;

    fn args(list: &[&str]) -> Result<ApiKeyCommand, String> {
        parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    fn temp_db() -> PathBuf {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "warden-cli-apikey-{}-{}.db",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_file(&path);
        path
    }

    /// The row as the component's adapter would read it, decided on by the core.
    fn decide_stored(db: &str, key: &str, now: i64) -> Result<String, Refusal> {
        let presented = Presented::new(key).unwrap();
        let conn = rusqlite::Connection::open(db).unwrap();
        let row: Vec<Cell> = conn
            .query_row(WARDEN_LOOKUP, [presented.sha256_hex()], |row| {
                (0..12)
                    .map(|i| {
                        Ok(match row.get::<_, Option<String>>(i)? {
                            Some(text) => Cell::Text(text),
                            None => Cell::Null,
                        })
                    })
                    .collect()
            })
            .map_err(|_| Refusal::Unknown)?;
        let record = record_from_warden_row(&row).map_err(|_| Refusal::InvalidRecord)?;
        decide(&ApiKeyConfig::default(), &presented, &record, now as u64)
            .map(|g| g.identity.user_id)
    }

    #[test]
    fn parsing_and_usage_errors() {
        let Ok(ApiKeyCommand::Create(create)) = args(&[
            "create",
            "--db",
            "k.db",
            "--owner",
            "u1",
            "--name",
            "ci",
            "--tier=paid",
            "--expires",
            "90d",
            "--roles",
            "deployer, reader",
        ]) else {
            panic!("create");
        };
        assert_eq!(create.expires_secs, Some(90 * 86_400));
        assert_eq!(create.roles, ["deployer", "reader"]);
        assert_eq!(create.prefix, "wk_");
        for bad in [
            &["create", "--owner", "u1", "--name", "n"][..],
            &["create", "--db", "k.db", "--name", "n"],
            &[
                "create", "--db", "k.db", "--owner", "u1", "--name", "n", "--sql",
            ],
            &[
                "create",
                "--sql",
                "--owner",
                "u1",
                "--name",
                "n",
                "--expires",
                "soon",
            ],
            &[
                "create",
                "--sql",
                "--owner",
                "u1",
                "--name",
                "n",
                "--permissions",
                "[1]",
            ],
            &[
                "create", "--sql", "--owner", "u1", "--name", "n", "--roles", "a b",
            ],
            &[
                "create", "--sql", "--owner", "u1", "--name", "n", "--prefix", "w'k",
            ],
            &[
                "create", "--sql", "--owner", "u1", "--owner", "u2", "--name", "n",
            ],
            &["list"],
            &["list", "--db", "k.db", "--id", "x"],
            &["revoke", "--db", "k.db"],
            &["revoke", "--db", "k.db", "--id", "a", "--prefix", "b"],
            &["rotate", "--db", "k.db"],
            &[],
        ] {
            assert!(args(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn create_list_revoke_round_trip() {
        let db = temp_db();
        let db_arg = db.to_str().unwrap();
        let ApiKeyCommand::Create(create_args) = args(&[
            "create",
            "--db",
            db_arg,
            "--owner",
            "user-1",
            "--name",
            "ci",
            "--tier",
            "paid",
            "--expires",
            "90d",
            "--roles",
            "deployer",
        ])
        .unwrap() else {
            panic!("create");
        };
        let created = create(&create_args, &[7; KEY_BYTES], &[1; KEY_BYTES], NOW).unwrap();
        let key = created.stdout.trim_end();
        assert_eq!(key, format!("wk_{}", "07".repeat(32)));
        assert!(!created.stderr.contains(key));
        assert_eq!(decide_stored(db_arg, key, NOW), Ok("user-1".to_string()));
        // The file holds the hash, never the key.
        let bytes = std::fs::read(&db).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(key) && text.contains(&warden_hash(key)));
        // A second key, then the listing: prefixes, no hashes.
        let other = create(&create_args, &[9; KEY_BYTES], &[2; KEY_BYTES], NOW + 1).unwrap();
        let listed = list(db_arg).unwrap().stdout;
        assert_eq!(listed.lines().count(), 3, "{listed}");
        assert!(
            listed.contains("wk_07070707\tuser-1\tci\tpaid\t2027-02-25T22:34:11.281Z\t-"),
            "{listed}"
        );
        assert!(!listed.contains(&warden_hash(key)) && !listed.contains(key));
        // Revoke by prefix: refused from then on; the other key still works.
        let revoke_args = RevokeArgs {
            db: Some(db_arg.to_string()),
            target: RevokeTarget::Prefix("wk_07070707".into()),
            sql: false,
        };
        assert_eq!(
            revoke(&revoke_args, NOW + 5).unwrap().stdout,
            "revoked wk_07070707\n"
        );
        assert_eq!(decide_stored(db_arg, key, NOW + 6), Err(Refusal::Revoked));
        assert!(revoke(&revoke_args, NOW + 7).is_err(), "already revoked");
        let other_key = other.stdout.trim_end();
        assert_eq!(
            decide_stored(db_arg, other_key, NOW + 6),
            Ok("user-1".to_string())
        );
        // Expired after 90 days.
        assert_eq!(
            decide_stored(db_arg, other_key, NOW + 1 + 90 * 86_400_000 + 1),
            Err(Refusal::Expired)
        );
        assert!(
            list(db_arg)
                .unwrap()
                .stdout
                .contains("\t2026-11-27T22:34:11.286Z\n")
        );
        let _ = std::fs::remove_file(&db);
    }

    #[test]
    fn sql_output_runs_in_sqlite3_with_the_same_effect() {
        let Ok(output) = std::process::Command::new("sqlite3")
            .arg("--version")
            .output()
        else {
            eprintln!("skipped: no sqlite3 command");
            return;
        };
        assert!(output.status.success());
        let ApiKeyCommand::Create(mut create_args) = args(&[
            "create",
            "--sql",
            "--owner",
            "o'brien",
            "--name",
            "it's; DROP TABLE api_keys; --",
            "--permissions",
            r#"{"files":["read"]}"#,
            "--prefix",
            "prism_",
        ])
        .unwrap() else {
            panic!("create");
        };
        let printed = create(&create_args, &[3; KEY_BYTES], &[4; KEY_BYTES], NOW).unwrap();
        let key = printed
            .stderr
            .lines()
            .next()
            .unwrap()
            .strip_prefix("key: ")
            .unwrap()
            .to_string();
        assert!(
            !printed.stdout.contains(&key),
            "the key never goes into the SQL"
        );
        let remote = temp_db();
        let run = |sql: &str| {
            use std::io::Write as _;
            let mut child = std::process::Command::new("sqlite3")
                .arg(&remote)
                .stdin(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(sql.as_bytes())
                .unwrap();
            assert!(child.wait().unwrap().success());
        };
        run(&printed.stdout);
        let remote_arg = remote.to_str().unwrap();
        assert_eq!(
            decide_stored(remote_arg, &key, NOW),
            Ok("o'brien".to_string())
        );
        // The same key written directly gives the same row.
        let local = temp_db();
        create_args.sql = false;
        create_args.db = Some(local.to_str().unwrap().to_string());
        create(&create_args, &[3; KEY_BYTES], &[4; KEY_BYTES], NOW).unwrap();
        let dump = |db: &PathBuf| {
            let conn = rusqlite::Connection::open(db).unwrap();
            conn.query_row(r#"SELECT "id", "key_hash", "prefix", "owner", "name", "roles", "permissions", "tier", "created_at", "expires_at" FROM "api_keys""#, [], |row| {
                (0..10).map(|i| row.get::<_, Option<String>>(i)).collect::<Result<Vec<_>, _>>()
            })
            .unwrap()
        };
        assert_eq!(dump(&remote), dump(&local));
        // Revoke as SQL, run remotely: refused from then on.
        let revoke_args = RevokeArgs {
            db: None,
            target: RevokeTarget::Id(dump(&remote)[0].clone().unwrap()),
            sql: true,
        };
        run(&revoke(&revoke_args, NOW + 1).unwrap().stdout);
        assert_eq!(
            decide_stored(remote_arg, &key, NOW + 2),
            Err(Refusal::Revoked)
        );
        let _ = std::fs::remove_file(&remote);
        let _ = std::fs::remove_file(&local);
    }

    #[test]
    fn the_table_is_the_one_in_migrations_sql() {
        let migrations = include_str!("../../../migrations.sql");
        assert!(migrations.contains(CREATE_TABLE));
    }

    #[test]
    fn inlined_values_are_quoted() {
        assert_eq!(
            inline(
                "X ?1 ?2 ?10",
                &[
                    Some("a'b".into()),
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    Some("z".into())
                ]
            )
            .unwrap(),
            "X 'a''b' NULL 'z'"
        );
        assert!(inline("?1", &[Some("a\nb".into())]).is_err());
        assert!(inline("?2", &[None]).is_err());
    }
}
