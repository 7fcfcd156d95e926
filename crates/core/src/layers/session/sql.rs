//! The one SQLite statement of a session lookup.
//!
//! ```
//! use warden_core::layers::session::config::Schema;
//! use warden_core::layers::session::sql::lookup_sql;
//!
//! let sql = lookup_sql(&Schema::default());
//! assert!(sql.starts_with(r#"SELECT s."id", s."userId", s."expiresAt""#));
//! assert!(sql.ends_with(r#"FROM "session" AS s JOIN "user" AS u ON u."id" = s."userId" WHERE s."token" = ?1 LIMIT 1"#));
//! ```
//!
//! Table and column names come only from validated configuration (plain
//! identifiers, always double-quoted); the token is always the single
//! parameter `?1`. A column configured as absent is selected as `NULL`, so
//! the row always has the same shape, read by [`record_from_row`].

use super::config::Schema;
use super::record::{
    Ban, Cell, RecordError, SessionData, SessionRecord, UserData, cell_bool, cell_date, cell_id,
    cell_text, check_id,
};

/// Number of columns the statement returns.
pub const COLUMNS: usize = 17;

/// `SELECT … FROM session JOIN user … WHERE token = ?1 LIMIT 1`.
pub fn lookup_sql(schema: &Schema) -> String {
    let q = |alias: &str, column: &str| format!("{alias}.\"{column}\"");
    let opt = |alias: &str, column: &Option<String>| match column {
        Some(c) => q(alias, c),
        None => "NULL".to_string(),
    };
    let s = &schema.session;
    let u = &schema.user;
    let columns = [
        q("s", &s.id),
        q("s", &s.user_id),
        q("s", &s.expires_at),
        q("s", &s.created_at),
        q("s", &s.updated_at),
        opt("s", &s.ip_address),
        opt("s", &s.user_agent),
        q("u", &u.id),
        q("u", &u.email),
        q("u", &u.name),
        q("u", &u.email_verified),
        opt("u", &u.image),
        opt("u", &u.role),
        q("u", &u.created_at),
        q("u", &u.updated_at),
        opt("u", &u.banned),
        opt("u", &u.ban_expires),
    ];
    format!(
        "SELECT {} FROM \"{}\" AS s JOIN \"{}\" AS u ON u.\"{}\" = s.\"{}\" WHERE s.\"{}\" = ?1 LIMIT 1",
        columns.join(", "),
        schema.session_table,
        schema.user_table,
        u.id,
        s.user_id,
        s.token,
    )
}

/// Reads one row of [`lookup_sql`]. Errors name the column (by Better Auth
/// field name), never its value.
pub fn record_from_row(row: &[Cell]) -> Result<SessionRecord, RecordError> {
    if row.len() != COLUMNS {
        return Err(RecordError::new("row", "has the wrong number of columns"));
    }
    let id = |i: usize, name: &str| {
        let id = cell_id(&row[i]).ok_or_else(|| RecordError::new(name, "is not text"))?;
        check_id(&id).map_err(|p| RecordError::new(name, p))?;
        Ok::<_, RecordError>(id)
    };
    let text = |i: usize, name: &str| match cell_text(&row[i]) {
        Some(Some(t)) => Ok(t),
        Some(None) => Err(RecordError::new(name, "is missing")),
        None => Err(RecordError::new(name, "is not text")),
    };
    let optional_text = |i: usize, name: &str| {
        cell_text(&row[i]).ok_or_else(|| RecordError::new(name, "is not text"))
    };
    let optional_date = |i: usize, name: &str| {
        cell_date(&row[i]).ok_or_else(|| RecordError::new(name, "is not a date"))
    };
    let date = |i: usize, name: &str| {
        optional_date(i, name)?.ok_or_else(|| RecordError::new(name, "is missing"))
    };
    let boolean = |i: usize, name: &str| {
        cell_bool(&row[i]).ok_or_else(|| RecordError::new(name, "is not a boolean"))
    };
    SessionRecord {
        session: SessionData {
            id: id(0, "session.id")?,
            user_id: id(1, "session.userId")?,
            expires_at: date(2, "session.expiresAt")?,
            created_at: date(3, "session.createdAt")?,
            updated_at: date(4, "session.updatedAt")?,
            ip_address: optional_text(5, "session.ipAddress")?,
            user_agent: optional_text(6, "session.userAgent")?,
        },
        user: UserData {
            id: id(7, "user.id")?,
            email: text(8, "user.email")?,
            name: text(9, "user.name")?,
            email_verified: boolean(10, "user.emailVerified")?.unwrap_or(false),
            image: optional_text(11, "user.image")?,
            role: optional_text(12, "user.role")?,
            created_at: date(13, "user.createdAt")?,
            updated_at: date(14, "user.updatedAt")?,
        },
        ban: Ban {
            banned: boolean(15, "user.banned")?.unwrap_or(false),
            expires: optional_date(16, "user.banExpires")?,
        },
    }
    .consistent()
}
