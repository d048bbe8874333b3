//! Read budgets: `max_tokens` stops a long read at whole messages (the caller gets `truncated`
//! and the cursor to go on from), `include_body: false` gives headers only, `max_content_chars`
//! cuts each message's content (the text says how to read the rest). Nothing is dropped
//! silently: what is not shown is counted and reachable.
//!
//! Tokens are estimated as UTF-8 bytes / 3 of the rendered text plus 3 per line. o200k averages
//! about 4.5 bytes per token on English prose and 3.5 on code and JSON, so the estimate errs
//! towards stopping early; CJK text runs at about one token per 3 bytes, where it is close, and
//! message header lines at under 2, which the per-line term covers.

use super::text::Body;
use crate::domain::DomainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadBudget {
    pub max_tokens: Option<usize>,
    pub include_body: bool,
    pub max_content_chars: Option<usize>,
}

impl Default for ReadBudget {
    fn default() -> Self {
        Self {
            max_tokens: None,
            include_body: true,
            max_content_chars: None,
        }
    }
}

/// The smallest budget accepted: room for a result header and one message header.
pub const MIN_MAX_TOKENS: i64 = 50;

/// Bytes / 3, plus 3 per line: header lines ("#12 alice +5s") run at under 2 bytes per token.
pub fn estimate_tokens(text: &str) -> usize {
    text.len().div_ceil(3) + 3 * text.matches('\n').count()
}

impl ReadBudget {
    pub fn parse(
        max_tokens: Option<i64>,
        include_body: Option<bool>,
        max_content_chars: Option<i64>,
    ) -> Result<Self, DomainError> {
        let max_tokens = match max_tokens {
            None => None,
            Some(n) if n >= MIN_MAX_TOKENS => Some(n as usize),
            Some(n) => {
                return Err(DomainError::invalid(format!(
                    "max_tokens must be at least {MIN_MAX_TOKENS}; got {n}"
                ))
                .suggest("leave max_tokens out for no budget, or give 50 or more"));
            }
        };
        let max_content_chars = match max_content_chars {
            None => None,
            Some(n) if n >= 1 => Some(n as usize),
            Some(n) => {
                return Err(DomainError::invalid(format!(
                    "max_content_chars must be at least 1; got {n}"
                ))
                .suggest(
                    "leave it out for whole messages, or use include_body: false for headers only",
                ));
            }
        };
        Ok(Self {
            max_tokens,
            include_body: include_body.unwrap_or(true),
            max_content_chars,
        })
    }

    /// Keeps items in order while their rendering fits `max_tokens` (less `spent`), cutting
    /// contents as asked. `content` gives an item's content to cut; `render` appends an item's
    /// text. Returns the kept items with how their content was shown, their text, and whether
    /// anything was left out. The first item is always kept, its content cut to fit if need be,
    /// so a reader paging with the cursor always moves on.
    pub fn fit<T>(
        &self,
        items: Vec<T>,
        spent: usize,
        content: impl Fn(&mut T) -> &mut String,
        mut render: impl FnMut(&mut String, &T, Body),
    ) -> (Vec<(T, Body)>, String, bool) {
        let total = items.len();
        let mut kept = Vec::with_capacity(total);
        let mut text = String::new();
        let mut used = spent;
        for mut item in items {
            let chars = content(&mut item).chars().count();
            let mut body = if !self.include_body {
                content(&mut item).clear();
                Body::Omitted { total_chars: chars }
            } else {
                match self.max_content_chars {
                    Some(cap) if chars > cap => {
                        cut(content(&mut item), cap);
                        Body::Cut { total_chars: chars }
                    }
                    _ => Body::Whole,
                }
            };
            let mut piece = String::new();
            render(&mut piece, &item, body);
            let cost = estimate_tokens(&piece);
            if let Some(max) = self.max_tokens
                && used + cost > max
            {
                if !kept.is_empty() || !self.include_body {
                    break;
                }
                // The first message alone is over the budget: cut its content to what is left.
                let frame = cost.saturating_sub(estimate_tokens(content(&mut item)));
                let room_bytes = max.saturating_sub(used + frame + 12) * 3;
                cut_bytes(content(&mut item), room_bytes);
                body = Body::Cut { total_chars: chars };
                piece.clear();
                render(&mut piece, &item, body);
            }
            used += estimate_tokens(&piece);
            text.push_str(&piece);
            kept.push((item, body));
        }
        let truncated = kept.len() < total;
        (kept, text, truncated)
    }
}

impl ReadBudget {
    /// Keeps whole items in order while their text fits `max_tokens` (less `spent`); for items
    /// with nothing to cut (memory keys). The first is always kept, so paging always moves on.
    /// Returns the kept items, their text and whether any was left out.
    pub fn whole<T>(
        &self,
        items: Vec<T>,
        spent: usize,
        mut render: impl FnMut(&mut String, &T),
    ) -> (Vec<T>, String, bool) {
        let total = items.len();
        let mut kept = Vec::with_capacity(total);
        let mut text = String::new();
        let mut used = spent;
        for item in items {
            let mut piece = String::new();
            render(&mut piece, &item);
            let cost = estimate_tokens(&piece);
            if self.max_tokens.is_some_and(|max| used + cost > max) && !kept.is_empty() {
                break;
            }
            used += cost;
            text.push_str(&piece);
            kept.push(item);
        }
        let truncated = kept.len() < total;
        (kept, text, truncated)
    }
}

/// Messages shown under a budget: their results, their text and where they stop.
pub struct ShownMessages {
    pub messages: Vec<super::render::Message>,
    pub text: String,
    pub truncated: bool,
    pub count: usize,
    /// The last id shown: the cursor to continue after.
    pub last_id: Option<i64>,
}

/// Renders `records` (after a result header of about `spent` tokens) under `budget`.
pub fn messages(
    budget: &ReadBudget,
    records: Vec<crate::storage::MessageRecord>,
    spent: usize,
    writer: &mut super::text::MessageWriter,
) -> ShownMessages {
    let (kept, text, truncated) = budget.fit(
        records,
        spent,
        |m| &mut m.content,
        |out, m, body| writer.message(out, m, body, ""),
    );
    ShownMessages {
        count: kept.len(),
        last_id: kept.last().map(|(m, _)| m.id),
        messages: super::render::shown_messages(kept),
        text,
        truncated,
    }
}

/// Cuts `s` to at most `max` bytes, at a character boundary.
fn cut_bytes(s: &mut String, max: usize) {
    if s.len() > max {
        let at = (0..=max)
            .rev()
            .find(|i| s.is_char_boundary(*i))
            .unwrap_or(0);
        s.truncate(at);
    }
}

/// Cuts `s` to at most `max` characters (and never inside a character).
fn cut(s: &mut String, max: usize) {
    if let Some((at, _)) = s.char_indices().nth(max) {
        s.truncate(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::ptr_arg)] // `fit` hands the item type over, here a String.
    fn render(out: &mut String, item: &String, _: Body) {
        out.push_str(item);
        out.push('\n');
    }

    #[test]
    fn stops_at_whole_items_and_says_so() {
        let budget = ReadBudget::parse(Some(50), None, None).unwrap();
        let items: Vec<String> = (0..10).map(|i| format!("{i}").repeat(60)).collect();
        let (kept, text, truncated) = budget.fit(items, 0, |s| s, render);
        assert_eq!(kept.len(), 2, "61 bytes and a line ≈ 24 tokens each");
        assert!(truncated && estimate_tokens(&text) <= 50);
    }

    #[test]
    fn a_first_item_over_budget_is_cut_not_dropped() {
        let budget = ReadBudget::parse(Some(50), None, None).unwrap();
        let (kept, text, truncated) = budget.fit(vec!["é".repeat(1000)], 0, |s| s, render);
        assert_eq!(kept[0].1, Body::Cut { total_chars: 1000 });
        assert!(!truncated && estimate_tokens(&text) <= 50, "{}", text.len());
    }

    #[test]
    fn whole_items_stop_within_the_budget_but_never_before_the_first() {
        let budget = ReadBudget::parse(Some(50), None, None).unwrap();
        let items: Vec<String> = (0..10).map(|i| format!("{i}").repeat(60)).collect();
        let (kept, text, truncated) = budget.whole(items, 0, |out, s| render(out, s, Body::Whole));
        assert_eq!(kept.len(), 2);
        assert!(truncated && estimate_tokens(&text) <= 50);
        let (kept, _, truncated) = budget.whole(vec!["x".repeat(600)], 0, |out, s| {
            render(out, s, Body::Whole)
        });
        assert_eq!((kept.len(), truncated), (1, false));
    }

    #[test]
    fn caps_and_headers_only() {
        let capped = ReadBudget::parse(None, None, Some(3)).unwrap();
        let (kept, _, _) = capped.fit(vec!["abcdef".to_owned()], 0, |s| s, render);
        assert_eq!(kept[0], ("abc".to_owned(), Body::Cut { total_chars: 6 }));
        let headers = ReadBudget::parse(None, Some(false), None).unwrap();
        let (kept, _, _) = headers.fit(vec!["abcdef".to_owned()], 0, |s| s, render);
        assert_eq!(kept[0], (String::new(), Body::Omitted { total_chars: 6 }));
        assert!(ReadBudget::parse(Some(10), None, None).is_err());
        assert!(ReadBudget::parse(None, None, Some(0)).is_err());
    }
}
