//! Packaging: the `healthcheck` subcommand against a real server (ready, not listening), and the
//! release metadata the Python wheel and crates.io read. The wheel itself is built and tested by
//! scripts/wheel/build_and_test.sh (a `.ci/run` step).

use std::process::{Command, Stdio};

use crate::support::{BIN, Backend, HttpServer, TestDb};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

fn healthcheck(port: &str) -> std::process::Output {
    Command::new(BIN)
        .arg("healthcheck")
        .env("HTTP_PORT", port)
        .env_remove("HTTP_HOST")
        // Nothing of the server's config is needed, nor created.
        .env("SCS_DATA_DIR", "/nonexistent/scs-healthcheck")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[tokio::test]
async fn healthcheck_subcommand_follows_readiness() {
    let db = TestDb::new(Backend::Sqlite).await;
    let mut server = HttpServer::start(&db, &[]).await;
    let port = server.base.rsplit(':').next().unwrap().to_owned();
    let out = tokio::task::spawn_blocking({
        let port = port.clone();
        move || healthcheck(&port)
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!std::path::Path::new("/nonexistent/scs-healthcheck").exists());
    server.child.kill().await.unwrap();
    // Nobody listens any more: exit 1 with a sentence that says so.
    let out = tokio::task::spawn_blocking(move || healthcheck(&port))
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot connect"), "{err}");
}

#[test]
fn release_metadata_is_complete() {
    let cargo: toml::Table =
        toml::from_str(&std::fs::read_to_string(format!("{REPO}/Cargo.toml")).unwrap()).unwrap();
    let package = cargo["package"].as_table().unwrap();
    for key in [
        "name",
        "version",
        "description",
        "license",
        "readme",
        "keywords",
        "categories",
        "rust-version",
    ] {
        assert!(
            package.contains_key(key),
            "Cargo.toml [package] lacks {key}"
        );
    }
    // Everything the build needs is in the published package.
    let include: Vec<&str> = package["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for needed in ["/src", "/migrations", "/build.rs", "/README.md"] {
        assert!(include.contains(&needed), "include lacks {needed}");
    }
    let py: toml::Table =
        toml::from_str(&std::fs::read_to_string(format!("{REPO}/pyproject.toml")).unwrap())
            .unwrap();
    assert_eq!(
        py["build-system"]["build-backend"].as_str(),
        Some("maturin")
    );
    assert_eq!(py["tool"]["maturin"]["bindings"].as_str(), Some("bin"));
    // The package name is what `uvx shared-context-server` looks up, and the version comes from
    // Cargo.toml.
    assert_eq!(py["project"]["name"].as_str(), package["name"].as_str());
    assert_eq!(
        py["project"]["dynamic"].as_array().unwrap()[0].as_str(),
        Some("version")
    );
}
