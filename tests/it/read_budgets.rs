//! Read budgets on the inbox and on memory: `max_tokens` stops get_inbox and list_memory (private
//! and shared) at whole entries with `truncated: true` and a cursor, and a client paging with it
//! gets every entry exactly once; a memory value (private or shared) over the budget is left out
//! whole, with what to call to read it.
//! (get_messages, get_session, waits and searches: compact_results.rs.)

use serde_json::{Value, json};

use crate::support::*;

fn tokens(text: &str) -> usize {
    bpe_openai::o200k_base().count(text)
}

async fn paging_the_inbox_with_max_tokens_reads_every_message_exactly_once(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::start(&db).await;
    let client = app.client().await;
    let alice = login(&client, "alice", "claude", false).await;
    let bob = login(&client, "bob", "codex", false).await;
    let sid = new_session(&client, &alice, "p").await;
    let posted = post_varied(
        &client,
        json!({"session_id": sid, "to": ["bob"], "auth_token": alice}),
        30,
        11,
    )
    .await;
    let (mut seen, mut cursor, mut pages) = (Vec::new(), Value::Null, 0);
    loop {
        let mut args = json!({"max_tokens": 200, "auth_token": bob});
        if !cursor.is_null() {
            args["after_cursor"] = cursor.clone();
        }
        let (text, page) = text_and_structured(&client, "get_inbox", args).await;
        pages += 1;
        assert!(
            tokens(&text) <= 200,
            "over budget: {} tokens\n{text}",
            tokens(&text)
        );
        seen.extend(
            page["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_i64().unwrap()),
        );
        if page["truncated"] == true {
            assert!(text.contains("truncated at max_tokens"), "{text}");
            assert_eq!(page["has_more"], true);
        }
        cursor = page["next_cursor"].clone();
        if page["has_more"] == false {
            break;
        }
        assert!(pages < 100, "paging does not end");
    }
    assert_eq!(seen, posted, "every direct message exactly once, in order");
    assert!(pages > 3, "the budget split the read ({pages} pages)");
}

async fn paging_memory_keys_with_max_tokens_lists_every_key_exactly_once(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::start(&db).await;
    let client = app.client().await;
    let token = login(&client, "alice", "claude", false).await;
    let sid = new_session(&client, &token, "p").await;
    let mut stored = Vec::new();
    for i in 0..45 {
        // Keys of varied lengths, in both scopes.
        let key = format!("notes/{i:02}/{}", "k".repeat(i % 9 * 10));
        let mut args = json!({"key": key, "value": i, "auth_token": token});
        if i % 3 == 0 {
            args["session_id"] = json!(sid);
        }
        call(&client, "set_memory", args).await.ok();
        stored.push(key);
    }
    let (mut seen, mut cursor, mut pages, mut truncated) = (Vec::new(), None, 0, 0);
    loop {
        let mut args =
            json!({"session_id": "all", "limit": 20, "max_tokens": 120, "auth_token": token});
        if let Some(c) = &cursor {
            args["cursor"] = json!(c);
        }
        let (text, page) = text_and_structured(&client, "list_memory", args).await;
        pages += 1;
        assert!(
            tokens(&text) <= 120,
            "over budget: {} tokens",
            tokens(&text)
        );
        let entries = page["entries"].as_array().unwrap();
        assert!(!entries.is_empty(), "an empty page before the end: {page}");
        seen.extend(
            entries
                .iter()
                .map(|e| e["key"].as_str().unwrap().to_owned()),
        );
        if page["truncated"] == true {
            truncated += 1;
            assert!(text.contains("truncated at max_tokens"), "{text}");
        }
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
        assert!(pages < 100, "paging does not end");
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len(), "a key listed twice: {seen:?}");
    stored.sort();
    assert_eq!(sorted, stored, "every key exactly once");
    assert!(
        truncated > 2,
        "the budget split the list ({truncated} of {pages} pages)"
    );
}

async fn a_memory_value_over_max_tokens_is_left_out_whole_with_how_to_read_it(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::start(&db).await;
    let client = app.client().await;
    let token = login(&client, "alice", "claude", false).await;
    let value = json!({"plan": "step ".repeat(400)});
    call(
        &client,
        "set_memory",
        json!({"key": "plan", "value": value, "auth_token": token}),
    )
    .await
    .ok();
    let (text, body) = text_and_structured(
        &client,
        "get_memory",
        json!({"key": "plan", "max_tokens": 100, "auth_token": token}),
    )
    .await;
    assert_eq!(body["truncated"], true, "{body}");
    assert!(body.get("value").is_none(), "a cut value: {body}");
    assert!(body["value_size"].as_i64().unwrap() > 2_000);
    assert!(tokens(&text) <= 100, "{text}");
    assert!(text.contains("max_tokens >="), "{text}");
    assert!(!text.contains("step step"), "{text}");
    let (text, body) = text_and_structured(
        &client,
        "get_memory",
        json!({"key": "plan", "max_tokens": 5_000, "auth_token": token}),
    )
    .await;
    assert_eq!(body["value"], value);
    assert!(body.get("truncated").is_none(), "{body}");
    assert!(text.contains("│ {\"plan\":\"step step"), "{text}");
}

async fn shared_memory_reads_honour_max_tokens_and_page_every_key_once(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::start(&db).await;
    let client = app.client().await;
    let token = login(&client, "alice", "claude", false).await;
    let sid = new_session(&client, &token, "p").await;
    let mut stored = Vec::new();
    for i in 0..40 {
        let key = format!("decisions/{i:02}/{}", "k".repeat(i % 7 * 12));
        let args =
            json!({"session_id": sid, "key": key, "value": i, "shared": true, "auth_token": token});
        call(&client, "set_memory", args).await.ok();
        stored.push(key);
    }
    let (mut seen, mut cursor, mut pages, mut truncated) = (Vec::new(), None, 0, 0);
    loop {
        let mut args = json!({"session_id": sid, "shared": true, "limit": 20, "max_tokens": 120,
            "auth_token": token});
        if let Some(c) = &cursor {
            args["cursor"] = json!(c);
        }
        let (text, page) = text_and_structured(&client, "list_memory", args).await;
        pages += 1;
        assert!(
            tokens(&text) <= 120,
            "over budget: {} tokens\n{text}",
            tokens(&text)
        );
        let entries = page["entries"].as_array().unwrap();
        assert!(!entries.is_empty(), "an empty page before the end: {page}");
        for e in entries {
            let key = e["key"].as_str().unwrap();
            assert!(text.contains(key), "{key} is in the text: {text}");
            seen.push(key.to_owned());
        }
        assert_eq!(page["count"].as_u64().unwrap() as usize, entries.len());
        if page["truncated"] == true {
            truncated += 1;
            assert!(text.contains("truncated at max_tokens"), "{text}");
        }
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if let Some(c) = &cursor {
            assert!(
                text.contains(&format!("cursor={c}")),
                "the cursor is in the text: {text}"
            );
        } else {
            break;
        }
        assert!(pages < 100, "paging does not end");
    }
    assert_eq!(seen, stored, "every shared key exactly once, in key order");
    assert!(
        truncated > 2,
        "the budget split the list ({truncated} of {pages} pages)"
    );

    let value = json!({"plan": "step ".repeat(400)});
    let set = json!({"session_id": sid, "key": "plan", "value": value, "shared": true, "auth_token": token});
    call(&client, "set_memory", set).await.ok();
    let get = |max: i64| json!({"session_id": sid, "key": "plan", "shared": true, "max_tokens": max, "auth_token": token});
    let (text, body) = text_and_structured(&client, "get_memory", get(100)).await;
    assert_eq!(body["truncated"], true, "{body}");
    assert!(body.get("value").is_none(), "a cut value: {body}");
    assert_eq!(body["version"], 1, "{body}");
    assert!(tokens(&text) <= 100, "{text}");
    assert!(text.contains("max_tokens >="), "{text}");
    assert!(!text.contains("step step"), "{text}");
    let (text, body) = text_and_structured(&client, "get_memory", get(5_000)).await;
    assert_eq!(body["value"], value);
    assert!(body.get("truncated").is_none(), "{body}");
    assert!(text.contains("│ {\"plan\":\"step step"), "{text}");
    let refused = call(&client, "get_memory", get(10)).await;
    assert_eq!(refused.err_code(), "INVALID_INPUT", "max_tokens is checked");
}

contract!(
    paging_the_inbox_with_max_tokens_reads_every_message_exactly_once,
    paging_memory_keys_with_max_tokens_lists_every_key_exactly_once,
    a_memory_value_over_max_tokens_is_left_out_whole_with_how_to_read_it,
    shared_memory_reads_honour_max_tokens_and_page_every_key_once,
);
