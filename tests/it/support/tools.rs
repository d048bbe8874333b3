//! Steps over tool calls that many test files take: a new session, a direct message, the ids of
//! a listed page, both parts of a reply, and a run of messages of varied size for read budgets.

use rmcp::RoleClient;
use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};

use super::{call, with};

/// Creates a session for `token` and returns its id.
pub async fn new_session(client: &rmcp::Peer<RoleClient>, token: &str, purpose: &str) -> String {
    call(
        client,
        "create_session",
        json!({"purpose": purpose, "auth_token": token}),
    )
    .await
    .ok()["session_id"]
        .as_str()
        .expect("a session id")
        .to_owned()
}

/// Sends a direct message from the agent of `from` (a token) to `to`; returns its id.
pub async fn direct(
    client: &rmcp::Peer<RoleClient>,
    sid: &str,
    from: &str,
    to: &str,
    content: &str,
) -> i64 {
    call(
        client,
        "add_message",
        json!({"session_id": sid, "content": content, "to": [to], "auth_token": from}),
    )
    .await
    .ok()["message_id"]
        .as_i64()
        .expect("a message id")
}

/// The `key` of each object in a JSON array: the ids of a page of messages (`id`) or tasks
/// (`task_id`).
#[track_caller]
pub fn ids_of(list: &Value, key: &str) -> Vec<i64> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|item| {
            item[key]
                .as_i64()
                .unwrap_or_else(|| panic!("no {key} in {item}"))
        })
        .collect()
}

/// The text part and the structured part of a call that must succeed.
pub async fn text_and_structured(
    client: &rmcp::Peer<RoleClient>,
    tool: &str,
    args: Value,
) -> (String, Value) {
    let params = CallToolRequestParams::new(tool.to_owned())
        .with_arguments(args.as_object().cloned().expect("arguments are an object"));
    let result = client.call_tool(params).await.unwrap();
    assert_ne!(result.is_error, Some(true), "{tool}: {result:?}");
    let text = result.content[0].as_text().unwrap().text.clone();
    (text, result.structured_content.unwrap())
}

/// Posts `n` messages of varied size (one to seven repeats of a short line) with `args` (the
/// session, the token and e.g. `to`), message `big` far over any read budget on its own (5,000
/// characters); returns their ids in order.
pub async fn post_varied(
    client: &rmcp::Peer<RoleClient>,
    args: Value,
    n: usize,
    big: usize,
) -> Vec<i64> {
    let mut posted = Vec::with_capacity(n);
    for i in 0..n {
        let content = if i == big {
            "x".repeat(5_000)
        } else {
            format!("message {i} ").repeat(1 + i % 7)
        };
        let m = call(
            client,
            "add_message",
            with(args.clone(), json!({"content": content})),
        )
        .await
        .ok();
        posted.push(m["message_id"].as_i64().expect("a message id"));
    }
    posted
}
