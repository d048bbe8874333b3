//! Reading settings from the environment, and building a PostgreSQL URL from discrete settings.

use crate::util::url::percent_encode as url_encode;

pub(super) fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

pub(super) fn env_parse<T: std::str::FromStr>(name: &str) -> anyhow::Result<Option<T>> {
    match env(name) {
        None => Ok(None),
        Some(raw) => raw.trim().parse().map(Some).map_err(|_| {
            anyhow::anyhow!("{name}='{raw}' is not a valid number; unset it or give a whole number")
        }),
    }
}

pub(super) fn env_list(name: &str) -> Option<Vec<String>> {
    env(name).map(|v| {
        v.split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    })
}

/// A PostgreSQL URL from discrete settings (`POSTGRES_HOST`, …, `POSTGRES_SSL_*`), used when no
/// `DATABASE_URL` is given. `None` when `POSTGRES_HOST` is not set either.
pub(super) fn postgres_url_from_parts() -> anyhow::Result<Option<String>> {
    let Some(host) = env("POSTGRES_HOST") else {
        return Ok(None);
    };
    let port: u16 = env_parse("POSTGRES_PORT")?.unwrap_or(5432);
    let user = env("POSTGRES_USER").unwrap_or_else(|| "postgres".into());
    let db = env("POSTGRES_DB").unwrap_or_else(|| "shared_context".into());
    let auth = match env("POSTGRES_PASSWORD") {
        Some(pw) => format!("{}:{}", url_encode(&user), url_encode(&pw)),
        None => url_encode(&user),
    };
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    let mut params = Vec::new();
    for (var, key) in [
        ("POSTGRES_SSL_MODE", "sslmode"),
        ("POSTGRES_SSL_ROOT_CERT", "sslrootcert"),
        ("POSTGRES_SSL_CERT", "sslcert"),
        ("POSTGRES_SSL_KEY", "sslkey"),
    ] {
        if let Some(v) = env(var) {
            params.push(format!("{key}={}", url_encode(&v)));
        }
    }
    let query = if params.is_empty() {
        String::new()
    } else {
        format!("?{}", params.join("&"))
    };
    Ok(Some(format!(
        "postgres://{auth}@{host}:{port}/{}{query}",
        url_encode(&db)
    )))
}
