//! The dashboard's HTTP surface without a browser: the visibility matrix over its JSON and event
//! stream (both backends), cookie attributes, CSRF and Origin checks, the sign-in limit, the
//! human overseer's rules, newest-first paging, and a session's leases and tasks.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

/// A signed-in dashboard client: the cookie and the CSRF token the sign-in returned.
pub struct Dash {
    pub base: String,
    pub http: reqwest::Client,
    pub cookie: String,
    pub csrf: String,
}

pub async fn sign_in(base: &str, secret: &str) -> Result<Dash, (u16, Value)> {
    let http = reqwest::Client::new();
    let response = http
        .post(format!("{base}/ui/api/signin"))
        .header("origin", base)
        .json(&json!({"secret": secret}))
        .send()
        .await
        .expect("sign in");
    let status = response.status().as_u16();
    let cookie = response
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned());
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let Some(cookie) = cookie.filter(|_| status == 200) else {
        return Err((status, body));
    };
    Ok(Dash {
        base: base.to_owned(),
        http,
        cookie: cookie.split(';').next().unwrap().to_owned(),
        csrf: body["csrf"].as_str().unwrap().to_owned(),
    })
}

impl Dash {
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}/ui/api{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .expect("get");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/ui/api{path}", self.base))
            .header("cookie", &self.cookie)
            .header("origin", &self.base)
            .header("x-csrf-token", &self.csrf)
            .json(&body)
            .send()
            .await
            .expect("post");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// The ids of the `message` events the stream sends within `wait` (ending early at `want`).
    pub async fn events(
        &self,
        path: &str,
        last_event_id: Option<i64>,
        want: usize,
        wait: Duration,
    ) -> Vec<i64> {
        use futures_util::StreamExt;
        let mut request = self
            .http
            .get(format!("{}/ui/api{path}", self.base))
            .header("cookie", &self.cookie);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        let response = request.send().await.expect("events");
        assert_eq!(response.status().as_u16(), 200, "event stream refused");
        let mut stream = response.bytes_stream();
        let mut text = String::new();
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(Some(Ok(chunk))) = tokio::time::timeout_at(deadline, stream.next()).await {
            text.push_str(&String::from_utf8_lossy(&chunk));
            if text.matches("event: message").count() >= want {
                break;
            }
        }
        text.lines()
            .filter_map(|l| l.strip_prefix("id: "))
            .map(|id| id.trim().parse().unwrap())
            .collect()
    }
}

macro_rules! contract_pairs {
    ($($name:ident),*) => {
        mod sqlite { use super::*; $( #[tokio::test] async fn $name() { super::$name(Backend::Sqlite).await; } )* }
        mod postgres { use super::*; $( #[tokio::test] async fn $name() { super::$name(Backend::Postgres).await; } )* }
    };
}

contract_pairs!(
    dashboard_visibility_matrix,
    dashboard_history_pages_newest_first,
    dashboard_coordination_follows_the_read_rule
);

const VISIBILITIES: [&str; 4] = ["public", "private", "agent_only", "admin_only"];

/// The dashboard's JSON and event stream follow the visibility rule for every credential kind.
async fn dashboard_visibility_matrix(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let c = server.client().await;
    let alice = login(&c, "alice", "claude", false).await;
    let bob = login(&c, "bob", "claude", false).await;
    let carol = login(&c, "carol", "gemini", false).await;
    let root = login(&c, "root", "admin", true).await;
    let sid = new_session(&c, &alice, "matrix").await;
    // Every message posted so far, with its visibility.
    let mut posted: Vec<(&str, i64)> = Vec::new();
    for vis in VISIBILITIES {
        let sender = if vis == "admin_only" { &root } else { &alice };
        let body = call(&c, "add_message", json!({"session_id": sid, "content": format!("{vis} secret"), "visibility": vis, "auth_token": sender})).await.ok();
        posted.push((vis, body["message_id"].as_i64().unwrap()));
    }
    let readers: [(&str, &str, &[&str]); 5] = [
        ("admin key", ADMIN_KEY, &VISIBILITIES),
        ("API key", API_KEY, &["public"]),
        ("sender", &alice, &["public", "private", "agent_only"]),
        ("same type", &bob, &["public", "agent_only"]),
        ("other type", &carol, &["public"]),
    ];
    for (who, secret, allowed) in readers {
        let readable = |of: &[(&str, i64)]| -> Vec<i64> {
            of.iter()
                .filter(|(v, _)| allowed.contains(v))
                .map(|(_, id)| *id)
                .collect()
        };
        let expected = readable(&posted);
        let dash = sign_in(&server.base, secret)
            .await
            .unwrap_or_else(|e| panic!("{who}: {e:?}"));
        let (_, page) = dash
            .get(&format!("/sessions/{sid}/messages?limit=200"))
            .await;
        let mut got: Vec<i64> = page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_i64().unwrap())
            .collect();
        got.reverse();
        assert_eq!(got, expected, "{who}: history");
        let (_, found) = dash.get(&format!("/sessions/{sid}/search?q=secret")).await;
        let mut hits: Vec<i64> = found["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_i64().unwrap())
            .collect();
        hits.sort();
        assert_eq!(hits, readable(&posted[..4]), "{who}: search");
        let (_, list) = dash.get("/sessions").await;
        assert_eq!(
            list["sessions"][0]["message_count"],
            json!(expected.len()),
            "{who}: list count"
        );
        let (_, one) = dash.get(&format!("/sessions/{sid}")).await;
        assert_eq!(
            one["message_count"],
            json!(expected.len()),
            "{who}: session count"
        );
        let streamed = dash
            .events(
                &format!("/sessions/{sid}/events"),
                None,
                expected.len(),
                Duration::from_millis(1500),
            )
            .await;
        assert_eq!(streamed, expected, "{who}: event stream backlog");
        // Live: a new message of each visibility; the stream carries only the readable ones.
        let newest = posted.last().unwrap().1;
        let path = format!("/sessions/{sid}/events?after_id={newest}");
        let events = dash.events(&path, None, allowed.len(), Duration::from_secs(3));
        let post = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let mut new = Vec::new();
            for vis in VISIBILITIES {
                let sender = if vis == "admin_only" { &root } else { &alice };
                let body = call(&c, "add_message", json!({"session_id": sid, "content": "live", "visibility": vis, "auth_token": sender})).await.ok();
                new.push((vis, body["message_id"].as_i64().unwrap()));
            }
            new
        };
        let (streamed, new) = tokio::join!(events, post);
        assert_eq!(streamed, readable(&new), "{who}: live events");
        posted.extend(new);
    }
}

/// Newest first, a cursor per page, across several pages; the same on both backends.
async fn dashboard_history_pages_newest_first(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let c = server.client().await;
    let alice = login(&c, "alice", "claude", false).await;
    let sid = new_session(&c, &alice, "paging").await;
    let mut posted = Vec::new();
    for i in 0..25 {
        let vis = if i % 5 == 0 { "private" } else { "public" };
        let body = call(&c, "add_message", json!({"session_id": sid, "content": format!("m{i}"), "visibility": vis, "auth_token": alice})).await.ok();
        if vis == "public" {
            posted.push(body["message_id"].as_i64().unwrap());
        }
    }
    let dash = sign_in(&server.base, API_KEY).await.unwrap();
    let mut seen: Vec<i64> = Vec::new();
    let mut cursor: Option<i64> = None;
    loop {
        let path = match cursor {
            Some(c) => format!("/sessions/{sid}/messages?limit=7&before_id={c}"),
            None => format!("/sessions/{sid}/messages?limit=7"),
        };
        let (status, page) = dash.get(&path).await;
        assert_eq!(status, 200, "{page}");
        let ids: Vec<i64> = page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_i64().unwrap())
            .collect();
        if ids.is_empty() {
            break;
        }
        seen.extend(&ids);
        cursor = page["before_id"].as_i64();
    }
    posted.reverse();
    assert_eq!(seen, posted);
    let (status, body) = dash
        .get(&format!("/sessions/{sid}/messages?before_id=0"))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("INVALID_INPUT"))
    );
    let (status, _) = dash
        .get("/sessions/session_0000000000000000/messages")
        .await;
    assert_eq!(status, 404);
}

/// One scripted message: sender's token, visibility, text, index of the message it answers.
type Line<'a> = (&'a String, &'a str, &'a str, Option<usize>);

/// A few sessions of agents at work, for screenshots and the session list.
pub async fn demo_sessions(c: &Client) {
    let planner = login(c, "planner", "claude", false).await;
    let coder = login(c, "coder-1", "codex", false).await;
    let reviewer = login(c, "reviewer", "gemini", false).await;
    let root = login(c, "ops-bot", "system", true).await;
    let scripts: [(&str, &[Line]); 3] = [
        (
            "Nightly pipeline: why do the 3 a.m. loads fail?",
            &[
                (
                    &planner,
                    "public",
                    "The 03:00 load failed 4 nights out of 7. Gathering logs from the scheduler now.",
                    None,
                ),
                (
                    &coder,
                    "public",
                    "Found it: the upstream export finishes at 03:02 on Mondays and Thursdays, so we read a half-written file.",
                    Some(0),
                ),
                (
                    &reviewer,
                    "agent_only",
                    "Check whether the export writes to a temp name and renames; if so we can wait for the rename.",
                    Some(1),
                ),
                (
                    &planner,
                    "public",
                    "Plan: poll for the _SUCCESS marker for up to 20 minutes, then alert. coder-1, can you take it?",
                    None,
                ),
            ],
        ),
        (
            "Release 1.4 checklist",
            &[
                (
                    &planner,
                    "public",
                    "Changelog drafted. Waiting on the migration note.",
                    None,
                ),
                (
                    &root,
                    "admin_only",
                    "Reminder: rotate the staging API key after the release.",
                    None,
                ),
            ],
        ),
        (
            "Refactor the billing service to async",
            &[
                (
                    &planner,
                    "public",
                    "Goal: move invoice rendering off the request thread. Three steps: queue, worker, status endpoint.",
                    None,
                ),
                (
                    &coder,
                    "public",
                    "Step 1 done: invoices go onto the jobs queue. p95 of POST /invoices dropped from 840 ms to 35 ms.",
                    Some(0),
                ),
                (
                    &reviewer,
                    "public",
                    "Reviewed step 1. One concern: a retry can render the same invoice twice. Use the invoice id as an idempotency key?",
                    Some(1),
                ),
                (
                    &coder,
                    "public",
                    "Good catch, added. Retried jobs now return the first result.",
                    Some(2),
                ),
                (
                    &coder,
                    "private",
                    "Note to self: the PDF library leaks a file handle on error; fix before step 2.",
                    None,
                ),
                (
                    &planner,
                    "public",
                    "Step 2 (worker) starting. reviewer, please look at the status endpoint shape when you can.",
                    None,
                ),
            ],
        ),
    ];
    for (purpose, lines) in scripts {
        let sid = call(
            c,
            "create_session",
            json!({"purpose": purpose, "auth_token": planner}),
        )
        .await
        .ok()["session_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut ids: Vec<i64> = Vec::new();
        for (who, vis, text, parent) in lines.iter() {
            let mut args =
                json!({"session_id": sid, "content": text, "visibility": vis, "auth_token": who});
            if let Some(p) = parent {
                args["parent_message_id"] = json!(ids[*p]);
            }
            if text.contains("p95") {
                args["metadata"] = json!({"step": 1, "p95_ms_before": 840, "p95_ms_after": 35});
            }
            ids.push(
                call(c, "add_message", args).await.ok()["message_id"]
                    .as_i64()
                    .unwrap(),
            );
        }
        for _ in 0..3 {
            call(
                c,
                "search_context",
                json!({"session_id": sid, "query": "invoice", "auth_token": reviewer}),
            )
            .await
            .ok();
            call(
                c,
                "get_messages",
                json!({"session_id": sid, "auth_token": coder}),
            )
            .await
            .ok();
        }
    }
    // A couple of failures, so the error series has something to show.
    for _ in 0..2 {
        let _ = call(
            c,
            "get_messages",
            json!({"session_id": "session_0000000000000000", "auth_token": coder}),
        )
        .await;
    }
}

/// The session page's leases and tasks: a reader of the session sees its live leases (not those
/// of another session, not global ones, not released ones) and its tasks with blocked_by; a
/// revoked token and no sign-in at all see nothing.
async fn dashboard_coordination_follows_the_read_rule(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let c = server.client().await;
    let alice = login(&c, "alice", "claude", false).await;
    let bob = login(&c, "bob", "claude", false).await;
    let session = |purpose: &'static str| {
        let (c, alice) = (&c, &alice);
        async move {
            call(
                c,
                "create_session",
                json!({"purpose": purpose, "auth_token": alice}),
            )
            .await
            .ok()["session_id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let (sid, other) = (session("coordination").await, session("elsewhere").await);
    let lease = |args: Value| {
        let c = &c;
        async move {
            call(c, "acquire_lease", args).await.ok()["lease_id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let held =
        lease(json!({"resources": ["src/db/**"], "session_id": sid, "auth_token": alice})).await;
    let released = lease(
        json!({"resources": ["docs/*.md"], "session_id": sid, "mode": "shared", "auth_token": bob}),
    )
    .await;
    call(
        &c,
        "release_lease",
        json!({"lease_id": released, "auth_token": bob}),
    )
    .await
    .ok();
    lease(json!({"resources": ["deploy-slot"], "session_id": other, "auth_token": bob})).await;
    lease(json!({"resources": ["Cargo.lock"], "auth_token": bob})).await;
    let task = |args: Value| {
        let c = &c;
        async move {
            call(c, "create_task", args).await.ok()["task_id"]
                .as_i64()
                .unwrap()
        }
    };
    let design = task(json!({"session_id": sid, "title": "design", "auth_token": alice})).await;
    let build = task(json!({"session_id": sid, "title": "build", "depends_on": [design], "assignee": "bob", "auth_token": alice})).await;
    task(json!({"session_id": other, "title": "not here", "auth_token": alice})).await;
    call(
        &c,
        "claim_task",
        json!({"session_id": sid, "task_id": design, "auth_token": bob}),
    )
    .await
    .ok();

    let path = format!("/sessions/{sid}/coordination");
    for secret in [API_KEY, bob.as_str(), ADMIN_KEY] {
        let dash = sign_in(&server.base, secret).await.unwrap();
        let (status, body) = dash.get(&path).await;
        assert_eq!(status, 200, "{body}");
        let leases = body["leases"].as_array().unwrap();
        assert_eq!(leases.len(), 1, "only the session's live lease: {body}");
        assert_eq!(leases[0]["lease_id"], json!(held), "{body}");
        assert_eq!(leases[0]["resources"], json!(["src/db/**"]), "{body}");
        assert_eq!(leases[0]["held_by"], json!("alice"), "{body}");
        assert_eq!(leases[0]["mode"], json!("exclusive"), "{body}");
        assert!(leases[0]["expires_at"].is_string(), "{body}");
        let tasks = body["tasks"].as_array().unwrap();
        let ids: Vec<i64> = tasks
            .iter()
            .map(|t| t["task_id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, [design, build], "{body}");
        assert_eq!(tasks[0]["state"], json!("working"), "{body}");
        assert_eq!(tasks[0]["claimed_by"], json!("bob"), "{body}");
        assert_eq!(tasks[1]["assignee"], json!("bob"), "{body}");
        assert_eq!(tasks[1]["blocked_by"], json!([design]), "{body}");
    }

    // Every credential holds read (it is granted with any other), so the readers without rights
    // are those whose credential no longer counts: a revoked token's dashboard session gets 401
    // and nothing of the board.
    let wanda = login(&c, "wanda", "claude", false).await;
    let dash = sign_in(&server.base, &wanda).await.unwrap();
    assert_eq!(dash.get(&path).await.0, 200);
    call(&c, "revoke_token", json!({"auth_token": wanda}))
        .await
        .ok();
    let (status, body) = dash.get(&path).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body.get("leases").is_none() && body.get("tasks").is_none(),
        "{body}"
    );
    // No sign-in at all.
    let anonymous = reqwest::get(format!("{}/ui/api{path}", server.base))
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let text = anonymous.text().await.unwrap();
    assert!(
        !text.contains("src/db") && !text.contains("design"),
        "{text}"
    );
    // An unknown session is an error, not an empty board.
    let admin = sign_in(&server.base, ADMIN_KEY).await.unwrap();
    let (status, _) = admin
        .get("/sessions/session_0000000000000000/coordination")
        .await;
    assert_eq!(status, 404);
}
