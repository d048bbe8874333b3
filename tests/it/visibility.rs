//! The visibility matrix over real clients: 4 visibilities and direct messages × 5 readers ×
//! every read path of the core tools, on both transports and both backends. The direct message
//! goes from alice to carol (another agent_type), so bob, alice's own type, must not read it.

use serde_json::{Value, json};

use crate::support::*;

const VISIBILITIES: [&str; 5] = ["public", "private", "agent_only", "admin_only", "direct"];
const READERS: [&str; 5] = ["sender", "same_type", "other_type", "admin", "anonymous"];

/// Who may read what, written out independently of the server's code.
fn expected(visibility: &str, reader: &str) -> bool {
    match (visibility, reader) {
        ("public", _) => true,
        ("private", r) => matches!(r, "sender" | "admin"),
        ("agent_only", r) => matches!(r, "sender" | "same_type" | "admin"),
        ("admin_only", r) => matches!(r, "sender" | "admin"),
        ("direct", r) => matches!(r, "sender" | "other_type" | "admin"),
        _ => unreachable!(),
    }
}

/// Where a read returned message `id`, it reports its nature: a direct message says
/// `visibility: "direct"` with its recipients, every other message its stored visibility.
#[track_caller]
fn check_reported<'a>(
    messages: impl IntoIterator<Item = &'a Value>,
    id: i64,
    vis: &str,
    path: &str,
) {
    for m in messages.into_iter().filter(|m| m["id"] == json!(id)) {
        assert_eq!(m["visibility"], json!(vis), "{path}: {m}");
        let to = if vis == "direct" {
            json!(["carol"])
        } else {
            json!(null)
        };
        assert_eq!(m["to"], to, "{path}: {m}");
    }
}

fn listed(messages: &Value) -> &Vec<Value> {
    messages.as_array().expect("messages array")
}

/// The add_message arguments for one matrix cell's message.
fn post_args(sid: &str, vis: &str, sender: &str) -> Value {
    let mut args =
        json!({"session_id": sid, "content": format!("{vis} secret"), "auth_token": sender});
    if vis == "direct" {
        args["to"] = json!(["carol"]);
    } else {
        args["visibility"] = json!(vis);
    }
    args
}

/// A direct message is stored as private: `visibility_filter` names it so.
fn filter_of(vis: &str) -> &str {
    if vis == "direct" { "private" } else { vis }
}

fn with_token(mut args: Value, token: Option<&str>) -> Value {
    if let Some(t) = token {
        args["auth_token"] = json!(t);
    }
    args
}

/// Runs the matrix through `client`; returns how many cells were checked.
pub async fn run_matrix(client: &Client) -> usize {
    let alice = login(client, "alice", "claude", false).await;
    let bob = login(client, "bob", "claude", false).await;
    let carol = login(client, "carol", "gemini", false).await;
    let root = login(client, "root", "admin", true).await;
    // Same agent_type as root, but authenticated without the admin key: not an admin.
    let intern = login(client, "intern", "admin", false).await;
    let ops = login(client, "ops", "system", true).await;
    let sid = new_session(client, &alice, "matrix").await;

    let mut message_ids = Vec::new();
    for vis in VISIBILITIES {
        let sender = if vis == "admin_only" { &root } else { &alice };
        let body = call(client, "add_message", post_args(&sid, vis, sender))
            .await
            .ok();
        message_ids.push(body["message_id"].as_i64().unwrap());
    }

    let mut cells = 0;
    for reader in READERS {
        for (index, vis) in VISIBILITIES.iter().enumerate() {
            let token: Option<&str> = match reader {
                "sender" if *vis == "admin_only" => Some(&root),
                "sender" => Some(&alice),
                "same_type" if *vis == "admin_only" => Some(&intern),
                "same_type" => Some(&bob),
                "other_type" => Some(&carol),
                "admin" => Some(&ops),
                _ => None,
            };
            let id = message_ids[index];
            let want = expected(vis, reader);

            let all = call(
                client,
                "get_messages",
                with_token(json!({"session_id": sid}), token),
            )
            .await
            .ok();
            assert_eq!(
                ids_of(&all["messages"], "id").contains(&id),
                want,
                "get_messages: {reader} reading {vis}"
            );
            check_reported(listed(&all["messages"]), id, vis, "get_messages");

            let filtered = call(
                client,
                "get_messages",
                with_token(
                    json!({"session_id": sid, "visibility_filter": filter_of(vis)}),
                    token,
                ),
            )
            .await
            .ok();
            let got = ids_of(&filtered["messages"], "id");
            assert_eq!(
                got.contains(&id),
                want,
                "get_messages(filter={vis}): {reader}"
            );
            let same_filter: Vec<i64> = VISIBILITIES
                .iter()
                .zip(&message_ids)
                .filter(|(v, _)| filter_of(v) == filter_of(vis))
                .map(|(_, id)| *id)
                .collect();
            assert!(
                got.iter().all(|g| same_filter.contains(g)),
                "filter {vis} returned other visibilities to {reader}: {got:?}"
            );

            let after = call(
                client,
                "get_messages",
                with_token(json!({"session_id": sid, "after_id": 0}), token),
            )
            .await
            .ok();
            assert_eq!(
                ids_of(&after["messages"], "id").contains(&id),
                want,
                "get_messages(after_id): {reader} reading {vis}"
            );
            check_reported(
                listed(&after["messages"]),
                id,
                vis,
                "get_messages(after_id)",
            );

            let view = call(
                client,
                "get_session",
                with_token(json!({"session_id": sid}), token),
            )
            .await
            .ok();
            assert_eq!(
                ids_of(&view["messages"], "id").contains(&id),
                want,
                "get_session: {reader} reading {vis}"
            );
            for m in view["messages"].as_array().unwrap() {
                assert_ne!(m["content"], json!(null));
            }
            check_reported(listed(&view["messages"]), id, vis, "get_session");
            cells += 4;
            cells += other_read_paths(client, &sid, vis, id, token, reader, want).await;
        }
        // The count a reader is shown must not reveal messages it cannot read.
        let token = match reader {
            "same_type" => Some(bob.as_str()),
            "other_type" => Some(carol.as_str()),
            "admin" => Some(ops.as_str()),
            "anonymous" => None,
            _ => Some(alice.as_str()),
        };
        let all = call(
            client,
            "get_messages",
            with_token(json!({"session_id": sid}), token),
        )
        .await
        .ok();
        let view = call(
            client,
            "get_session",
            with_token(json!({"session_id": sid}), token),
        )
        .await
        .ok();
        assert_eq!(
            all["total_count"],
            json!(all["messages"].as_array().unwrap().len()),
            "total_count for {reader}"
        );
        assert_eq!(
            view["message_count"], all["total_count"],
            "message_count for {reader}"
        );
    }
    cells
}

/// The remaining read paths for one cell: the three search tools, wait_for_messages and the
/// debug-session prompt. Returns how many paths were checked.
async fn other_read_paths(
    client: &Client,
    sid: &str,
    vis: &str,
    id: i64,
    token: Option<&str>,
    reader: &str,
    want: bool,
) -> usize {
    let content = format!("{vis} secret");
    let hits = call(
        client,
        "search_context",
        with_token(
            json!({"session_id": sid, "query": content, "limit": 100}),
            token,
        ),
    )
    .await
    .ok();
    let found: Vec<i64> = hits["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["message"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        found.contains(&id),
        want,
        "search_context: {reader} reading {vis}"
    );
    check_reported(
        listed(&hits["results"]).iter().map(|r| &r["message"]),
        id,
        vis,
        "search_context",
    );
    let sender = if vis == "admin_only" { "root" } else { "alice" };
    let by_sender = call(
        client,
        "search_by_sender",
        with_token(
            json!({"session_id": sid, "sender": sender, "limit": 100}),
            token,
        ),
    )
    .await
    .ok();
    assert_eq!(
        ids_of(&by_sender["messages"], "id").contains(&id),
        want,
        "search_by_sender: {reader} reading {vis}"
    );
    check_reported(listed(&by_sender["messages"]), id, vis, "search_by_sender");
    let range = json!({"session_id": sid, "start_time": "2000-01-01T00:00:00Z", "end_time": "2100-01-01T00:00:00Z", "limit": 200});
    let by_time = call(client, "search_by_timerange", with_token(range, token))
        .await
        .ok();
    assert_eq!(
        ids_of(&by_time["messages"], "id").contains(&id),
        want,
        "search_by_timerange: {reader} reading {vis}"
    );
    check_reported(listed(&by_time["messages"]), id, vis, "search_by_timerange");
    let waited = call(
        client,
        "wait_for_messages",
        with_token(
            json!({"session_id": sid, "after_id": id - 1, "timeout_seconds": 0, "limit": 1}),
            token,
        ),
    )
    .await
    .ok();
    assert_eq!(
        ids_of(&waited["messages"], "id").contains(&id),
        want,
        "wait_for_messages: {reader} reading {vis}"
    );
    check_reported(listed(&waited["messages"]), id, vis, "wait_for_messages");
    let mut args = json!({"session_id": sid});
    if let Some(t) = token {
        args["auth_token"] = json!(t);
    }
    let prompt = client
        .get_prompt(
            rmcp::model::GetPromptRequestParams::new("debug-session")
                .with_arguments(args.as_object().unwrap().clone()),
        )
        .await
        .expect("debug-session");
    let text = serde_json::to_string(&prompt.messages).unwrap();
    assert_eq!(
        text.contains(&content),
        want,
        "debug-session prompt: {reader} reading {vis}"
    );
    if want && vis == "direct" {
        assert!(text.contains("[direct]"), "debug-session prompt: {text}");
    }
    5
}

async fn visibility_matrix_http(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let client = server.client().await;
    assert_eq!(run_matrix(&client).await, 225);
    client.cancel().await.ok();
}

async fn visibility_matrix_stdio(backend: Backend) {
    let db = TestDb::new(backend).await;
    let client = stdio_client(&db).await;
    assert_eq!(run_matrix(&client).await, 225);
    client.cancel().await.ok();
}

/// A client that authenticates with `Authorization: Bearer` instead of `auth_token` is the same agent.
async fn bearer_header_identity(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let keyed = server.client().await;
    let alice = login(&keyed, "alice", "claude", false).await;
    let sid = new_session(&keyed, &alice, "bearer").await;
    let bearer = format!("Bearer {alice}");
    let as_alice = server
        .client_with(&[("authorization", &bearer)])
        .await
        .expect("bearer accepted");
    call(
        &as_alice,
        "add_message",
        json!({"session_id": sid, "content": "mine", "visibility": "private"}),
    )
    .await
    .ok();
    let own = call(&as_alice, "get_messages", json!({"session_id": sid}))
        .await
        .ok();
    assert_eq!(own["count"], json!(1));
    let other = call(&keyed, "get_messages", json!({"session_id": sid}))
        .await
        .ok();
    assert_eq!(
        other["count"],
        json!(0),
        "anonymous reader saw a private message"
    );
}

/// Reads the SSE backlog of a session until it goes quiet; returns the message contents.
async fn sse_backlog(base: &str, sid: &str, bearer: Option<&str>) -> Vec<String> {
    let http = reqwest::Client::new();
    let mut req = http.get(format!("{base}/sessions/{sid}/events?after_id=0"));
    req = match bearer {
        Some(t) => req.bearer_auth(t),
        None => req.header("x-api-key", API_KEY),
    };
    let mut resp = req.send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let mut text = String::new();
    while let Ok(Ok(Some(chunk))) =
        tokio::time::timeout(std::time::Duration::from_millis(400), resp.chunk()).await
    {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(|d| {
            serde_json::from_str::<Value>(d.trim()).unwrap()["content"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// Resources and the SSE stream, read with each reader's own bearer token (HTTP only: stdio has
/// no headers, and reads resources anonymously).
async fn resource_and_sse_matrix(backend: Backend) -> usize {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let client = server.client().await;
    let alice = login(&client, "alice", "claude", false).await;
    let bob = login(&client, "bob", "claude", false).await;
    let carol = login(&client, "carol", "gemini", false).await;
    let root = login(&client, "root", "admin", true).await;
    let intern = login(&client, "intern", "admin", false).await;
    let ops = login(&client, "ops", "system", true).await;
    let sid = new_session(&client, &alice, "matrix").await;
    for vis in VISIBILITIES {
        let sender = if vis == "admin_only" { &root } else { &alice };
        call(&client, "add_message", post_args(&sid, vis, sender))
            .await
            .ok();
    }
    let mut cells = 0;
    for reader in READERS {
        for vis in VISIBILITIES {
            let token: Option<&str> = match reader {
                "sender" if vis == "admin_only" => Some(&root),
                "sender" => Some(&alice),
                "same_type" if vis == "admin_only" => Some(&intern),
                "same_type" => Some(&bob),
                "other_type" => Some(&carol),
                "admin" => Some(&ops),
                _ => None,
            };
            let want = expected(vis, reader);
            let content = format!("{vis} secret");
            let resource_client = match token {
                Some(t) => server
                    .client_with(&[("authorization", &format!("Bearer {t}"))])
                    .await
                    .unwrap(),
                None => server.client().await,
            };
            let read = resource_client
                .read_resource(rmcp::model::ReadResourceRequestParams::new(format!(
                    "session://{sid}"
                )))
                .await
                .unwrap();
            let text = serde_json::to_string(&read.contents).unwrap();
            assert_eq!(
                text.contains(&content),
                want,
                "session:// resource: {reader} reading {vis}"
            );
            let streamed = sse_backlog(&server.base, &sid, token).await;
            assert_eq!(
                streamed.contains(&content),
                want,
                "SSE: {reader} reading {vis}"
            );
            cells += 2;
        }
    }
    cells
}

#[tokio::test]
async fn resource_and_sse_matrix_sqlite() {
    assert_eq!(resource_and_sse_matrix(Backend::Sqlite).await, 50);
}

#[tokio::test]
async fn resource_and_sse_matrix_postgres() {
    assert_eq!(resource_and_sse_matrix(Backend::Postgres).await, 50);
}

contract!(
    visibility_matrix_http,
    visibility_matrix_stdio,
    bearer_header_identity,
);
