//! Guidance, metrics, resources and prompts through a real client, honouring identity.

use rmcp::model::{GetPromptRequestParams, ReadResourceRequestParams};
use serde_json::{Value, json};

use crate::support::*;

async fn setup(backend: Backend) -> (TestDb, HttpServer) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    (db, server)
}

#[tokio::test]
async fn guidance_follows_access_level_and_tool_list() {
    let (_db, server) = setup(Backend::Sqlite).await;
    let client = server.client().await;
    let tools = client.list_all_tools().await.unwrap();
    for tool in &tools {
        assert!(
            shared_context_server::mcp::guidance::access_of(&tool.name).is_some(),
            "{} has no access entry",
            tool.name
        );
    }
    let anon = call(&client, "get_usage_guidance", json!({})).await.ok();
    assert_eq!(anon["access_level"], "READ_ONLY");
    let usable = |v: &Value, key: &str| {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["tool"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert!(usable(&anon, "tools_needing_more_access").contains(&"add_message".to_owned()));
    assert_eq!(
        usable(&anon, "tools_you_can_use").len() + usable(&anon, "tools_needing_more_access").len(),
        tools.len()
    );
    let admin = login(&client, "ops", "admin", true).await;
    for kind in ["operations", "coordination", "security", "troubleshooting"] {
        let g = call(
            &client,
            "get_usage_guidance",
            json!({"guidance_type": kind, "auth_token": admin}),
        )
        .await
        .ok();
        assert_eq!(g["access_level"], "ADMIN");
        assert_eq!(usable(&g, "tools_you_can_use").len(), tools.len());
        assert!(
            g["agent_info"]["expires_at"].is_string()
                && g["agent_info"]["can_refresh"] == json!(true)
        );
    }
    assert_eq!(
        call(
            &client,
            "get_usage_guidance",
            json!({"guidance_type": "everything"})
        )
        .await
        .err_code(),
        "INVALID_INPUT"
    );
}

#[tokio::test]
async fn performance_metrics_are_real_and_admin_only() {
    let (_db, server) = setup(Backend::Sqlite).await;
    let client = server.client().await;
    let alice = login(&client, "alice", "claude", false).await;
    let sid = call(
        &client,
        "create_session",
        json!({"purpose": "m", "auth_token": alice}),
    )
    .await
    .ok()["session_id"]
        .clone();
    for i in 0..5 {
        call(
            &client,
            "add_message",
            json!({"session_id": sid, "content": format!("m{i}"), "auth_token": alice}),
        )
        .await
        .ok();
    }
    call(
        &client,
        "add_message",
        json!({"session_id": "session_ffffffffffffffff", "content": "x", "auth_token": alice}),
    )
    .await;
    assert_eq!(
        call(
            &client,
            "get_performance_metrics",
            json!({"auth_token": alice})
        )
        .await
        .err_code(),
        "PERMISSION_DENIED"
    );
    let admin = login(&client, "ops", "admin", true).await;
    let m = call(
        &client,
        "get_performance_metrics",
        json!({"auth_token": admin}),
    )
    .await
    .ok();
    let add = m["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tool"] == "add_message")
        .expect("add_message figures");
    assert_eq!(add["calls"], json!(6));
    assert_eq!(add["errors_by_code"]["SESSION_NOT_FOUND"], json!(1));
    assert!(add["latency_ms"]["p50"].as_f64().unwrap() > 0.0);
    assert!(m["pool"]["max"].as_u64().unwrap() >= 1);
    assert!(
        m["token_cache"]["hits"].as_u64().unwrap() >= 5,
        "tokens should come from the cache: {}",
        m["token_cache"]
    );
}

async fn resources_and_prompts_honour_identity(backend: Backend) {
    let (_db, server) = setup(backend).await;
    let keyed = server.client().await;
    let alice = login(&keyed, "alice", "claude", false).await;
    let sid = new_session(&keyed, &alice, "res").await;
    call(
        &keyed,
        "add_message",
        json!({"session_id": sid, "content": "shared note", "auth_token": alice}),
    )
    .await
    .ok();
    call(&keyed, "add_message", json!({"session_id": sid, "content": "alice private secret", "visibility": "private", "auth_token": alice})).await.ok();

    let templates = keyed.list_all_resource_templates().await.unwrap();
    assert!(
        templates
            .iter()
            .any(|t| t.uri_template == "session://{session_id}")
    );
    let listed = keyed.list_all_resources().await.unwrap();
    assert!(listed.iter().any(|r| r.uri == format!("session://{sid}")));

    let read = |client: rmcp::Peer<rmcp::RoleClient>, uri: String| async move {
        client
            .read_resource(ReadResourceRequestParams::new(uri))
            .await
    };
    let text_of = |r: rmcp::model::ReadResourceResult| match &r.contents[0] {
        rmcp::model::ResourceContents::TextResourceContents { text, .. } => text.clone(),
        other => panic!("unexpected contents {other:?}"),
    };
    let anon_view = text_of(
        read(keyed.peer().clone(), format!("session://{sid}"))
            .await
            .unwrap(),
    );
    assert!(
        anon_view.contains("shared note") && !anon_view.contains("private secret"),
        "anonymous resource read leaked: {anon_view}"
    );
    let as_alice = server
        .client_with(&[("authorization", &format!("Bearer {alice}"))])
        .await
        .unwrap();
    let own_view = text_of(
        read(as_alice.peer().clone(), format!("session://{sid}"))
            .await
            .unwrap(),
    );
    assert!(
        own_view.contains("private secret"),
        "the sender reads its own private message"
    );
    assert!(
        read(
            keyed.peer().clone(),
            "session://session_ffffffffffffffff".into()
        )
        .await
        .is_err()
    );

    // agent://{id}/memory: only the agent itself or an admin.
    assert!(
        templates
            .iter()
            .any(|t| t.uri_template == "agent://{agent_id}/memory")
    );
    call(
        &keyed,
        "set_memory",
        json!({"key": "plan", "value": {"step": 3}, "auth_token": alice}),
    )
    .await
    .ok();
    let own = text_of(
        read(as_alice.peer().clone(), "agent://alice/memory".into())
            .await
            .unwrap(),
    );
    assert!(own.contains("\"step\":3"), "{own}");
    assert!(
        read(keyed.peer().clone(), "agent://alice/memory".into())
            .await
            .is_err(),
        "anonymous must not read memory"
    );
    let mallory = login(&keyed, "mallory", "claude", false).await;
    let as_mallory = server
        .client_with(&[("authorization", &format!("Bearer {mallory}"))])
        .await
        .unwrap();
    assert!(
        read(as_mallory.peer().clone(), "agent://alice/memory".into())
            .await
            .is_err(),
        "another agent must not read it"
    );
    let admin = login(&keyed, "ops", "admin", true).await;
    let as_admin = server
        .client_with(&[("authorization", &format!("Bearer {admin}"))])
        .await
        .unwrap();
    let seen = text_of(
        read(as_admin.peer().clone(), "agent://alice/memory".into())
            .await
            .unwrap(),
    );
    assert!(
        seen.contains("plan"),
        "admins may read any agent's memory: {seen}"
    );

    let prompts = keyed.list_all_prompts().await.unwrap();
    assert!(
        prompts.iter().any(|p| p.name == "setup-collaboration")
            && prompts.iter().any(|p| p.name == "debug-session")
    );
    let carol = login(&keyed, "carol", "gemini", false).await;
    let args = json!({"session_id": sid, "auth_token": carol})
        .as_object()
        .unwrap()
        .clone();
    let debug = keyed
        .get_prompt(GetPromptRequestParams::new("debug-session").with_arguments(args))
        .await
        .unwrap();
    let text = serde_json::to_string(&debug.messages).unwrap();
    assert!(
        text.contains("shared note") && !text.contains("private secret"),
        "debug-session leaked: {text}"
    );
    assert!(
        text.contains("private=0"),
        "counts cover only what carol may read: {text}"
    );
    let args = json!({"purpose": "ship v2", "agent_types": "claude,codex"})
        .as_object()
        .unwrap()
        .clone();
    let setup = keyed
        .get_prompt(GetPromptRequestParams::new("setup-collaboration").with_arguments(args))
        .await
        .unwrap();
    let text = serde_json::to_string(&setup.messages).unwrap();
    assert!(
        text.contains("agent_type=\\\"codex\\\"") && text.contains("ship v2"),
        "{text}"
    );
}

contract!(resources_and_prompts_honour_identity,);
