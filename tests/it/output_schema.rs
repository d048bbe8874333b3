//! Typed results: every tool advertises an `outputSchema`, and every `structuredContent` it
//! returns, success or error, validates against it (JSON Schema 2020-12, checked by `boon`, not
//! by our own code). The calls go through a real MCP client over HTTP, on both backends.
//!
//! A new tool fails `every_tool_is_called_and_matches_its_output_schema` until `scenario` below
//! calls it successfully: add one step (see src/mcp/output.rs for how a tool declares its type).

use rmcp::model::{CallToolRequestParams, Tool};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

use crate::support::*;

/// The advertised output schemas, compiled.
struct Validator {
    schemas: boon::Schemas,
    index: BTreeMap<String, boon::SchemaIndex>,
}

impl Validator {
    fn new(tools: &[Tool]) -> Self {
        let mut schemas = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        compiler.set_default_draft(boon::Draft::V2020_12);
        let mut index = BTreeMap::new();
        for tool in tools {
            let schema = tool
                .output_schema
                .as_ref()
                .unwrap_or_else(|| panic!("{} has no outputSchema (src/mcp/output.rs)", tool.name));
            assert!(
                !schema.contains_key("$schema"),
                "{}: outputSchema carries $schema",
                tool.name
            );
            let url = format!("http://schemas.invalid/{}.json", tool.name);
            compiler
                .add_resource(&url, Value::Object((**schema).clone()))
                .unwrap();
            let compiled = compiler
                .compile(&url, &mut schemas)
                .unwrap_or_else(|e| panic!("{}: outputSchema does not compile: {e:#}", tool.name));
            index.insert(tool.name.to_string(), compiled);
        }
        Self { schemas, index }
    }

    #[track_caller]
    fn check(&self, tool: &str, structured: &Value) {
        let idx = self.index[tool];
        if let Err(e) = self.schemas.validate(structured, idx) {
            panic!(
                "{tool}: structuredContent does not match its outputSchema: {e:#}\n{structured:#}"
            );
        }
    }
}

/// Calls tools, validating each result, and remembers which tools succeeded.
struct Run<'a> {
    client: &'a Client,
    validator: Validator,
    succeeded: BTreeSet<String>,
}

impl Run<'_> {
    async fn call(&mut self, tool: &str, args: Value) -> Value {
        let params = CallToolRequestParams::new(tool.to_owned())
            .with_arguments(args.as_object().cloned().unwrap());
        let result = self
            .client
            .call_tool(params)
            .await
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        let structured = result
            .structured_content
            .unwrap_or_else(|| panic!("{tool}: no structuredContent"));
        self.validator.check(tool, &structured);
        if result.is_error != Some(true) {
            self.succeeded.insert(tool.to_owned());
        }
        structured
    }

    /// A call that must succeed.
    async fn ok(&mut self, tool: &str, args: Value) -> Value {
        let body = self.call(tool, args.clone()).await;
        assert_eq!(body["success"], true, "{tool}({args}) → {body}");
        body
    }
}

/// Every tool at least once, with the optional parts of its result present somewhere.
async fn scenario(run: &mut Run<'_>) {
    let admin = run
        .ok(
            "authenticate_agent",
            json!({"agent_id": "alice", "agent_type": "admin", "api_key": ADMIN_KEY,
                   "requested_permissions": ["read", "write", "admin"]}),
        )
        .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let a = json!({"auth_token": admin});
    let bob = run
        .ok(
            "authenticate_agent",
            json!({"agent_id": "bob", "agent_type": "codex"}),
        )
        .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = json!({"auth_token": bob});
    let carol = run
        .ok(
            "authenticate_agent",
            json!({"agent_id": "carol", "agent_type": "gemini"}),
        )
        .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let fresh = run
        .ok("refresh_token", json!({"current_token": carol}))
        .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    run.ok("revoke_token", json!({"auth_token": fresh})).await;

    let sid = run
        .ok(
            "create_session",
            with(
                a.clone(),
                json!({"purpose": "typed results", "metadata": {"k": 1}}),
            ),
        )
        .await["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let s = with(a.clone(), json!({"session_id": sid}));
    let first = run
        .ok(
            "add_message",
            with(
                s.clone(),
                json!({"content": "the build is green", "metadata": {"kind": "finding"}}),
            ),
        )
        .await["message_id"]
        .as_i64()
        .unwrap();
    run.ok(
        "add_message",
        with(
            s.clone(),
            json!({"content": "a reply", "parent_message_id": first}),
        ),
    )
    .await;
    let direct = run
        .ok(
            "add_message",
            with(
                s.clone(),
                json!({"content": "bob, please review", "to": ["bob"]}),
            ),
        )
        .await["message_id"]
        .as_i64()
        .unwrap();

    run.ok("get_session", s.clone()).await;
    run.ok("get_session", with(s.clone(), json!({"max_tokens": 50})))
        .await;
    run.ok("list_sessions", a.clone()).await;
    for extra in [
        json!({}),
        json!({"include_body": false}),
        json!({"max_content_chars": 3}),
        json!({"max_tokens": 50, "limit": 2}),
    ] {
        run.ok("get_messages", with(s.clone(), extra)).await;
    }
    run.ok("wait_for_messages", with(s.clone(), json!({"after_id": 0})))
        .await;
    let timed_out = run
        .ok(
            "wait_for_messages",
            with(s.clone(), json!({"after_id": direct, "timeout_seconds": 0})),
        )
        .await;
    assert_eq!(timed_out["timed_out"], true);

    run.ok("search_context", with(s.clone(), json!({"query": "build"})))
        .await;
    run.ok(
        "search_by_sender",
        with(s.clone(), json!({"sender": "alice", "max_tokens": 50})),
    )
    .await;
    run.ok(
        "search_by_timerange",
        with(
            s.clone(),
            json!({"start_time": "2000-01-01", "end_time": "2100-01-01"}),
        ),
    )
    .await;

    for scope in [json!({}), json!({"session_id": sid})] {
        let key = with(scope, json!({"key": "notes"}));
        run.ok(
            "set_memory",
            with(
                with(a.clone(), key.clone()),
                json!({"value": {"todo": [1, 2]}, "expires_in": 3600}),
            ),
        )
        .await;
        run.ok("get_memory", with(a.clone(), key.clone())).await;
        for (max_tokens, shown) in [(50, false), (500, true)] {
            let budget = json!({"max_tokens": max_tokens});
            let read = run
                .ok("get_memory", with(a.clone(), with(key.clone(), budget)))
                .await;
            assert_eq!(read.get("value").is_some(), shown, "{read}");
        }
        run.ok("list_memory", with(a.clone(), json!({"max_tokens": 50})))
            .await;
        run.ok("delete_memory", with(a.clone(), key)).await;
    }

    // Shared memory and tasks.
    let shared = with(s.clone(), json!({"key": "plan", "shared": true}));
    run.ok(
        "set_memory",
        with(
            shared.clone(),
            json!({"value": {"step": 1}, "expected_version": 0}),
        ),
    )
    .await;
    run.ok("get_memory", shared.clone()).await;
    run.ok("list_memory", with(s.clone(), json!({"shared": true})))
        .await;
    let first_task = run
        .ok(
            "create_task",
            with(s.clone(), json!({"title": "design", "metadata": {"k": 1}})),
        )
        .await["task_id"]
        .as_i64()
        .unwrap();
    run.ok(
        "create_task",
        with(
            s.clone(),
            json!({"title": "build", "depends_on": [first_task], "assignee": "bob"}),
        ),
    )
    .await;
    run.ok("claim_task", s.clone()).await;
    run.ok(
        "update_task",
        with(a.clone(), json!({"task_id": first_task, "state": "completed", "note": "done", "result": {"ok": true}})),
    )
    .await;
    let none = run.ok("claim_task", s.clone()).await;
    assert_eq!(none["task"], Value::Null, "build is bob's: {none}");
    run.ok("list_tasks", s.clone()).await;

    run.ok("list_agents", a.clone()).await;
    run.ok("get_inbox", b.clone()).await;
    run.ok(
        "get_inbox",
        with(b.clone(), json!({"include_body": false, "max_tokens": 50})),
    )
    .await;
    run.ok(
        "ack_messages",
        with(b.clone(), json!({"message_ids": [direct]})),
    )
    .await;
    run.ok(
        "get_receipts",
        with(a.clone(), json!({"message_id": direct})),
    )
    .await;
    run.ok(
        "ask",
        with(
            s.clone(),
            json!({"to": "bob", "content": "ready?", "timeout_seconds": 0.1}),
        ),
    )
    .await;

    // Leases: a grant in a session with a reason, a warned overlap, a renewal, a check, releases.
    let held = run
        .ok(
            "acquire_lease",
            with(
                s.clone(),
                json!({"resources": ["src/**"], "reason": "refactor"}),
            ),
        )
        .await;
    let warned = run
        .ok(
            "acquire_lease",
            with(
                b.clone(),
                json!({"resources": ["src/a.rs"], "on_conflict": "warn"}),
            ),
        )
        .await;
    assert_eq!(warned["conflicts"].as_array().unwrap().len(), 1, "{warned}");
    run.ok(
        "acquire_lease",
        with(
            a.clone(),
            json!({"lease_id": held["lease_id"], "ttl_seconds": 60}),
        ),
    )
    .await;
    run.ok(
        "check_leases",
        with(b.clone(), json!({"resources": ["src/a.rs"]})),
    )
    .await;
    run.ok(
        "release_lease",
        with(b.clone(), json!({"lease_id": warned["lease_id"]})),
    )
    .await;
    run.ok(
        "release_lease",
        with(a.clone(), json!({"lease_id": warned["lease_id"]})),
    )
    .await;

    run.ok("health", json!({})).await;
    run.ok("get_performance_metrics", a.clone()).await;
    run.ok("get_usage_guidance", a.clone()).await;
    run.ok("close_session", s.clone()).await;
}

async fn every_tool_is_called_and_matches_its_output_schema(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::start(&db).await;
    let client = app.client().await;
    let tools = client.list_all_tools().await.unwrap();
    let mut run = Run {
        client: &client,
        validator: Validator::new(&tools),
        succeeded: BTreeSet::new(),
    };
    scenario(&mut run).await;
    let missed: Vec<_> = tools
        .iter()
        .map(|t| t.name.to_string())
        .filter(|name| !run.succeeded.contains(name))
        .collect();
    assert!(
        missed.is_empty(),
        "no successful call of {missed:?}: add one to scenario() in tests/it/output_schema.rs"
    );
    // The schemas can fail: a page without its messages, or with a count that is not a number.
    let page = run.validator.index["get_messages"];
    for wrong in [json!({"success": true}), json!({"success": false})] {
        assert!(
            run.validator.schemas.validate(&wrong, page).is_err(),
            "{wrong}"
        );
    }
    // The error envelope validates too, on every tool (clients that validate errors show them).
    for tool in &tools {
        let body = run.call(&tool.name, json!({"no_such_argument": 1})).await;
        assert_eq!(body["code"], "UNKNOWN_ARGUMENT", "{}: {body}", tool.name);
    }
    // A domain error with details (the session is closed now).
    let body = run
        .call(
            "add_message",
            json!({"session_id": "session_0000000000000000", "content": "x"}),
        )
        .await;
    assert_eq!(body["success"], false, "{body}");
}

contract!(every_tool_is_called_and_matches_its_output_schema);
