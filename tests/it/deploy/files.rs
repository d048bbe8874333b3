//! The compose file and the Dockerfile, checked as text against docs/operations.md and each other (no Docker engine involved).

use super::*;

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The lines nested under a chain of mapping keys in a block-style YAML file (comments and blank
/// lines dropped). Enough for our compose file; no YAML dependency.
pub(super) fn yaml_block<'a>(yaml: &'a str, path: &[&str]) -> Vec<&'a str> {
    let mut lines: Vec<&str> = yaml
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .collect();
    for key in path {
        let base = lines.iter().map(|l| indent(l)).min().unwrap_or(0);
        let start = lines
            .iter()
            .position(|l| {
                indent(l) == base
                    && l.trim_start()
                        .split_once(':')
                        .is_some_and(|(k, _)| k.trim_matches('"') == *key)
            })
            .unwrap_or_else(|| panic!("no key {key} in path {path:?}"));
        lines = lines[start + 1..]
            .iter()
            .take_while(|l| indent(l) > base)
            .copied()
            .collect();
    }
    lines
}

/// `key: value` directly under `path`, unquoted.
fn yaml_value(yaml: &str, path: &[&str], key: &str) -> Option<String> {
    let block = yaml_block(yaml, path);
    let base = block.iter().map(|l| indent(l)).min()?;
    block.iter().filter(|l| indent(l) == base).find_map(|l| {
        let (k, v) = l.trim().split_once(':')?;
        (k == key).then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// `- item` entries directly under `path`, unquoted.
fn yaml_list(yaml: &str, path: &[&str]) -> Vec<String> {
    let block = yaml_block(yaml, path);
    let base = block.iter().map(|l| indent(l)).min().unwrap_or(0);
    block
        .iter()
        .filter(|l| indent(l) == base)
        .filter_map(|l| l.trim().strip_prefix("- "))
        .map(|item| item.trim().trim_matches('"').to_owned())
        .collect()
}

/// Keys directly under `path`.
fn yaml_keys(yaml: &str, path: &[&str]) -> Vec<String> {
    let block = yaml_block(yaml, path);
    let base = block.iter().map(|l| indent(l)).min().unwrap_or(0);
    block
        .iter()
        .filter(|l| indent(l) == base && !l.trim().starts_with('-'))
        .filter_map(|l| l.trim().split_once(':'))
        .map(|(k, _)| k.to_owned())
        .collect()
}

#[test]
fn compose_file_wiring() {
    let compose = repo_file("docker-compose.postgresql.yml");
    let readme = repo_file("README.md");
    assert!(
        !compose.lines().any(|l| l.starts_with("version:")),
        "the top-level version key is obsolete in Compose v2"
    );
    let services = yaml_keys(&compose, &["services"]);
    // prometheus and grafana belong to the `monitoring` profile (tests/it/monitoring.rs).
    assert_eq!(
        services,
        ["postgres", "shared-context-server", "prometheus", "grafana"]
    );

    // PostgreSQL: version 15, checksums, our two files mounted read-only and actually used.
    let pg = ["services", "postgres"];
    assert_eq!(
        yaml_value(&compose, &pg, "image").as_deref(),
        Some("postgres:15")
    );
    assert_eq!(
        yaml_value(&compose, &pg, "restart").as_deref(),
        Some("unless-stopped")
    );
    let pg_env = |k: &str| {
        yaml_value(&compose, &["services", "postgres", "environment"], k)
            .unwrap_or_else(|| panic!("postgres env {k}"))
    };
    assert!(pg_env("POSTGRES_INITDB_ARGS").contains("--data-checksums"));
    assert_eq!(
        pg_env("POSTGRES_PASSWORD"),
        "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}",
        "no default password"
    );
    let (db, user) = (pg_env("POSTGRES_DB"), pg_env("POSTGRES_USER"));
    let command = yaml_value(&compose, &pg, "command").expect("postgres command");
    let volumes = yaml_list(&compose, &["services", "postgres", "volumes"]);
    for file in ["postgresql.conf", "pg_hba.conf"] {
        let target = format!("/etc/postgresql/{file}");
        let mount = volumes
            .iter()
            .find(|v| v.contains(&format!(":{target}")))
            .unwrap_or_else(|| panic!("{file} is not mounted: {volumes:?}"));
        let source = mount.split(':').next().unwrap();
        assert!(
            Path::new(REPO).join(source).is_file(),
            "{source} does not exist in the repository"
        );
        assert!(mount.ends_with(":ro"), "mount {file} read-only: {mount}");
        let flag = if file == "pg_hba.conf" {
            "hba_file"
        } else {
            "config_file"
        };
        assert!(
            command.contains(&format!("-c {flag}={target}")),
            "the command must use {target}: {command}"
        );
    }
    assert!(
        volumes
            .iter()
            .any(|v| v.ends_with(":/var/lib/postgresql/data")),
        "the data directory needs a named volume"
    );
    let pg_check = compose_healthcheck(&compose, "postgres").join(" ");
    assert!(
        pg_check.contains("pg_isready") && pg_check.contains("-h 127.0.0.1"),
        "pg_isready over TCP: {pg_check}"
    );
    assert!(
        yaml_block(&compose, &["services", "postgres"])
            .iter()
            .all(|l| !l.trim_start().starts_with("ports:")),
        "the database port stays unpublished"
    );

    // The server: built here, waits for a healthy database, port 23456, required secrets.
    let app = ["services", "shared-context-server"];
    assert_eq!(yaml_value(&compose, &app, "build").as_deref(), Some("."));
    assert!(Path::new(REPO).join("Dockerfile").is_file());
    assert_eq!(
        yaml_value(&compose, &app, "restart").as_deref(),
        Some("unless-stopped")
    );
    assert_eq!(
        yaml_value(
            &compose,
            &[
                "services",
                "shared-context-server",
                "depends_on",
                "postgres"
            ],
            "condition"
        )
        .as_deref(),
        Some("service_healthy")
    );
    assert_eq!(
        yaml_list(&compose, &["services", "shared-context-server", "ports"]),
        ["${SCS_BIND_ADDRESS:-127.0.0.1}:23456:23456"]
    );
    let app_check = compose_healthcheck(&compose, "shared-context-server").join(" ");
    assert_eq!(
        app_check,
        "/usr/local/bin/shared-context-server healthcheck"
    );
    let env_path = ["services", "shared-context-server", "environment"];
    let app_env =
        |k: &str| yaml_value(&compose, &env_path, k).unwrap_or_else(|| panic!("server env {k}"));
    for key in yaml_keys(&compose, &env_path) {
        assert!(
            readme.contains(&format!("`{key}`")),
            "{key} is not a documented setting (README configuration table)"
        );
    }
    assert_eq!(
        app_env("DATABASE_URL"),
        format!(
            "postgres://{user}:${{POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}}@postgres:5432/{db}"
        ),
        "DATABASE_URL must reach the postgres service with its user, password and database"
    );
    for key in ["API_KEY", "ADMIN_API_KEY"] {
        assert!(
            app_env(key).starts_with(&format!("${{{key}:?")),
            "{key} must be required, never defaulted"
        );
    }
    assert!(
        app_env("ALLOWED_HOSTS").contains("localhost"),
        "the health check sends Host: localhost"
    );
    assert_eq!(app_env("HTTP_HOST"), "0.0.0.0");
    assert_eq!(app_env("HTTP_PORT"), "23456");
    for (key, default) in [
        ("POSTGRES_POOL_SIZE", "20"),
        ("POSTGRES_MAX_OVERFLOW", "10"),
        ("POSTGRES_POOL_TIMEOUT", "30"),
        ("POSTGRES_POOL_RECYCLE", "3600"),
    ] {
        assert_eq!(
            app_env(key),
            format!("${{{key}:-{default}}}"),
            "{key} with the seed's default"
        );
    }
    // Every interpolation has a default (:-) or is required (:?): nothing silently empty.
    for (i, _) in compose.match_indices("${") {
        let var = &compose[i..compose[i..].find('}').map(|e| i + e + 1).unwrap()];
        assert!(
            var.contains(":-") || var.contains(":?"),
            "{var} may expand to nothing"
        );
    }

    // Volumes and network: every named volume is declared; pg_hba.conf admits the pinned subnet.
    let declared = yaml_keys(&compose, &["volumes"]);
    for service in &services {
        for mount in yaml_list(&compose, &["services", service, "volumes"]) {
            let source = mount.split(':').next().unwrap();
            if !source.starts_with('.') && !source.starts_with('/') {
                assert!(
                    declared.iter().any(|d| d == source),
                    "volume {source} of {service} is not declared: {declared:?}"
                );
            }
        }
        assert_eq!(
            yaml_list(&compose, &["services", service, "networks"]),
            ["backend"],
            "{service} network"
        );
    }
    let subnet = yaml_block(&compose, &["networks", "backend", "ipam", "config"])
        .iter()
        .find_map(|l| {
            l.trim()
                .trim_start_matches("- ")
                .strip_prefix("subnet:")
                .map(|s| s.trim().to_owned())
        })
        .expect("pinned subnet");
    let hba = repo_file("postgresql/pg_hba.conf");
    let app_rule = hba
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.len() == 5 && f[0] == "host" && f[1] == db && f[2] == user)
        .expect("a pg_hba.conf rule for the app's role and database");
    assert_eq!(
        app_rule[3], subnet,
        "pg_hba.conf must admit the compose network"
    );
    assert_eq!(app_rule[4], "scram-sha-256");
}

#[test]
fn dockerfile_wiring() {
    let dockerfile = repo_file("Dockerfile");
    let ignore = repo_file(".dockerignore");
    let cargo = repo_file("Cargo.toml");
    let froms: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(froms.len(), 2, "multi-stage: builder and runtime");
    let builder = froms[0].split_whitespace().nth(1).unwrap();
    let rust = builder
        .strip_prefix("rust:")
        .and_then(|t| t.strip_suffix("-bookworm"))
        .expect("rust:<version>-bookworm builder");
    let minimum = cargo
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .unwrap()
        .trim_matches('"');
    let version = |v: &str| {
        v.split('.')
            .map(|p| p.parse::<u32>().unwrap())
            .collect::<Vec<_>>()
    };
    assert!(
        version(rust) >= version(minimum),
        "builder Rust {rust} is older than rust-version {minimum}"
    );
    assert_eq!(
        froms[1], "FROM debian:bookworm-slim",
        "runtime on the builder's Debian release"
    );
    assert!(
        dockerfile
            .lines()
            .filter(|l| l.contains("cargo build"))
            .all(|l| l.contains("--release --locked"))
    );
    assert!(
        dockerfile.contains("--no-install-recommends ca-certificates \\\n"),
        "the runtime installs ca-certificates only"
    );
    for needle in [
        "USER 10001:10001",
        "EXPOSE 23456",
        "HTTP_HOST=0.0.0.0",
        "SCS_DATA_DIR=/data",
        "VOLUME [\"/data\"]",
        "ENTRYPOINT [\"/usr/local/bin/shared-context-server\"]",
        "--uid 10001",
    ] {
        assert!(dockerfile.contains(needle), "Dockerfile lacks {needle}");
    }
    let check = dockerfile_healthcheck(&dockerfile).join(" ");
    assert_eq!(check, "/usr/local/bin/shared-context-server healthcheck");

    // Everything the build copies exists and is not excluded from the build context.
    let ignored: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.trim_end_matches('/'))
        .collect();
    let mut copied: Vec<String> = Vec::new();
    for line in dockerfile
        .lines()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from="))
    {
        let parts: Vec<&str> = line.split_whitespace().collect();
        for source in &parts[1..parts.len() - 1] {
            assert!(
                Path::new(REPO).join(source).exists(),
                "COPY {source}: missing from the repository"
            );
            assert!(
                !ignored.contains(source),
                "COPY {source}: excluded by .dockerignore"
            );
            copied.push((*source).to_owned());
        }
    }
    // Cargo refuses a manifest whose explicit targets ([lib], [[bin]], [[example]], ...) point at
    // missing files, so each must be among what the build copies.
    for path in cargo.lines().filter_map(|l| {
        l.trim()
            .strip_prefix("path = \"")
            .and_then(|p| p.strip_suffix('"'))
    }) {
        assert!(
            copied
                .iter()
                .any(|c| path == c || path.starts_with(&format!("{c}/"))),
            "Cargo.toml target {path} is not copied into the build stage (COPY list: {copied:?})"
        );
    }
    for heavy in ["target", ".git"] {
        assert!(
            ignored.contains(&heavy),
            ".dockerignore must exclude {heavy}"
        );
    }
}
