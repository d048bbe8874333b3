//! The load generator's MCP client: streamable HTTP spoken directly (initialize, the initialized
//! notification, `tools/call`, DELETE) over one keep-alive connection per agent.
//!
//! The generator shares the machine with the server and the database, so every microsecond it
//! spends is one the server does not get. rmcp's client deserializes each result into a full
//! `CallToolResult` (the text block and a `Value` tree of structuredContent) and hands it through
//! a worker task; here one pass over the body reads only what a call's outcome needs, into a
//! caller-chosen type (a few fields in the measured loop, a `Value` during setup).

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, bail};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// The version the handshake asks for: the newest one that still has `initialize`, as rmcp's and
/// the official SDKs' clients send it.
const PROTOCOL_VERSION: &str = "2025-11-25";
const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";

/// A tool call's arguments.
pub type JsonObject = serde_json::Map<String, Value>;

/// Why a request got no result.
#[derive(Debug, Clone)]
pub enum WireError {
    /// The request could not be sent, or the answer not read.
    Transport(String),
    /// An HTTP status other than 200 (202 for notifications).
    Status(u16, String),
    /// A JSON-RPC error object.
    Rpc(i64, String),
    /// A body that is not the JSON-RPC answer to this request.
    Malformed(String),
}

impl WireError {
    /// A short, stable label for error tables (`jsonrpc_-32602`, `http_404`, ...).
    pub fn kind(&self) -> String {
        match self {
            WireError::Transport(_) => "transport".into(),
            WireError::Status(code, _) => format!("http_{code}"),
            WireError::Rpc(code, _) => format!("jsonrpc_{code}"),
            WireError::Malformed(_) => "unexpected_response".into(),
        }
    }
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::Transport(m) => write!(f, "transport: {m}"),
            WireError::Status(code, body) => write!(f, "HTTP {code}: {body}"),
            WireError::Rpc(code, m) => write!(f, "JSON-RPC error {code}: {m}"),
            WireError::Malformed(m) => write!(f, "unexpected response: {m}"),
        }
    }
}

impl std::error::Error for WireError {}

/// A `tools/call` result: `isError` and structuredContent read as `T`.
#[derive(Debug)]
pub struct ToolReply<T> {
    pub is_error: bool,
    pub structured: Option<T>,
}

#[derive(Deserialize)]
struct Envelope<R> {
    #[serde(default)]
    id: Option<u64>,
    result: Option<R>,
    error: Option<RpcError>,
}

#[derive(Deserialize)]
struct RpcError {
    code: i64,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct ToolResultWire<T> {
    #[serde(rename = "isError", default)]
    is_error: bool,
    #[serde(rename = "structuredContent")]
    structured: Option<T>,
}

#[derive(Deserialize)]
struct InitializeResult {
    #[serde(rename = "protocolVersion")]
    protocol_version: String,
}

/// One MCP session over streamable HTTP (or, against a `--stateless` server, none: every POST
/// stands alone and no session id is handed out).
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    url: String,
    headers: HeaderMap,
    next_id: AtomicU64,
}

impl Client {
    /// The handshake: `initialize`, then `notifications/initialized`; `X-API-Key` on every request.
    pub async fn connect(url: &str, api_key: Option<&str>) -> anyhow::Result<Self> {
        Self::connect_as(url, api_key, None).await
    }

    /// As `connect`, also sending `Authorization: Bearer <token>` (an agent token) when given.
    pub async fn connect_as(
        url: &str,
        api_key: Option<&str>,
        bearer: Option<&str>,
    ) -> anyhow::Result<Self> {
        let mut headers = HeaderMap::new();
        if let Some(token) = bearer {
            let value = HeaderValue::from_str(&format!("Bearer {token}"))
                .context("the token is not a valid header value")?;
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("application/json, text/event-stream"),
        );
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(key) = api_key {
            let value =
                HeaderValue::from_str(key).context("the API key is not a valid header value")?;
            headers.insert(HeaderName::from_static("x-api-key"), value);
        }
        // Keep-alive with a small idle pool, as the TypeScript and Python SDK clients (fetch,
        // httpx) do; TCP_NODELAY so small requests are not held back by Nagle.
        let http = reqwest::Client::builder()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(4)
            .build()
            .context("could not build the HTTP client")?;
        let mut client = Self {
            http,
            url: url.to_owned(),
            headers,
            next_id: AtomicU64::new(0),
        };
        let init = json!({
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "shared-context-server-bench", "version": env!("CARGO_PKG_VERSION")},
        });
        let (session, result): (_, InitializeResult) = client
            .exchange("initialize", init)
            .await
            .with_context(|| format!("MCP handshake with {url} failed (is the server up, and is API_KEY / --api-key its key?)"))?;
        if let Some(session) = session {
            client.headers.insert(SESSION_HEADER, session);
        }
        let version = HeaderValue::from_str(&result.protocol_version)
            .context("the server answered an unusable protocolVersion")?;
        client.headers.insert(VERSION_HEADER, version);
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let resp = client
            .post(&note)
            .await
            .context("notifications/initialized was not delivered")?;
        if resp.status().as_u16() != 202 {
            bail!("notifications/initialized answered HTTP {}", resp.status());
        }
        Ok(client)
    }

    /// `tools/call name(arguments)`.
    pub async fn call_tool<T: DeserializeOwned>(
        &self,
        name: &str,
        arguments: serde_json::Map<String, Value>,
    ) -> Result<ToolReply<T>, WireError> {
        let params = json!({"name": name, "arguments": Value::Object(arguments)});
        let (_, result): (_, ToolResultWire<T>) = self.exchange("tools/call", params).await?;
        Ok(ToolReply {
            is_error: result.is_error,
            structured: result.structured,
        })
    }

    /// The names of every tool the server lists, following `nextCursor` across pages.
    pub async fn list_tool_names(&self) -> Result<Vec<String>, WireError> {
        #[derive(Deserialize)]
        struct Page {
            tools: Vec<Named>,
            #[serde(rename = "nextCursor")]
            next_cursor: Option<String>,
        }
        #[derive(Deserialize)]
        struct Named {
            name: String,
        }
        let mut names = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let params = match &cursor {
                Some(c) => json!({"cursor": c}),
                None => json!({}),
            };
            let (_, page): (_, Page) = self.exchange("tools/list", params).await?;
            names.extend(page.tools.into_iter().map(|t| t.name));
            match page.next_cursor {
                Some(next) if !next.is_empty() => cursor = Some(next),
                _ => return Ok(names),
            }
        }
    }

    /// Ends the MCP session (DELETE); nothing to do against a stateless server.
    pub async fn cancel(self) {
        if self.headers.contains_key(SESSION_HEADER) {
            let _ = self
                .http
                .delete(&self.url)
                .headers(self.headers.clone())
                .send()
                .await;
        }
    }

    async fn post(&self, body: &Value) -> Result<reqwest::Response, WireError> {
        let body = serde_json::to_vec(body).map_err(|e| WireError::Malformed(e.to_string()))?;
        self.http
            .post(&self.url)
            .headers(self.headers.clone())
            .body(body)
            .send()
            .await
            .map_err(|e| WireError::Transport(e.to_string()))
    }

    /// One request and its answer: the session id the server handed out (if any) and `result`.
    async fn exchange<R: DeserializeOwned>(
        &self,
        method: &str,
        params: Value,
    ) -> Result<(Option<HeaderValue>, R), WireError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let request = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let resp = self.post(&request).await?;
        let status = resp.status().as_u16();
        let session = resp.headers().get(SESSION_HEADER).cloned();
        let sse = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        let body = resp
            .bytes()
            .await
            .map_err(|e| WireError::Transport(e.to_string()))?;
        if status != 200 {
            let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
            return Err(WireError::Status(status, text));
        }
        let answer = if sse {
            sse_answer(&body, id)?
        } else {
            parse_answer(&body, id)?.ok_or_else(|| {
                WireError::Malformed(format!("the JSON body does not answer request {id}"))
            })?
        };
        Ok((session, answer))
    }
}

/// The JSON-RPC answer to request `id` in a JSON body; `None` if the body is another message
/// (a notification or an answer to something else).
fn parse_answer<R: DeserializeOwned>(json: &[u8], id: u64) -> Result<Option<R>, WireError> {
    let envelope: Envelope<R> =
        serde_json::from_slice(json).map_err(|e| WireError::Malformed(e.to_string()))?;
    if envelope.id != Some(id) {
        return Ok(None);
    }
    match (envelope.result, envelope.error) {
        (_, Some(err)) => Err(WireError::Rpc(err.code, err.message)),
        (Some(result), None) => Ok(Some(result)),
        (None, None) => Err(WireError::Malformed(format!(
            "the answer to request {id} has neither result nor error"
        ))),
    }
}

/// The answer to request `id` among the events of an SSE body. Events carry one JSON-RPC message
/// each in their `data:` lines; the priming event's data is empty, and notifications the server
/// sends before its answer are skipped.
fn sse_answer<R: DeserializeOwned>(body: &[u8], id: u64) -> Result<R, WireError> {
    let text = std::str::from_utf8(body).map_err(|e| WireError::Malformed(e.to_string()))?;
    let mut data = String::new();
    // A trailing empty line ends the last event even if the server omitted it.
    for line in text.lines().chain(std::iter::once("")) {
        if line.is_empty() {
            if !data.is_empty() {
                if let Some(answer) = parse_answer(data.as_bytes(), id)? {
                    return Ok(answer);
                }
                data.clear();
            }
        } else if let Some(rest) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(rest.strip_prefix(' ').unwrap_or(rest));
        }
    }
    Err(WireError::Malformed(format!(
        "the event stream ended without the answer to request {id}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_bodies_yield_the_answer_after_priming_and_notifications() {
        let body = b"id: 0\nretry: 3000\ndata:\n\n\
            data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}\n\n\
            event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":3,\n\
            data: \"result\":{\"isError\":false,\"structuredContent\":{\"n\":1},\"content\":[]}}\n";
        let reply: ToolResultWire<Value> = sse_answer(body, 3).unwrap();
        assert!(!reply.is_error);
        assert_eq!(reply.structured, Some(json!({"n": 1})));
        let missing = sse_answer::<Value>(body, 4).unwrap_err();
        assert!(matches!(missing, WireError::Malformed(_)), "{missing}");
    }

    #[test]
    fn json_bodies_give_results_errors_and_refuse_strangers() {
        let ok = br#"{"jsonrpc":"2.0","id":1,"result":{"isError":true,"structuredContent":{"code":"X"}}}"#;
        let reply: ToolResultWire<Value> = parse_answer(ok, 1).unwrap().unwrap();
        assert!(reply.is_error);
        assert!(parse_answer::<Value>(ok, 2).unwrap().is_none());
        let err = br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"bad"}}"#;
        let got = parse_answer::<Value>(err, 1).unwrap_err();
        assert_eq!(got.kind(), "jsonrpc_-32602");
        assert!(matches!(
            parse_answer::<Value>(b"not json", 1),
            Err(WireError::Malformed(_))
        ));
    }
}
