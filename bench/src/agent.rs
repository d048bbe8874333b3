//! One simulated agent: its own MCP session over streamable HTTP, its own token, its calls.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::stats::{Outcome, Recorder};
use super::wire::{JsonObject, WireError};
use super::workload::{CallState, MEMORY_KEYS, Picker, Tool};

pub use super::wire::Client;

/// What a result's structuredContent must tell the generator: on an `isError` result, the code
/// and the sentence our errors carry.
pub trait Structured: DeserializeOwned {
    fn failure(&self) -> (Option<String>, Option<String>);
}

impl Structured for Value {
    fn failure(&self) -> (Option<String>, Option<String>) {
        let text = |k: &str| self.get(k).and_then(Value::as_str).map(str::to_string);
        (text("code"), text("error"))
    }
}

/// The few fields the measured loop reads; every other field of a result is skipped unparsed.
#[derive(Debug, Default, Deserialize)]
pub struct Brief {
    pub next_after_id: Option<i64>,
    code: Option<Value>,
    error: Option<Value>,
}

impl Structured for Brief {
    fn failure(&self) -> (Option<String>, Option<String>) {
        let text = |v: &Option<Value>| v.as_ref().and_then(Value::as_str).map(str::to_string);
        (text(&self.code), text(&self.error))
    }
}

/// One `tools/call`, classified; `timeout` bounds the wait for the result.
pub async fn call<T: Structured>(
    client: &Client,
    tool: &str,
    args: JsonObject,
    timeout: Duration,
) -> (Outcome, Option<T>) {
    match tokio::time::timeout(timeout, client.call_tool::<T>(tool, args)).await {
        Err(_) => (
            Outcome::Transport {
                kind: "timeout".into(),
                message: format!("no result within {timeout:?}"),
            },
            None,
        ),
        Ok(Err(err)) => (transport(&err), None),
        Ok(Ok(reply)) if reply.is_error => {
            let (code, message) = reply
                .structured
                .as_ref()
                .map(Structured::failure)
                .unwrap_or_default();
            let outcome = Outcome::ToolError {
                code: code.unwrap_or_else(|| "unknown".into()),
                message: message.unwrap_or_default(),
            };
            (outcome, None)
        }
        Ok(Ok(reply)) => (Outcome::Ok, reply.structured),
    }
}

fn transport(err: &WireError) -> Outcome {
    Outcome::Transport {
        kind: err.kind(),
        message: err.to_string(),
    }
}

/// A call that must succeed (setup): the structured result, or an error naming the tool.
pub async fn call_ok(client: &Client, tool: &str, args: JsonObject) -> anyhow::Result<Value> {
    match call::<Value>(client, tool, args, Duration::from_secs(60)).await {
        (Outcome::Ok, body) => Ok(body.unwrap_or(Value::Null)),
        (Outcome::ToolError { code, message }, _) => bail!("{tool} failed: {code}: {message}"),
        (Outcome::Transport { kind, message }, _) => bail!("{tool} failed: {kind}: {message}"),
    }
}

pub fn object(v: Value) -> JsonObject {
    match v {
        Value::Object(map) => map,
        _ => JsonObject::new(),
    }
}

pub struct Agent {
    pub index: u32,
    pub client: Client,
    pub state: CallState,
}

impl Agent {
    pub fn id(index: u32) -> String {
        format!("bench-{index}")
    }

    /// Handshake plus authenticate_agent (agent_type claude: read and write).
    pub async fn join(url: String, api_key: Option<String>, index: u32) -> anyhow::Result<Self> {
        let client = Client::connect(&url, api_key.as_deref()).await?;
        let agent_id = Self::id(index);
        let args = object(json!({"agent_id": agent_id, "agent_type": "claude"}));
        let body = call_ok(&client, "authenticate_agent", args).await?;
        let token = body
            .get("token")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("authenticate_agent returned no token: {body}"))?
            .to_string();
        let state = CallState::new(index, agent_id, token, String::new());
        Ok(Self {
            index,
            client,
            state,
        })
    }

    pub async fn create_session(&self, purpose: &str) -> anyhow::Result<String> {
        let args = object(json!({
            "purpose": purpose,
            "metadata": {"bench": true},
            "auth_token": self.state.token,
        }));
        let body = call_ok(&self.client, "create_session", args).await?;
        body.get("session_id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| anyhow!("create_session returned no session_id: {body}"))
    }

    /// Setup writes that give the reads data: `messages` messages, and every memory key.
    pub async fn preload(&mut self, messages: u32, memory: bool) -> anyhow::Result<()> {
        for _ in 0..messages {
            let args = self.state.add_message();
            call_ok(&self.client, Tool::AddMessage.name(), args).await?;
        }
        if memory {
            for key in 0..MEMORY_KEYS {
                let args = self.state.set_memory(key);
                call_ok(&self.client, Tool::SetMemory.name(), args).await?;
            }
        }
        Ok(())
    }

    /// The closed loop: one call in flight until `end`; calls started before `measure_from`
    /// count as warm-up. A call gets `timeout`, but no more than [`LATE_GRACE`] past `end`;
    /// one that answers after `end` is not counted (`Recorder::late`), one that never answers
    /// is a timeout error.
    pub async fn run(
        &mut self,
        picker: &Picker,
        measure_from: Instant,
        end: Instant,
        timeout: Duration,
    ) -> Recorder {
        let mut rec = Recorder::default();
        loop {
            let started = Instant::now();
            if started >= end {
                break;
            }
            let tool = picker.pick(&mut self.state.rng);
            let args = self.state.arguments(tool);
            let limit = timeout.min(end + LATE_GRACE - started);
            let (outcome, body) = call::<Brief>(&self.client, tool.name(), args, limit).await;
            let done = Instant::now();
            let timed_out =
                matches!(&outcome, Outcome::Transport { kind, .. } if kind == "timeout");
            if done > end && !timed_out {
                rec.late += 1;
                break;
            }
            rec.record(tool, done - started, &outcome, started >= measure_from);
            match outcome {
                Outcome::Ok => self.state.observe(tool, body.and_then(|b| b.next_after_id)),
                // Don't spin on a dead connection; the error is already counted.
                Outcome::Transport { .. } => tokio::time::sleep(Duration::from_millis(10)).await,
                Outcome::ToolError { .. } => {}
            }
        }
        rec
    }
}

/// How long past the end of the run an unanswered call is waited for.
pub const LATE_GRACE: Duration = Duration::from_secs(5);

/// Runs `f` on every agent at once; returns them in index order, or the first error.
pub async fn for_each<F, Fut>(agents: Vec<Agent>, f: F) -> anyhow::Result<Vec<Agent>>
where
    F: Fn(Agent) -> Fut,
    Fut: Future<Output = anyhow::Result<Agent>> + Send + 'static,
{
    let mut set = JoinSet::new();
    for agent in agents {
        set.spawn(f(agent));
    }
    collect(set).await
}

/// Joins the tasks; agents come back sorted by index.
pub async fn collect(mut set: JoinSet<anyhow::Result<Agent>>) -> anyhow::Result<Vec<Agent>> {
    let mut out = Vec::with_capacity(set.len());
    let mut first_err = None;
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(Ok(agent)) => out.push(agent),
            Ok(Err(e)) => {
                first_err.get_or_insert(e);
            }
            Err(e) => {
                first_err.get_or_insert(anyhow!("agent task failed: {e}"));
            }
        }
    }
    if let Some(e) = first_err {
        shutdown(out).await;
        return Err(e);
    }
    out.sort_by_key(|a| a.index);
    Ok(out)
}

/// Ends every MCP session (DELETE), concurrently.
pub async fn shutdown(agents: Vec<Agent>) {
    let mut set = JoinSet::new();
    for agent in agents {
        set.spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(5), agent.client.cancel()).await;
        });
    }
    while set.join_next().await.is_some() {}
}
