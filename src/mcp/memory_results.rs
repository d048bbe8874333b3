//! Memory results: the typed results of the memory tools and their text, written for a model
//! (a line per listed key; a stored value quoted after `│`, since what it holds may have come
//! from peers).

use std::fmt::Write;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use super::budget::{ReadBudget, estimate_tokens};
use super::output::tool_output;
use super::text::{self, LEGEND};
use crate::storage::{MemoryEntry, MemoryRecord};
use crate::util::rfc3339;

pub(super) fn scope_name(session_id: Option<&str>) -> &'static str {
    if session_id.is_some() {
        "session"
    } else {
        "global"
    }
}

/// `get_memory`: one entry as listed, with its value and metadata.
#[derive(Serialize, JsonSchema)]
pub struct MemoryRead {
    #[serde(flatten)]
    pub entry: MemoryListed,
    /// Left out when it does not fit max_tokens (then `truncated` is true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    pub metadata: Map<String, Value>,
    /// The value was left out: it needs more than max_tokens.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

impl From<&MemoryRecord> for MemoryRead {
    fn from(r: &MemoryRecord) -> Self {
        Self {
            entry: MemoryListed::from(&r.entry()),
            value: Some(r.value.clone()),
            metadata: r.metadata.clone(),
            truncated: false,
        }
    }
}

/// A listed entry: everything but the value and metadata.
#[derive(Serialize, JsonSchema)]
pub struct MemoryListed {
    pub key: String,
    /// global or session.
    pub scope: &'static str,
    pub session_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub expires_at: Option<String>,
    /// The value's size in bytes (its JSON).
    pub value_size: i64,
}

impl From<&MemoryEntry> for MemoryListed {
    fn from(e: &MemoryEntry) -> Self {
        Self {
            key: e.key.clone(),
            scope: scope_name(e.session_id.as_deref()),
            session_id: e.session_id.clone(),
            created_at: rfc3339(e.created_at),
            updated_at: rfc3339(e.updated_at),
            expires_at: e.expires_at.map(rfc3339),
            value_size: e.value_size,
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct MemoryList {
    pub entries: Vec<MemoryListed>,
    pub count: usize,
    pub scope_filter: String,
    /// Pass as cursor for the next page; absent on the last.
    pub next_cursor: Option<String>,
    /// max_tokens ended the page early; next_cursor continues it.
    pub truncated: bool,
}

/// `set_memory`: the entry as listed, and when it was stored (its `updated_at`).
#[derive(Serialize, JsonSchema)]
pub struct MemoryStored {
    #[serde(flatten)]
    pub entry: MemoryListed,
    pub session_scoped: bool,
    pub stored_at: String,
}

impl From<&MemoryEntry> for MemoryStored {
    fn from(e: &MemoryEntry) -> Self {
        let entry = MemoryListed::from(e);
        Self {
            session_scoped: entry.session_id.is_some(),
            stored_at: entry.updated_at.clone(),
            entry,
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct MemoryDeleted {
    pub deleted: bool,
    pub key: String,
    pub scope: &'static str,
    pub session_id: Option<String>,
}

// set/get/list_memory declare the private-or-shared unions of `shared_memory_tools`.
tool_output!(MemoryDeleted);

/// The header of a stored value: its listed line (key, scope, size, dates), then its metadata.
fn value_header(r: &MemoryRecord) -> String {
    let mut text = String::new();
    entry_line(&mut text, &r.entry());
    text.pop(); // the line's end: the metadata goes on it
    if !r.metadata.is_empty() {
        let _ = write!(text, " {}", Value::Object(r.metadata.clone()));
    }
    text
}

/// After a value's header: the value quoted (`omitted: None`), or (over max_tokens) what to
/// call to read it.
pub(super) fn value_text(text: &mut String, value: &Value, by: &str, omitted: Option<usize>) {
    match omitted {
        Some(needed) => {
            let _ = write!(
                text,
                "\nvalue not shown (truncated at max_tokens): it needs about {needed} tokens; call \
get_memory again with max_tokens >= {needed}, or without it"
            );
        }
        None => {
            let _ = write!(text, "\n{LEGEND}\nvalue ({by}):\n");
            text::quote(text, &value.to_string());
        }
    }
}

/// `get_memory`'s text for a private entry (see [`value_text`]).
pub(super) fn memory_text(r: &MemoryRecord, stored_by: &str, omitted: Option<usize>) -> String {
    let mut text = value_header(r);
    value_text(
        &mut text,
        &r.value,
        &format!("stored by {stored_by}"),
        omitted,
    );
    text
}

/// One value is one entry: within `max_tokens` it is shown whole, over it left out whole, never
/// cut. `render(None)` is the text with the value, `render(Some(needed))` the text without.
/// Returns the text and whether the value was left out.
pub(super) fn value_within(
    budget: &ReadBudget,
    render: impl Fn(Option<usize>) -> String,
) -> (String, bool) {
    let text = render(None);
    let needed = estimate_tokens(&text);
    match budget.max_tokens {
        Some(max) if needed > max => (render(Some(needed)), true),
        _ => (text, false),
    }
}

/// A page of keys within `max_tokens`: whole lines only; when the budget ends it early, the
/// cursor continues after the last key shown, else it is the store's `next_cursor`.
pub(super) struct KeyPage<T> {
    pub kept: Vec<T>,
    pub text: String,
    pub next_cursor: Option<String>,
    pub truncated: bool,
}

pub(super) fn key_page<T>(
    budget: &ReadBudget,
    entries: Vec<T>,
    next_cursor: Option<String>,
    label: &str,
    cursor_of: impl Fn(&T) -> String,
    line: impl FnMut(&mut String, &T),
) -> KeyPage<T> {
    // The header ends with the cursor, which is the last key shown: room for the longest.
    let longest = entries.iter().map(|e| cursor_of(e).len()).max();
    let header = list_text(0, label, Some(&"x".repeat(longest.unwrap_or(0))), true, "");
    let (kept, lines, truncated) = budget.whole(entries, estimate_tokens(&header), line);
    let next_cursor = if truncated {
        kept.last().map(&cursor_of)
    } else {
        next_cursor
    };
    let text = list_text(kept.len(), label, next_cursor.as_deref(), truncated, &lines);
    KeyPage {
        kept,
        text,
        next_cursor,
        truncated,
    }
}

/// One listed key: `key · scope · size · updated [· expires]`.
pub(super) fn entry_line(out: &mut String, e: &MemoryEntry) {
    let _ = write!(
        out,
        "{} · {} · {} B · updated {}",
        e.key,
        e.session_id.as_deref().unwrap_or("global"),
        e.value_size,
        rfc3339(e.updated_at)
    );
    if let Some(at) = e.expires_at {
        let _ = write!(out, " · expires {}", rfc3339(at));
    }
    out.push('\n');
}

/// `list_memory`'s text: counts and the cursor, then a line per key.
pub(super) fn list_text(
    count: usize,
    scope_filter: &str,
    next_cursor: Option<&str>,
    truncated: bool,
    lines: &str,
) -> String {
    let mut text = format!("{count} keys ({scope_filter})");
    match (next_cursor, truncated) {
        (Some(c), true) => {
            let _ = write!(text, " · truncated at max_tokens: continue with cursor={c}");
        }
        (Some(c), false) => {
            let _ = write!(text, " · more: continue with cursor={c}");
        }
        (None, _) => text.push_str(" · last page"),
    }
    text.push('\n');
    text.push_str(lines);
    text
}
