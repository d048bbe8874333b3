//! What the bench calls: the tools it knows, the mixed ratio, and each call's arguments.

use clap::ValueEnum;
use serde_json::{Value, json};

use crate::wire::JsonObject;

/// The tools the bench can drive (the ones agents call most in a working session).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ValueEnum)]
pub enum Tool {
    #[value(name = "add_message")]
    AddMessage,
    #[value(name = "get_messages")]
    GetMessages,
    #[value(name = "search_context")]
    SearchContext,
    #[value(name = "set_memory")]
    SetMemory,
    #[value(name = "get_memory")]
    GetMemory,
}

impl Tool {
    pub const ALL: [Tool; 5] = [
        Tool::AddMessage,
        Tool::GetMessages,
        Tool::SearchContext,
        Tool::SetMemory,
        Tool::GetMemory,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Tool::AddMessage => "add_message",
            Tool::GetMessages => "get_messages",
            Tool::SearchContext => "search_context",
            Tool::SetMemory => "set_memory",
            Tool::GetMemory => "get_memory",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// Relative weight in the mixed workload: agents read more than they write.
    pub fn mixed_weight(self) -> u32 {
        match self {
            Tool::GetMessages => 35,
            Tool::AddMessage => 25,
            Tool::SearchContext => 15,
            Tool::GetMemory => 15,
            Tool::SetMemory => 10,
        }
    }
}

/// `--workload`: the weighted mix, or one tool only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    Mixed,
    Single(Tool),
    /// Leases or tasks at N agents (`coordination.rs`).
    Coordination(crate::coordination::Kind),
}

impl std::fmt::Display for Workload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Workload::Mixed => f.write_str("mixed"),
            Workload::Single(t) => f.write_str(t.name()),
            Workload::Coordination(crate::coordination::Kind::Lease) => f.write_str("lease"),
            Workload::Coordination(crate::coordination::Kind::Task) => f.write_str("task"),
        }
    }
}

pub fn parse_workload(s: &str) -> Result<Workload, String> {
    match s {
        "mixed" => return Ok(Workload::Mixed),
        "lease" => return Ok(Workload::Coordination(crate::coordination::Kind::Lease)),
        "task" => return Ok(Workload::Coordination(crate::coordination::Kind::Task)),
        _ => {}
    }
    Tool::from_str(s, false).map(Workload::Single).map_err(|_| {
        let names: Vec<_> = Tool::ALL.iter().map(|t| t.name()).collect();
        format!(
            "expected `mixed`, `lease`, `task` or one of {}",
            names.join(", ")
        )
    })
}

/// How many memory keys each agent cycles through (set at setup so get_memory finds them).
pub const MEMORY_KEYS: u64 = 16;

const WORDS: [&str; 12] = [
    "orders",
    "billing",
    "migration",
    "timeout",
    "cache",
    "index",
    "retry",
    "deadlock",
    "schema",
    "latency",
    "parser",
    "webhook",
];

/// A small deterministic generator (xorshift64*): varied, reproducible calls without a crate.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    fn word(&mut self) -> &'static str {
        WORDS[self.below(WORDS.len() as u64) as usize]
    }
}

/// Picks the next tool by weight.
#[derive(Debug, Clone)]
pub struct Picker {
    tools: Vec<(Tool, u32)>,
    total: u32,
}

impl Picker {
    pub fn new(workload: Workload, tools: &[Tool]) -> Self {
        let tools: Vec<(Tool, u32)> = match workload {
            Workload::Single(t) => vec![(t, 1)],
            Workload::Coordination(_) => Vec::new(),
            Workload::Mixed => tools.iter().map(|&t| (t, t.mixed_weight())).collect(),
        };
        let total = tools.iter().map(|(_, w)| w).sum();
        Self { tools, total }
    }

    pub fn pick(&self, rng: &mut Rng) -> Tool {
        let mut r = rng.below(u64::from(self.total)) as u32;
        for &(tool, weight) in &self.tools {
            if r < weight {
                return tool;
            }
            r -= weight;
        }
        self.tools[0].0
    }

    /// The share of calls each tool gets, in percent.
    pub fn shares(&self) -> Vec<(Tool, f64)> {
        self.tools
            .iter()
            .map(|&(t, w)| (t, f64::from(w) * 100.0 / f64::from(self.total)))
            .collect()
    }
}

/// Per-agent state that shapes the next call's arguments.
#[derive(Debug, Clone)]
pub struct CallState {
    pub agent_id: String,
    pub token: String,
    pub session_id: String,
    pub rng: Rng,
    seq: u64,
    reads: u64,
    cursor: Option<i64>,
}

impl CallState {
    pub fn new(index: u32, agent_id: String, token: String, session_id: String) -> Self {
        Self {
            agent_id,
            token,
            session_id,
            rng: Rng::new(u64::from(index) + 1),
            seq: 0,
            reads: 0,
            cursor: None,
        }
    }

    /// A message like the findings agents post: 100-200 characters with searchable words;
    /// one in ten private, one in ten agent_only, the rest public.
    pub fn add_message(&mut self) -> JsonObject {
        self.seq += 1;
        let (a, b, c) = (self.rng.word(), self.rng.word(), self.rng.word());
        let content = format!(
            "{} note #{}: found a {a} problem in the {b} module; the {c} path looks related, \
             checking the tests next before changing anything.",
            self.agent_id, self.seq
        );
        let visibility = match self.seq % 10 {
            0 => "private",
            5 => "agent_only",
            _ => "public",
        };
        self.object(json!({
            "session_id": self.session_id,
            "content": content,
            "visibility": visibility,
            "metadata": {"kind": "finding", "seq": self.seq, "topic": a},
        }))
    }

    /// Alternates a 50-message page read with an `after_id` poll for what is new.
    pub fn get_messages(&mut self) -> JsonObject {
        self.reads += 1;
        let mut args = json!({"session_id": self.session_id, "limit": 50});
        if self.reads.is_multiple_of(2)
            && let Some(after) = self.cursor
        {
            args["after_id"] = json!(after);
        }
        self.object(args)
    }

    pub fn search_context(&mut self) -> JsonObject {
        let query = self.rng.word();
        self.object(json!({"session_id": self.session_id, "query": query, "limit": 10}))
    }

    pub fn set_memory(&mut self, key: u64) -> JsonObject {
        self.seq += 1;
        let topic = self.rng.word();
        self.object(json!({
            "key": memory_key(key),
            "value": {
                "agent": self.agent_id,
                "seq": self.seq,
                "topic": topic,
                "notes": format!("working on the {topic} issue; see the session for details"),
                "files": ["src/orders.rs", "src/billing/mod.rs"],
            },
            "overwrite": true,
        }))
    }

    pub fn get_memory(&mut self) -> JsonObject {
        let key = self.rng.below(MEMORY_KEYS);
        self.object(json!({"key": memory_key(key)}))
    }

    pub fn arguments(&mut self, tool: Tool) -> JsonObject {
        match tool {
            Tool::AddMessage => self.add_message(),
            Tool::GetMessages => self.get_messages(),
            Tool::SearchContext => self.search_context(),
            Tool::SetMemory => {
                let key = self.rng.below(MEMORY_KEYS);
                self.set_memory(key)
            }
            Tool::GetMemory => self.get_memory(),
        }
    }

    /// Learns from a successful result (the `after_id` cursor of get_messages).
    pub fn observe(&mut self, tool: Tool, next_after_id: Option<i64>) {
        if tool == Tool::GetMessages
            && let Some(next) = next_after_id
        {
            self.cursor = Some(next);
        }
    }

    fn object(&self, value: Value) -> JsonObject {
        let Value::Object(mut map) = value else {
            unreachable!("arguments are built as objects")
        };
        map.insert("auth_token".into(), Value::String(self.token.clone()));
        map
    }
}

fn memory_key(k: u64) -> String {
    format!("bench.note.{k}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_parses_mixed_and_tool_names() {
        assert_eq!(parse_workload("mixed"), Ok(Workload::Mixed));
        assert_eq!(
            parse_workload("get_messages"),
            Ok(Workload::Single(Tool::GetMessages))
        );
        assert!(parse_workload("get-messages").is_err());
        assert_eq!(
            parse_workload("lease"),
            Ok(Workload::Coordination(crate::coordination::Kind::Lease))
        );
    }

    #[test]
    fn picker_follows_the_weights() {
        let picker = Picker::new(Workload::Mixed, &[Tool::AddMessage, Tool::GetMessages]);
        let mut rng = Rng::new(7);
        let mut counts = [0u32; 5];
        for _ in 0..60_000 {
            counts[picker.pick(&mut rng).index()] += 1;
        }
        // 25 : 35 → about 25,000 : 35,000.
        assert!((23_500..26_500).contains(&counts[0]), "{counts:?}");
        assert!((33_500..36_500).contains(&counts[1]), "{counts:?}");
        assert_eq!(counts[2..].iter().sum::<u32>(), 0);
    }

    #[test]
    fn arguments_carry_the_token_and_the_cursor() {
        let mut st = CallState::new(0, "bench-0".into(), "sct_x".into(), "session_1".into());
        let first = st.get_messages();
        assert_eq!(first["auth_token"], "sct_x");
        assert!(first.get("after_id").is_none());
        st.observe(Tool::GetMessages, Some(42));
        let second = st.get_messages();
        assert_eq!(second["after_id"], 42);
        let msg = st.add_message();
        assert_eq!(msg["session_id"], "session_1");
        assert!(msg["content"].as_str().unwrap().len() > 100);
    }
}
