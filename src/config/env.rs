//! A PostgreSQL URL built from the discrete `postgres.*` settings (`POSTGRES_HOST`, …).

use super::Sources;
use crate::util::url::percent_encode as url_encode;

/// A PostgreSQL URL from discrete settings (`POSTGRES_HOST`, …, `POSTGRES_SSL_*`), used when no
/// `DATABASE_URL` is given. `None` when `POSTGRES_HOST` is not set either.
pub(super) fn postgres_url_from_parts(src: &Sources) -> anyhow::Result<Option<String>> {
    let Some(host) = src.text("postgres.host") else {
        return Ok(None);
    };
    let port: u16 = src.value("postgres.port")?;
    let user = src.value::<String>("postgres.user")?;
    let db = src.value::<String>("postgres.db")?;
    let auth = match src.text("postgres.password") {
        Some(pw) => format!("{}:{}", url_encode(&user), url_encode(&pw)),
        None => url_encode(&user),
    };
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    let mut params = Vec::new();
    for (setting, key) in [
        ("postgres.ssl_mode", "sslmode"),
        ("postgres.ssl_root_cert", "sslrootcert"),
        ("postgres.ssl_cert", "sslcert"),
        ("postgres.ssl_key", "sslkey"),
    ] {
        if let Some(v) = src.text(setting) {
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
