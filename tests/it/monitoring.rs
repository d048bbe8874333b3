//! The monitoring files in `deploy/` and the compose file's `monitoring` profile: they parse, they
//! are wired to each other, and every metric the dashboard and the alert rules query is one a
//! real server exposes (read from its `/metrics`). Prometheus and Grafana themselves are not run.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value as Json;
use serde_yaml_ng::Value as Yaml;

use crate::support::{Backend, HttpServer, TestDb};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(REPO).join(rel))
        .unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
}

fn yaml(rel: &str) -> Yaml {
    serde_yaml_ng::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel} is not YAML: {e}"))
}

/// Metric names in a PromQL expression: identifiers that start with our prefixes.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut current = String::new();
    for c in expr.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_alphanumeric() || c == '_' {
            current.push(c);
        } else {
            if current.starts_with("scs_") || current.starts_with("process_") {
                names.push(current.clone());
            }
            current.clear();
        }
    }
    names
}

/// Metric names a real server exposes (histogram families with their `_bucket`, `_sum`, `_count`).
async fn exposed() -> BTreeSet<String> {
    let db = TestDb::new(Backend::Postgres).await;
    let server = HttpServer::start(&db, &[]).await;
    // One call, so the per-tool families have samples.
    let client = server.client().await;
    crate::support::login(&client, "alice", "claude", false).await;
    let text = reqwest::get(format!("{}/metrics", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // Every declared family, sampled or not yet (no tool error has happened).
    let mut names = BTreeSet::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let (name, kind) = rest.split_once(' ').unwrap();
        if kind == "histogram" {
            for suffix in ["_bucket", "_sum", "_count"] {
                names.insert(format!("{name}{suffix}"));
            }
        } else {
            names.insert(name.to_owned());
        }
    }
    names
}

fn alert_rules() -> Vec<(String, String)> {
    let rules = yaml("deploy/prometheus/alerts.yml");
    rules["groups"]
        .as_sequence()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_sequence().expect("rules").clone())
        .map(|r| {
            let name = r["alert"].as_str().expect("alert name").to_owned();
            let expr = r["expr"].as_str().expect("expr").to_owned();
            assert!(r["for"].as_str().is_some(), "{name} has no `for`");
            assert!(
                r["annotations"]["summary"].as_str().is_some(),
                "{name} has no summary"
            );
            (name, expr)
        })
        .collect()
}

fn dashboard_exprs() -> Vec<String> {
    let dashboard: Json = serde_json::from_str(&read(
        "deploy/grafana/dashboards/shared-context-server.json",
    ))
    .expect("dashboard JSON");
    assert_eq!(dashboard["uid"], "shared-context-server");
    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(panels.len() >= 10);
    panels
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .map(|t| t["expr"].as_str().expect("target expr").to_owned())
        .collect()
}

#[tokio::test]
async fn dashboard_and_alerts_query_metrics_the_server_exposes_postgres() {
    let exposed = exposed().await;
    let rules = alert_rules();
    let names: BTreeSet<&str> = rules.iter().map(|(n, _)| n.as_str()).collect();
    for wanted in [
        "ScsDatabaseDown",
        "ScsToolErrorRatioHigh",
        "ScsToolLatencyP99High",
        "ScsPoolWaiting",
        "ScsUnauthorizedRate",
    ] {
        assert!(names.contains(wanted), "alert {wanted} missing: {names:?}");
    }
    let mut queried = Vec::new();
    for (name, expr) in &rules {
        queried.extend(metric_names(expr).into_iter().map(|m| (name.clone(), m)));
    }
    for expr in dashboard_exprs() {
        queried.extend(metric_names(&expr).into_iter().map(|m| (expr.clone(), m)));
    }
    assert!(queried.len() > 20);
    for (place, metric) in &queried {
        assert!(
            exposed.contains(metric),
            "{place} queries {metric}, which /metrics does not expose: {exposed:?}"
        );
    }
}

#[test]
fn compose_monitoring_profile_is_wired_to_deploy_files() {
    let compose = yaml("docker-compose.postgresql.yml");
    let services = &compose["services"];
    for name in ["prometheus", "grafana"] {
        let profiles = services[name]["profiles"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{name} has no profiles"));
        assert_eq!(profiles, &[Yaml::from("monitoring")], "{name}");
        // Published on loopback only.
        for port in services[name]["ports"].as_sequence().unwrap() {
            assert!(port.as_str().unwrap().starts_with("127.0.0.1:"), "{name}");
        }
        // Every host path it mounts exists in the repository.
        for volume in services[name]["volumes"].as_sequence().unwrap() {
            let spec = volume.as_str().unwrap();
            if let Some(rel) = spec.strip_prefix("./") {
                let host = rel.split(':').next().unwrap();
                assert!(Path::new(REPO).join(host).exists(), "{name} mounts {host}");
            }
        }
    }
    // The server itself is in no profile (it starts by default) and binds to loopback by default.
    let app = &services["shared-context-server"];
    assert!(app.get("profiles").is_none());
    assert_eq!(
        app["ports"][0].as_str(),
        Some("${SCS_BIND_ADDRESS:-127.0.0.1}:23456:23456")
    );
    // Prometheus scrapes the server's service name and loads the mounted rules file.
    let prometheus = yaml("deploy/prometheus/prometheus.yml");
    assert_eq!(
        prometheus["rule_files"][0].as_str(),
        Some("/etc/prometheus/alerts.yml")
    );
    let target = prometheus["scrape_configs"][0]["static_configs"][0]["targets"][0]
        .as_str()
        .unwrap();
    assert_eq!(target, "shared-context-server:23456");
    // Grafana's data source uid is the one the dashboard panels use.
    let datasource = yaml("deploy/grafana/provisioning/datasources/prometheus.yml");
    assert_eq!(
        datasource["datasources"][0]["uid"].as_str(),
        Some("prometheus")
    );
    assert_eq!(
        datasource["datasources"][0]["url"].as_str(),
        Some("http://prometheus:9090")
    );
    let provider = yaml("deploy/grafana/provisioning/dashboards/dashboards.yml");
    assert_eq!(
        provider["providers"][0]["options"]["path"].as_str(),
        Some("/var/lib/grafana/dashboards")
    );
}
