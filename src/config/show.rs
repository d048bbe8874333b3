//! `config show`: every setting's effective value and where it came from (flag, env, file,
//! default), secrets masked. Reads nothing but the sources; creates no key or data directory.

use super::Config;
use super::settings::{Fallback, SETTINGS, Shown};
use super::sources::{Source, Sources, default_config_file};
use crate::util::url::mask_url;

/// One line per setting: `key  value  source`.
pub fn render(src: &Sources, config: &Config) -> String {
    let mut rows: Vec<(String, String, String)> = Vec::with_capacity(SETTINGS.len());
    for s in SETTINGS {
        let (value, source) = match (src.effective(s.key), s.key) {
            (Some((value, source)), _) => (shown(s.shown, &value), source.to_string()),
            (None, "config") if src.file_path.is_some() => (
                src.file_path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                "default path".to_owned(),
            ),
            (None, "config") => (
                "none".to_owned(),
                match default_config_file() {
                    Some(p) => format!("default ({} does not exist)", p.display()),
                    None => "default (no HOME or XDG_CONFIG_HOME)".to_owned(),
                },
            ),
            (None, "data_dir") => (config.data_dir.display().to_string(), "default".to_owned()),
            (None, "database_url") => (mask_url(&config.database_url), derived_url(src)),
            (None, "api_key" | "admin_api_key") => {
                let path = config.data_dir.join(s.key);
                let state = if path.exists() {
                    "read from"
                } else {
                    "generated on first start into"
                };
                ("********".to_owned(), format!("{state} {}", path.display()))
            }
            (None, _) => {
                let text = match s.default {
                    Fallback::Derived(text) => text,
                    _ => "unset",
                };
                (text.to_owned(), Source::Default.to_string())
            }
        };
        rows.push((s.key.to_owned(), value, source));
    }
    let key_width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let value_width = rows
        .iter()
        .map(|r| r.1.chars().count())
        .max()
        .unwrap_or(0)
        .min(48);
    let mut out = String::new();
    for (key, value, source) in rows {
        out.push_str(&format!(
            "{key:<key_width$}  {value:<value_width$}  {source}\n"
        ));
    }
    out
}

fn shown(how: Shown, value: &str) -> String {
    match how {
        Shown::Plain => value.to_owned(),
        Shown::Secret => "********".to_owned(),
        Shown::Url => mask_url(value),
    }
}

fn derived_url(src: &Sources) -> String {
    match src.raw("postgres.host") {
        Some((_, source)) => format!("built from postgres.* ({source})"),
        None => "default".to_owned(),
    }
}
