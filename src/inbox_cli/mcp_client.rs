//! The inbox command's MCP client: streamable HTTP spoken directly over one HTTP/1.1 connection
//! per request (hyper's client connection, already linked through axum), so the server binary
//! carries no HTTP client library. It does what the command needs and no more: the handshake,
//! `tools/call`, and ending the session. Plain `http://` only: the command talks to a local
//! server or one behind a proxy on the same host.

use anyhow::{Context, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST, HeaderName, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};

/// The version the handshake asks for, as the official SDKs' clients send it.
const PROTOCOL_VERSION: &str = "2025-11-25";
const SESSION_HEADER: HeaderName = HeaderName::from_static("mcp-session-id");
const VERSION_HEADER: HeaderName = HeaderName::from_static("mcp-protocol-version");

/// One MCP session (none against a stateless server).
pub struct Client {
    uri: Uri,
    authority: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    next_id: u64,
}

/// A `tools/call` answer: `isError` and `structuredContent`.
pub struct ToolReply {
    pub is_error: bool,
    pub structured: Value,
}

struct Answer {
    status: u16,
    session: Option<HeaderValue>,
    body: Vec<u8>,
    event_stream: bool,
}

impl Client {
    /// The handshake: `initialize`, then `notifications/initialized`; the token as a bearer and
    /// the API key as `X-API-Key` on every request.
    pub async fn connect(url: &str, api_key: Option<&str>, token: &str) -> anyhow::Result<Self> {
        let uri: Uri = url
            .parse()
            .with_context(|| format!("--url {url:?} is not a URL"))?;
        if uri.scheme_str() != Some("http") {
            bail!("--url must be an http:// URL (the inbox command does not speak TLS): {url}");
        }
        let authority = uri
            .authority()
            .with_context(|| format!("--url {url:?} names no host"))?
            .to_string();
        let mut headers = vec![(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}"))
                .context("the token is not a valid header value")?,
        )];
        if let Some(key) = api_key {
            let value =
                HeaderValue::from_str(key).context("the API key is not a valid header value")?;
            headers.push((HeaderName::from_static("x-api-key"), value));
        }
        let mut client = Self {
            uri,
            authority,
            headers,
            next_id: 0,
        };
        let init = json!({
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "shared-context-server-inbox", "version": env!("CARGO_PKG_VERSION")},
        });
        let (session, result) = client
            .exchange("initialize", init)
            .await
            .with_context(|| format!("MCP handshake with {url} failed (is the server up, and are the token and API key right?)"))?;
        if let Some(session) = session {
            client.headers.push((SESSION_HEADER, session));
        }
        let version = result["protocolVersion"]
            .as_str()
            .unwrap_or(PROTOCOL_VERSION);
        let version = HeaderValue::from_str(version)
            .context("the server answered an unusable protocolVersion")?;
        client.headers.push((VERSION_HEADER, version));
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let answer = client.send(Method::POST, Some(&note)).await?;
        if answer.status != 202 {
            bail!("notifications/initialized answered HTTP {}", answer.status);
        }
        Ok(client)
    }

    /// `tools/call name(arguments)`.
    pub async fn call_tool(
        &mut self,
        name: &str,
        arguments: Map<String, Value>,
    ) -> anyhow::Result<ToolReply> {
        let params = json!({"name": name, "arguments": Value::Object(arguments)});
        let (_, mut result) = self.exchange("tools/call", params).await?;
        Ok(ToolReply {
            is_error: result["isError"].as_bool().unwrap_or(false),
            structured: result["structuredContent"].take(),
        })
    }

    /// Ends the MCP session (DELETE); nothing to do against a stateless server.
    pub async fn close(self) {
        if self.headers.iter().any(|(name, _)| name == SESSION_HEADER) {
            let _ = self.send(Method::DELETE, None).await;
        }
    }

    /// One request and its answer: the session id the server handed out (if any) and `result`.
    async fn exchange(
        &mut self,
        method: &str,
        params: Value,
    ) -> anyhow::Result<(Option<HeaderValue>, Value)> {
        let id = self.next_id;
        self.next_id += 1;
        let request = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let answer = self.send(Method::POST, Some(&request)).await?;
        if answer.status != 200 {
            let end = answer.body.len().min(300);
            bail!(
                "{method}: HTTP {}: {}",
                answer.status,
                String::from_utf8_lossy(&answer.body[..end])
            );
        }
        let message = if answer.event_stream {
            event_with_id(&answer.body, id)?
        } else {
            serde_json::from_slice(&answer.body).context("the answer is not JSON")?
        };
        if message["id"] != json!(id) {
            bail!("{method}: the answer is not the one to request {id}");
        }
        if let Some(error) = message.get("error") {
            bail!(
                "{method}: JSON-RPC error {}: {}",
                error["code"],
                error["message"].as_str().unwrap_or("")
            );
        }
        let result = message
            .get("result")
            .cloned()
            .with_context(|| format!("{method}: the answer has neither result nor error"))?;
        Ok((answer.session, result))
    }

    async fn send(&self, method: Method, body: Option<&Value>) -> anyhow::Result<Answer> {
        let address = &self.authority;
        let stream = tokio::net::TcpStream::connect(address)
            .await
            .with_context(|| {
                format!("cannot connect to {address}; is the server running there?")
            })?;
        let _ = stream.set_nodelay(true);
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .with_context(|| format!("HTTP with {address} failed"))?;
        tokio::spawn(connection);
        let path = self.uri.path_and_query().map_or("/", |p| p.as_str());
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, address.as_str())
            .header(ACCEPT, "application/json, text/event-stream")
            .header(CONTENT_TYPE, "application/json");
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let body = body
            .map(serde_json::to_vec)
            .transpose()?
            .unwrap_or_default();
        let request = request.body(Full::new(Bytes::from(body)))?;
        let response = sender
            .send_request(request)
            .await
            .with_context(|| format!("the request to {address} failed"))?;
        let status = response.status().as_u16();
        let session = response.headers().get(&SESSION_HEADER).cloned();
        let event_stream = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        let body = response
            .into_body()
            .collect()
            .await
            .with_context(|| format!("reading the answer from {address} failed"))?
            .to_bytes()
            .to_vec();
        Ok(Answer {
            status,
            session,
            body,
            event_stream,
        })
    }
}

/// The JSON-RPC message with `id` among the events of an SSE body. Each event carries one
/// message in its `data:` lines; the priming event's data is empty, and notifications sent before
/// the answer are skipped.
fn event_with_id(body: &[u8], id: u64) -> anyhow::Result<Value> {
    let text = std::str::from_utf8(body).context("the event stream is not UTF-8")?;
    let mut data = String::new();
    // A trailing empty line ends the last event even if the server omitted it.
    for line in text.lines().chain(std::iter::once("")) {
        if let Some(rest) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(rest.strip_prefix(' ').unwrap_or(rest));
        } else if line.is_empty() && !data.is_empty() {
            let message: Value = serde_json::from_str(&data).context("an event is not JSON")?;
            if message["id"] == json!(id) {
                return Ok(message);
            }
            data.clear();
        }
    }
    bail!("the event stream ended without the answer to request {id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_is_found_after_priming_and_notifications() {
        let body = b"id: 0\nretry: 3000\ndata:\n\n\
            data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}\n\n\
            event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":3,\n\
            data: \"result\":{\"isError\":false,\"structuredContent\":{\"n\":1}}}\n";
        let message = event_with_id(body, 3).unwrap();
        assert_eq!(message["result"]["structuredContent"], json!({"n": 1}));
        let missing = event_with_id(body, 4).unwrap_err().to_string();
        assert!(missing.contains("request 4"), "{missing}");
    }
}
