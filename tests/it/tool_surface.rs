//! The tool surface an agent pays for: the `tools/list` token budget (counted with the o200k
//! tokenizer, offline), tool profiles, titles and annotations, and refusal of unknown arguments.
//! `scripts/token-budget.sh` prints the per-tool table this test measures.

use rmcp::ServiceExt;
use rmcp::model::Tool;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::json;
use shared_context_server::mcp::ToolProfile;
use shared_context_server::mcp::catalog::CATALOG;

use crate::support::*;

/// Average model-visible tokens per tool over the whole contract (issue 13).
const BUDGET_PER_TOOL: usize = 150;
/// The default profile's model-visible tokens, unbuilt tools' allowances included.
const BUDGET_DEFAULT_PROFILE: usize = 2_500;
/// What a contract tool not yet served is assumed to cost: its fair share of the average.
const UNBUILT_TOOL_ALLOWANCE: usize = 150;
/// Parameters the coordination contract adds to tools served today, until they are there:
/// (tool, parameter, allowance). `to` on add_message; `shared` and `expected_version` on memory.
const UNBUILT_PARAMS: &[(&str, &str, usize)] = &[
    ("add_message", "to", 25),
    ("set_memory", "shared", 12),
    ("set_memory", "expected_version", 20),
    ("get_memory", "shared", 12),
    ("list_memory", "shared", 12),
];

/// The Python server's tools, in its `tools/list` order (reference/upstream-python-server.md §1).
const UPSTREAM_TOOLS: [&str; 14] = [
    "get_usage_guidance",
    "get_performance_metrics",
    "authenticate_agent",
    "refresh_token",
    "set_memory",
    "get_memory",
    "list_memory",
    "search_context",
    "search_by_sender",
    "search_by_timerange",
    "create_session",
    "get_session",
    "add_message",
    "get_messages",
];

async fn stdio_with(db: &TestDb, env: &[(&str, &str)], args: &[&str]) -> Client {
    let transport = TokioChildProcess::new(tokio::process::Command::new(BIN).configure(|c| {
        c.args(["--transport", "stdio"])
            .args(args)
            .envs(server_env(db))
            .envs(env.iter().copied());
    }))
    .expect("spawn stdio server");
    ().serve(transport).await.expect("stdio initialize")
}

/// What the model reads of a tool: clients turn a tool into a function declaration of its name,
/// description and input schema. Title, annotations and output schema stay with the client.
fn model_tokens(tool: &Tool) -> usize {
    let visible = json!({
        "name": tool.name,
        "description": tool.description,
        "inputSchema": tool.input_schema,
    });
    bpe_openai::o200k_base().count(&visible.to_string())
}

fn full_tokens(tool: &Tool) -> usize {
    bpe_openai::o200k_base().count(&serde_json::to_string(tool).unwrap())
}

/// Allowance for what the contract adds to these tools but is not built yet.
fn unbuilt_allowance(tools: &[Tool], profile: ToolProfile) -> usize {
    let served = |name: &str| tools.iter().any(|t| t.name == name);
    let unbuilt_tools = CATALOG
        .iter()
        .filter(|t| profile.includes(t) && !served(t.name))
        .count();
    let unbuilt_params: usize = UNBUILT_PARAMS
        .iter()
        .filter(|(tool, param, _)| {
            tools.iter().find(|t| t.name == *tool).is_some_and(|t| {
                !t.input_schema["properties"]
                    .as_object()
                    .unwrap()
                    .contains_key(*param)
            })
        })
        .map(|(_, _, allowance)| allowance)
        .sum();
    unbuilt_tools * UNBUILT_TOOL_ALLOWANCE + unbuilt_params
}

/// The outputSchema alone: what a client validates results against (not shown to the model).
fn output_schema_tokens(tool: &Tool) -> usize {
    tool.output_schema.as_ref().map_or(0, |schema| {
        bpe_openai::o200k_base().count(&serde_json::to_string(schema).unwrap())
    })
}

fn print_table(label: &str, tools: &[Tool]) -> usize {
    println!(
        "{label}: tool, model-visible tokens, full tools/list entry tokens, of which outputSchema"
    );
    let (mut total, mut full, mut output) = (0, 0, 0);
    for tool in tools {
        let (m, f, o) = (
            model_tokens(tool),
            full_tokens(tool),
            output_schema_tokens(tool),
        );
        println!("  {:<26} {m:>5} {f:>5} {o:>5}", tool.name);
        total += m;
        full += f;
        output += o;
    }
    println!(
        "  {:<26} {total:>5} {full:>5} {output:>5}  ({} tools)",
        "total",
        tools.len()
    );
    total
}

#[tokio::test]
async fn token_budget_holds_for_every_tool_of_the_contract() {
    let db = TestDb::new(Backend::Sqlite).await;
    let all = stdio_with(&db, &[("SCS_TOOLS", "all")], &[]).await;
    let tools = all.list_all_tools().await.unwrap();
    let served = print_table("SCS_TOOLS=all", &tools);
    let allowance = unbuilt_allowance(&tools, ToolProfile::all());
    let contract_tools = CATALOG.len();
    let average = (served + allowance) / contract_tools;
    println!(
        "contract: {served} served + {allowance} allowance for unbuilt tools/params = {} over {contract_tools} tools, {average} per tool (budget {BUDGET_PER_TOOL})",
        served + allowance
    );
    assert!(
        average <= BUDGET_PER_TOOL,
        "over budget: {average} tokens per tool"
    );
    for tool in &tools {
        assert!(
            !tool.input_schema.contains_key("$schema"),
            "{}: $schema is noise",
            tool.name
        );
    }
    all.cancel().await.unwrap();

    let default = stdio_with(&db, &[("SCS_TOOLS", "default")], &[]).await;
    let tools = default.list_all_tools().await.unwrap();
    let served = print_table("default profile", &tools);
    let total = served + unbuilt_allowance(&tools, ToolProfile::default());
    println!("default profile with allowances: {total} (budget {BUDGET_DEFAULT_PROFILE})");
    assert!(
        total <= BUDGET_DEFAULT_PROFILE,
        "default profile over budget: {total}"
    );
    default.cancel().await.unwrap();

    // For the table in the README: the other profiles' totals.
    for profile in ["core", "default,memory", "compat"] {
        let client = stdio_with(&db, &[("SCS_TOOLS", profile)], &[]).await;
        let tools = client.list_all_tools().await.unwrap();
        let total: usize = tools.iter().map(model_tokens).sum();
        println!(
            "SCS_TOOLS={profile}: {total} model-visible tokens, {} tools",
            tools.len()
        );
        client.cancel().await.unwrap();
    }
}

#[tokio::test]
async fn every_tool_has_a_title_and_the_four_hints() {
    let db = TestDb::new(Backend::Sqlite).await;
    let client = stdio_with(&db, &[], &["--tools", "all"]).await;
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(tools.len(), 32);
    for tool in &tools {
        let raw = serde_json::to_value(tool).unwrap();
        assert!(
            raw["title"].as_str().is_some_and(|t| t.len() <= 24),
            "{raw}"
        );
        let hints = &raw["annotations"];
        for hint in ["readOnlyHint", "destructiveHint", "idempotentHint"] {
            assert!(hints[hint].is_boolean(), "{}: {hint} missing", tool.name);
        }
        assert_eq!(hints["openWorldHint"], json!(false), "{}", tool.name);
        let read_only = hints["readOnlyHint"] == json!(true);
        assert_eq!(
            read_only,
            tool.name.starts_with("get_")
                || tool.name.starts_with("list_")
                || tool.name.starts_with("search_")
                || ["health", "wait_for_messages", "check_leases"].contains(&&*tool.name),
            "{}",
            tool.name
        );
    }
    let info = client.peer_info().unwrap();
    let instructions = info.instructions.as_deref().unwrap();
    assert!(
        instructions.contains("authenticate_agent") && instructions.contains("idempotency_key")
    );
    client.cancel().await.unwrap();
}

/// The arguments a call must give, per tool: the contract's, no more (an optional argument listed
/// as required makes a model fill it in on every call, and costs tokens).
#[tokio::test]
async fn required_arguments_are_exactly_the_contracts() {
    let db = TestDb::new(Backend::Sqlite).await;
    let client = stdio_with(&db, &[], &["--tools", "all"]).await;
    let tools = client.list_all_tools().await.unwrap();
    let mut required: Vec<String> = tools
        .iter()
        .flat_map(|t| {
            let names = t.input_schema.get("required").cloned().unwrap_or(json!([]));
            let names: Vec<String> = serde_json::from_value(names).unwrap();
            names.into_iter().map(move |n| format!("{}.{n}", t.name))
        })
        .collect();
    required.sort();
    let expected = [
        "ack_messages.message_ids",
        "add_message.content",
        "add_message.session_id",
        "ask.content",
        "ask.session_id",
        "ask.to",
        "authenticate_agent.agent_id",
        "authenticate_agent.agent_type",
        "claim_task.session_id",
        "close_session.session_id",
        "create_session.purpose",
        "create_task.session_id",
        "create_task.title",
        "delete_memory.key",
        "get_memory.key",
        "get_messages.session_id",
        "get_receipts.message_id",
        "get_session.session_id",
        "list_tasks.session_id",
        "refresh_token.current_token",
        "release_lease.lease_id",
        "search_by_sender.sender",
        "search_by_sender.session_id",
        "search_by_timerange.end_time",
        "search_by_timerange.session_id",
        "search_by_timerange.start_time",
        "search_context.query",
        "search_context.session_id",
        "set_memory.key",
        "set_memory.value",
        "update_task.state",
        "update_task.task_id",
        "wait_for_messages.session_id",
    ];
    assert_eq!(required, expected);
    client.cancel().await.unwrap();
}

fn names(tools: &[Tool]) -> Vec<String> {
    let mut names: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
    names.sort();
    names
}

#[tokio::test]
async fn compat_lists_exactly_the_python_servers_tools() {
    let db = TestDb::new(Backend::Sqlite).await;
    let client = stdio_with(&db, &[("SCS_TOOLS", "compat")], &[]).await;
    let tools = client.list_all_tools().await.unwrap();
    let mut upstream: Vec<String> = UPSTREAM_TOOLS.iter().map(|s| s.to_string()).collect();
    upstream.sort();
    assert_eq!(names(&tools), upstream);
    // A tool outside the profile is refused with the way to enable it, and runs nothing.
    let refused = call(&client, "list_sessions", json!({})).await;
    assert_eq!(refused.err_code(), "TOOL_NOT_ENABLED");
    assert!(
        refused.body["suggestions"][0]
            .as_str()
            .unwrap()
            .contains("SCS_TOOLS=compat,core")
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn profiles_choose_the_listed_and_callable_tools_over_stdio_and_http() {
    let db = TestDb::new(Backend::Sqlite).await;
    let client = stdio_with(&db, &[("SCS_TOOLS", "core,memory")], &[]).await;
    let listed = names(&client.list_all_tools().await.unwrap());
    assert!(listed.contains(&"set_memory".into()) && listed.contains(&"add_message".into()));
    assert!(!listed.contains(&"search_context".into()) && !listed.contains(&"health".into()));
    let token = login(&client, "alice", "claude", false).await;
    let set = call(
        &client,
        "set_memory",
        json!({"key": "k", "value": 1, "auth_token": token}),
    )
    .await;
    set.ok();
    let refused = call(
        &client,
        "search_context",
        json!({"session_id": "session_0123456789abcdef", "query": "x"}),
    )
    .await;
    assert_eq!(refused.err_code(), "TOOL_NOT_ENABLED");
    assert!(refused.body["error"].as_str().unwrap().contains("'search'"));
    client.cancel().await.unwrap();

    // A bad profile stops the server at start-up with the choices.
    let out = tokio::process::Command::new(BIN)
        .args(["--transport", "stdio", "--tools", "core,nonsense"])
        .envs(server_env(&db))
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("nonsense") && stderr.contains("coordination"),
        "{stderr}"
    );

    // client-config passes a chosen profile on: a flag for a spawned server, a header over HTTP.
    let config = tokio::process::Command::new(BIN)
        .args(["client-config", "codex", "--tools", "core,memory"])
        .envs(server_env(&db))
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&config.stdout);
    assert!(
        text.contains("X-SCS-Tools") && text.contains("\"core,memory\""),
        "{text}"
    );

    // Over HTTP each client may choose its own profile with a header.
    let server = HttpServer::start(&db, &[("SCS_TOOLS", "compat")]).await;
    let plain = server.client().await;
    assert_eq!(plain.list_all_tools().await.unwrap().len(), 14);
    let admin_only = server
        .client_with(&[("x-api-key", API_KEY), ("x-scs-tools", "admin")])
        .await
        .unwrap();
    assert_eq!(
        names(&admin_only.list_all_tools().await.unwrap()),
        [
            "get_performance_metrics",
            "get_usage_guidance",
            "health",
            "revoke_token"
        ]
    );
    assert!(!call(&admin_only, "health", json!({})).await.is_error);
    assert_eq!(
        call(
            &admin_only,
            "get_session",
            json!({"session_id": "session_0123456789abcdef"})
        )
        .await
        .err_code(),
        "TOOL_NOT_ENABLED"
    );
}

#[tokio::test]
async fn unknown_arguments_are_refused_on_every_tool_with_the_accepted_names() {
    let db = TestDb::new(Backend::Sqlite).await;
    let client = stdio_with(&db, &[("SCS_TOOLS", "all")], &[]).await;
    let token = login(&client, "alice", "claude", false).await;
    let session_id = new_session(&client, &token, "p").await;
    for tool in client.list_all_tools().await.unwrap() {
        let reply = call(&client, &tool.name, json!({"visibilty": "private"})).await;
        assert_eq!(
            reply.err_code(),
            "UNKNOWN_ARGUMENT",
            "{}: {}",
            tool.name,
            reply.body
        );
        let hint = reply.body["suggestions"][0].as_str().unwrap();
        for accepted in tool.input_schema["properties"].as_object().unwrap().keys() {
            assert!(hint.contains(accepted.as_str()), "{}: {hint}", tool.name);
        }
    }
    // The leak issue 14 names: a misspelt restriction must not post a public message.
    let reply = call(
        &client,
        "add_message",
        json!({"session_id": session_id, "content": "for me", "visibilty": "private", "auth_token": token}),
    )
    .await;
    assert_eq!(reply.err_code(), "UNKNOWN_ARGUMENT");
    assert!(
        reply.body["error"]
            .as_str()
            .unwrap()
            .contains("'visibilty'")
    );
    let read = call(
        &client,
        "get_messages",
        json!({"session_id": session_id, "auth_token": token}),
    )
    .await
    .ok();
    assert_eq!(read["count"], json!(0), "nothing was posted");
    client.cancel().await.unwrap();
}
