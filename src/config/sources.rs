//! Where each setting's value comes from: a flag, an environment variable (`SCS_` name first,
//! then the legacy names), the config file, or the table's default. The source is kept, so
//! `config show` can say it and errors can name what to change.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, bail};

use super::settings::{Fallback, SETTINGS, Setting, setting};

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Flag(&'static str),
    Env(String),
    File(PathBuf),
    Default,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Flag(flag) => write!(f, "flag {flag}"),
            Self::Env(name) => write!(f, "env {name}"),
            Self::File(path) => write!(f, "file {}", path.display()),
            Self::Default => f.write_str("default"),
        }
    }
}

/// Settings given on the command line, by config-file key (`Cli` fills it). Plain data, so the
/// configuration does not depend on how the command line is parsed.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    flags: BTreeMap<&'static str, String>,
}

impl Overrides {
    /// Sets a flag's value; `key` is the setting's config-file key, e.g. `database_url`.
    pub fn with(mut self, key: &'static str, value: impl ToString) -> Self {
        let s = setting(key);
        debug_assert!(s.flag.is_some(), "setting `{key}` has no flag");
        self.flags.insert(s.key, value.to_string());
        self
    }

    /// Sets the flag when the value is given.
    pub fn with_opt(self, key: &'static str, value: Option<impl ToString>) -> Self {
        match value {
            Some(v) => self.with(key, v),
            None => self,
        }
    }
}

/// `$XDG_CONFIG_HOME/shared-context-server/config.toml`, else `~/.config/…`.
pub fn default_config_file() -> Option<PathBuf> {
    let base = nonempty_env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| nonempty_env("HOME").map(|h| Path::new(&h).join(".config")))?;
    Some(base.join("shared-context-server").join("config.toml"))
}

fn nonempty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The flags, the environment and the config file, resolved per setting.
#[derive(Debug, Default)]
pub struct Sources {
    flags: BTreeMap<&'static str, String>,
    file: BTreeMap<String, String>,
    /// The config file read, if any.
    pub file_path: Option<PathBuf>,
    /// The file's `[permissions]` table (agent type → permissions).
    pub permissions: BTreeMap<String, Vec<String>>,
}

impl Sources {
    /// Flags and environment only, for commands that read no config file (`healthcheck`, the
    /// clients of a running server).
    pub fn without_file(given: &Overrides) -> Self {
        Self {
            flags: given.flags.clone(),
            ..Self::default()
        }
    }

    /// Reads the config file (the one given, else the default path when it exists).
    pub fn collect(given: &Overrides) -> anyhow::Result<Self> {
        let mut sources = Self {
            flags: given.flags.clone(),
            ..Self::default()
        };
        let (path, explicit) = match sources.raw("config") {
            Some((path, _)) => (Some(PathBuf::from(path)), true),
            None => (default_config_file().filter(|p| p.exists()), false),
        };
        if let Some(path) = path {
            let text = std::fs::read_to_string(&path).with_context(|| {
                let hint = if explicit {
                    "check --config / SCS_CONFIG"
                } else {
                    "it is the default config file; fix its permissions or remove it"
                };
                format!("cannot read config file {} ({hint})", path.display())
            })?;
            sources.read_file(&text, &path)?;
            sources.file_path = Some(path);
        }
        Ok(sources)
    }

    fn read_file(&mut self, text: &str, path: &Path) -> anyhow::Result<()> {
        let table: toml::Table = toml::from_str(text)
            .with_context(|| format!("config file {} is not valid TOML", path.display()))?;
        let at = || format!("config file {}", path.display());
        for (key, value) in table {
            match (key.as_str(), value) {
                ("permissions", value) => {
                    self.permissions = value
                        .try_into()
                        .with_context(|| format!("{}: [permissions] must map agent types to lists, e.g. reviewer = [\"read\", \"write\"]", at()))?;
                }
                (section @ ("postgres" | "sqlite"), toml::Value::Table(inner)) => {
                    for (k, v) in inner {
                        self.file_value(format!("{section}.{k}"), v, path)?;
                    }
                }
                (_, value) => self.file_value(key, value, path)?,
            }
        }
        Ok(())
    }

    fn file_value(&mut self, key: String, value: toml::Value, path: &Path) -> anyhow::Result<()> {
        if !SETTINGS.iter().any(|s| s.in_file && s.key == key) {
            let near: Vec<&str> = SETTINGS
                .iter()
                .filter(|s| s.in_file && (shares_a_word(s.key, &key) || edits(s.key, &key) <= 2))
                .map(|s| s.key)
                .collect();
            bail!(
                "config file {}: unknown key `{key}`{}; `shared-context-server --help` lists every key",
                path.display(),
                if near.is_empty() {
                    String::new()
                } else {
                    format!(" (did you mean {}?)", near.join(", "))
                }
            );
        }
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Array(items) => items
                .into_iter()
                .map(|v| match v {
                    toml::Value::String(s) => s,
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(","),
            toml::Value::Table(_) => bail!(
                "config file {}: `{key}` must be a value, not a table",
                path.display()
            ),
            other => other.to_string(),
        };
        self.file.insert(key, text);
        Ok(())
    }

    /// The given value of a setting and where it came from; `None` when only the default applies.
    pub fn raw(&self, key: &str) -> Option<(String, Source)> {
        let s = setting(key);
        if let Some(v) = self.flags.get(s.key) {
            return Some((v.clone(), Source::Flag(s.flag.unwrap_or("--?"))));
        }
        for name in s.env_names() {
            if let Some(v) = nonempty_env(&name) {
                return Some((v, Source::Env(name)));
            }
        }
        let path = self.file_path.clone().unwrap_or_default();
        self.file
            .get(s.key)
            .map(|v| (v.clone(), Source::File(path)))
    }

    /// The value and its source, the table's default included.
    pub fn effective(&self, key: &str) -> Option<(String, Source)> {
        self.raw(key).or_else(|| match setting(key).default {
            Fallback::Value(v) => Some((v.to_owned(), Source::Default)),
            Fallback::None | Fallback::Derived(_) => None,
        })
    }

    /// The string value, default included.
    pub fn text(&self, key: &str) -> Option<String> {
        self.effective(key).map(|(v, _)| v)
    }

    /// The parsed value, the table's default included; `None` when unset without a default.
    pub fn get<T: FromStr>(&self, key: &str) -> anyhow::Result<Option<T>> {
        match self.effective(key) {
            None => Ok(None),
            Some((raw, source)) => raw
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| invalid(setting(key), &raw, &source, expected::<T>())),
        }
    }

    /// The parsed value of a setting that has a default.
    pub fn value<T: FromStr>(&self, key: &str) -> anyhow::Result<T> {
        self.get(key)?
            .ok_or_else(|| anyhow::anyhow!("setting `{key}` has no default"))
    }

    /// A boolean: 1/true/yes/on or 0/false/no/off, any case.
    pub fn flag(&self, key: &str) -> anyhow::Result<bool> {
        let Some((raw, source)) = self.effective(key) else {
            return Ok(false);
        };
        match raw.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(invalid(
                setting(key),
                &raw,
                &source,
                "1, true, yes, on or 0, false, no, off",
            )),
        }
    }

    /// One of a fixed set of words, any case; the default when unset.
    pub fn one_of(&self, key: &str, choices: &[&'static str]) -> anyhow::Result<&'static str> {
        let (raw, source) = self
            .effective(key)
            .ok_or_else(|| anyhow::anyhow!("setting `{key}` has no default"))?;
        let wanted = raw.trim().to_ascii_lowercase();
        choices
            .iter()
            .find(|c| **c == wanted)
            .copied()
            .ok_or_else(|| invalid(setting(key), &raw, &source, &choices.join(" or ")))
    }

    /// A comma list (a TOML array in the file).
    pub fn list(&self, key: &str) -> Option<Vec<String>> {
        self.text(key).map(|v| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
    }
}

fn expected<T>() -> &'static str {
    let name = std::any::type_name::<T>();
    if ["u8", "u16", "u32", "u64", "usize"]
        .iter()
        .any(|n| name.ends_with(n))
    {
        "a whole number"
    } else {
        "a valid value"
    }
}

/// What was wrong and what to change: the name the value came in under, and the fix.
pub(super) fn invalid(s: &Setting, raw: &str, source: &Source, expected: &str) -> anyhow::Error {
    let name = match source {
        Source::Env(name) => name.clone(),
        Source::Flag(flag) => (*flag).to_owned(),
        Source::File(_) | Source::Default => s.key.to_owned(),
    };
    anyhow::anyhow!("{name}='{raw}' ({source}) is not valid: expected {expected}; fix or unset it")
}

fn shares_a_word(known: &str, unknown: &str) -> bool {
    let words = |k: &str| {
        k.split(['_', '.'])
            .filter(|w| w.len() > 3)
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let unknown = words(unknown);
    words(known).iter().any(|w| unknown.contains(w))
}

/// Levenshtein distance, for "did you mean".
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (prev + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}
