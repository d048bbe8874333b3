//! The dashboard's guards: cookie attributes, sign-out, CSRF and Origin on writes, the limit on
//! failed sign-ins, who may act as the human overseer, and the reserved `human` agent type.

use std::time::Duration;

use serde_json::{Value, json};

use crate::dashboard::{Dash, sign_in};
use crate::support::*;

async fn raw_sign_in(base: &str, secret: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(format!("{base}/ui/api/signin"))
        .header("origin", base)
        .json(&json!({"secret": secret}));
    for (k, v) in extra {
        request = request.header(*k, *v);
    }
    request.send().await.expect("sign in")
}

#[tokio::test]
async fn dashboard_cookie_is_http_only_strict_and_secure_behind_tls() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = HttpServer::start(&db, &[]).await;
    let plain = raw_sign_in(&server.base, API_KEY, &[]).await;
    let cookie = plain.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attr in ["HttpOnly", "SameSite=Strict", "Max-Age=28800", "Path=/ui"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "no TLS, no Secure: {cookie}");
    assert!(!cookie.contains(API_KEY), "the key is not the cookie");
    let tls = raw_sign_in(&server.base, API_KEY, &[("x-forwarded-proto", "https")]).await;
    assert!(
        tls.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("; Secure")
    );
    // The page itself carries the policy: no inline script, nothing from elsewhere.
    let page = reqwest::get(format!("{}/ui/", server.base)).await.unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script>") && !html.contains("http://") && !html.contains("https://"));
    // The key never reached the log.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let log = server.stderr.lock().unwrap().join("\n");
    assert!(
        !log.contains(API_KEY) && !log.contains(ADMIN_KEY),
        "a key is in the log"
    );
}

#[tokio::test]
async fn dashboard_writes_need_origin_and_csrf_and_sign_out_ends_the_cookie() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = HttpServer::start(&db, &[]).await;
    let c = server.client().await;
    let alice = login(&c, "alice", "claude", false).await;
    let sid = new_session(&c, &alice, "guards").await;
    let dash = sign_in(&server.base, ADMIN_KEY).await.unwrap();
    let post = |origin: Option<&str>, csrf: Option<&str>| {
        let mut r = dash
            .http
            .post(format!("{}/ui/api/sessions/{sid}/messages", dash.base))
            .header("cookie", &dash.cookie)
            .json(&json!({"name": "Ada", "content": "hi"}));
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        if let Some(t) = csrf {
            r = r.header("x-csrf-token", t);
        }
        r.send()
    };
    let refused: Vec<u16> = vec![
        post(None, Some(&dash.csrf))
            .await
            .unwrap()
            .status()
            .as_u16(),
        post(Some(&dash.base), None)
            .await
            .unwrap()
            .status()
            .as_u16(),
        post(Some(&dash.base), Some("0000"))
            .await
            .unwrap()
            .status()
            .as_u16(),
        post(Some("http://localhost:1"), Some(&dash.csrf))
            .await
            .unwrap()
            .status()
            .as_u16(),
    ];
    assert_eq!(refused, vec![403, 403, 403, 403]);
    let page = call(
        &c,
        "get_messages",
        json!({"session_id": sid, "auth_token": alice}),
    )
    .await
    .ok();
    assert_eq!(
        page["messages"],
        json!([]),
        "a refused write changed nothing"
    );
    assert_eq!(
        post(Some(&dash.base), Some(&dash.csrf))
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    // Signing in needs our Origin too.
    let no_origin = reqwest::Client::new()
        .post(format!("{}/ui/api/signin", server.base))
        .json(&json!({"secret": ADMIN_KEY}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_origin.status().as_u16(), 403);
    // Sign-out: the cookie stops working at once.
    assert_eq!(dash.post("/signout", json!({})).await.0, 200);
    assert_eq!(dash.get("/me").await.0, 401);
    assert_eq!(dash.get("/sessions").await.0, 401);
}

#[tokio::test]
async fn dashboard_failed_sign_ins_are_rate_limited() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = HttpServer::start(&db, &[]).await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(
            raw_sign_in(&server.base, "wrong-key", &[])
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, vec![401, 401, 401, 401, 401, 429]);
    // Locked out even with the right key until the window passes; the answer says when.
    let locked = raw_sign_in(&server.base, ADMIN_KEY, &[]).await;
    assert_eq!(locked.status().as_u16(), 429);
    assert!(locked.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn dashboard_only_admins_act_as_humans_and_agents_cannot_claim_to_be_human() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = HttpServer::start(&db, &[]).await;
    let c = server.client().await;
    let alice = login(&c, "alice", "claude", false).await;
    let sid = new_session(&c, &alice, "humans").await;
    let body = json!({"name": "Ada", "content": "hello"});
    for secret in [API_KEY, alice.as_str()] {
        let dash: Dash = sign_in(&server.base, secret).await.unwrap();
        let (status, reply) = dash
            .post(&format!("/sessions/{sid}/messages"), body.clone())
            .await;
        assert_eq!(
            (status, reply["code"].as_str()),
            (403, Some("PERMISSION_DENIED")),
            "{reply}"
        );
        assert_eq!(
            dash.post(&format!("/sessions/{sid}/close"), json!({"name": "Ada"}))
                .await
                .0,
            403
        );
        assert_eq!(dash.get("/audit").await.0, 403);
    }
    let admin = sign_in(&server.base, ADMIN_KEY).await.unwrap();
    let (status, reply) = admin
        .post(
            &format!("/sessions/{sid}/messages"),
            json!({"name": "Ada", "content": "x", "visibility": "private"}),
        )
        .await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (400, Some("INVALID_VISIBILITY")),
        "{reply}"
    );
    let (status, reply) = admin
        .post(
            &format!("/sessions/{sid}/messages"),
            json!({"name": " ", "content": "x"}),
        )
        .await;
    assert_eq!(status, 400, "{reply}");
    let (status, reply) = admin.post(&format!("/sessions/{sid}/messages"), body).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        (reply["sender"].as_str(), reply["sender_type"].as_str()),
        (Some("Ada"), Some("human"))
    );
    // No agent can take the human type, so `human` always means a person.
    let refused = call(
        &c,
        "authenticate_agent",
        json!({"agent_id": "mallory", "agent_type": "Human"}),
    )
    .await;
    assert_eq!(refused.err_code(), "INVALID_INPUT");
    // An agent token signed in to the dashboard loses its view when the token is revoked.
    let dash = sign_in(&server.base, &alice).await.unwrap();
    assert_eq!(dash.get("/me").await.1["name"], json!("alice"));
    call(&c, "revoke_token", json!({"auth_token": alice}))
        .await
        .ok();
    assert_eq!(dash.get("/sessions").await.0, 401);
    let (status, _): (u16, Value) = admin
        .post(&format!("/sessions/{sid}/close"), json!({"name": "Ada"}))
        .await;
    assert_eq!(status, 200);
    let page = call(&c, "get_session", json!({"session_id": sid}))
        .await
        .ok();
    assert_eq!(page["session"]["is_active"], json!(false), "{page}");
}

#[tokio::test]
async fn dashboard_event_stream_resumes_after_last_event_id() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = HttpServer::start(&db, &[]).await;
    let c = server.client().await;
    let alice = login(&c, "alice", "claude", false).await;
    let sid = new_session(&c, &alice, "resume").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            call(
                &c,
                "add_message",
                json!({"session_id": sid, "content": format!("m{i}"), "auth_token": alice}),
            )
            .await
            .ok()["message_id"]
                .as_i64()
                .unwrap(),
        );
    }
    let dash = sign_in(&server.base, API_KEY).await.unwrap();
    // A reconnect with Last-Event-ID gets exactly what came after it, whatever ?after_id says.
    let resumed = dash
        .events(
            &format!("/sessions/{sid}/events?after_id=0"),
            Some(ids[1]),
            3,
            Duration::from_millis(1500),
        )
        .await;
    assert_eq!(resumed, ids[2..].to_vec());
    // Without a sign-in there is no stream.
    let anonymous = reqwest::get(format!("{}/ui/api/sessions/{sid}/events", server.base))
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
}
