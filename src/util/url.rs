//! Database URLs, read in one place: which backend a URL names, the SQLite file behind it, a
//! query parameter, percent-encoding a component, and the password masked for logs and errors.
//! Config, storage, transfer and start-up all ask here instead of parsing URLs themselves.

use std::path::PathBuf;

/// The URL forms every "unsupported URL" message suggests.
pub const SUPPORTED_FORMS: &str = "sqlite:/path/to/file.db or postgres://user:pass@host:5432/db";

/// The backend a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

impl DatabaseKind {
    /// `sqlite:…` is SQLite, `postgres://…` and `postgresql://…` PostgreSQL; anything else `None`.
    pub fn of(url: &str) -> Option<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else {
            None
        }
    }
}

/// The file of a `sqlite:` URL (`sqlite:/a.db`, `sqlite:///a.db`, `sqlite:a.db?mode=rwc`); `None`
/// for in-memory databases and for URLs of other backends.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && !path.contains(":memory:")).then(|| PathBuf::from(path))
}

/// The raw value of query parameter `key` (`sslmode` in `…/db?sslmode=require`), if present.
pub fn query_param<'a>(url: &'a str, key: &str) -> Option<&'a str> {
    let (_, query) = url.split_once('?')?;
    query.split('&').find_map(|kv| {
        kv.split_once('=')
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v)
    })
}

/// Percent-encodes a URL component (user, password, database, query value).
pub fn percent_encode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The URL with its password (in the authority or a `password=` parameter) replaced by `***`:
/// the only form of a database URL that may reach a log, an error or a page.
pub fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_once('/').map_or((rest, ""), |(a, t)| (a, t));
    let masked_authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_owned(),
    };
    let mut out = format!("{scheme}://{masked_authority}");
    if !tail.is_empty() || rest.contains('/') {
        out.push('/');
        out.push_str(&mask_query_password(tail));
    }
    out
}

fn mask_query_password(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_owned();
    };
    let params: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => kv.to_owned(),
        })
        .collect();
    format!("{path}?{}", params.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_passwords() {
        assert_eq!(
            mask_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(
            mask_url("postgres://u@h/db?password=x&sslmode=require"),
            "postgres://u@h/db?password=***&sslmode=require"
        );
        assert_eq!(mask_url("sqlite:/tmp/x.db"), "sqlite:/tmp/x.db");
        assert!(!mask_url("postgresql://a:p%40ss@h/d").contains("p%40ss"));
    }

    #[test]
    fn names_the_backend() {
        assert_eq!(
            DatabaseKind::of("sqlite::memory:"),
            Some(DatabaseKind::Sqlite)
        );
        assert_eq!(
            DatabaseKind::of("postgres://h/d"),
            Some(DatabaseKind::Postgres)
        );
        assert_eq!(
            DatabaseKind::of("postgresql://h/d"),
            Some(DatabaseKind::Postgres)
        );
        assert_eq!(DatabaseKind::of("mysql://h/d"), None);
        assert_eq!(DatabaseKind::of("/tmp/x.db"), None);
    }

    #[test]
    fn finds_the_sqlite_file() {
        assert_eq!(sqlite_file("sqlite:/tmp/x.db"), Some("/tmp/x.db".into()));
        assert_eq!(sqlite_file("sqlite:///tmp/x.db"), Some("/tmp/x.db".into()));
        assert_eq!(sqlite_file("sqlite:x.db?mode=rwc"), Some("x.db".into()));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("sqlite:"), None);
        assert_eq!(sqlite_file("postgres://h/x.db"), None);
    }

    #[test]
    fn reads_query_parameters_and_encodes_components() {
        let url = "postgres://u@h/db?sslmode=require&sslrootcert=%2Fca.pem";
        assert_eq!(query_param(url, "sslmode"), Some("require"));
        assert_eq!(query_param(url, "sslrootcert"), Some("%2Fca.pem"));
        assert_eq!(query_param(url, "mode"), None);
        assert_eq!(query_param("postgres://u@h/db", "sslmode"), None);
        assert_eq!(percent_encode("p@ss w/rd~"), "p%40ss%20w%2Frd~");
    }
}
