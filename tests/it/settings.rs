//! The settings table through the real binary: the README table and `--help` come from it,
//! `config show` names each value's source, `SCS_` names beat legacy ones, the default config
//! file is read, precedence is flag > env > file > default, and server flags belong to `serve`.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use shared_context_server::config::settings::{SETTINGS, markdown_table};

use crate::support::{BIN, temp_dir};

/// The binary with a clean environment: only `env`, and a config home of our own.
fn run(config_home: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_clear()
        .env("XDG_CONFIG_HOME", config_home)
        .env("SCS_DATA_DIR", config_home.join("data"))
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// `config show`'s line for `key`: (value, source).
fn shown(text: &str, key: &str) -> (String, String) {
    let line = text
        .lines()
        .find(|l| l.split_whitespace().next() == Some(key))
        .unwrap_or_else(|| panic!("no {key} in {text}"));
    let mut words = line.split_whitespace().skip(1);
    let value = words.next().unwrap().to_owned();
    (value, words.collect::<Vec<_>>().join(" "))
}

fn write_default_file(home: &Path, text: &str) -> std::path::PathBuf {
    let dir = home.join("shared-context-server");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn readme_table_is_the_settings_table() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let (begin, end) = ("<!-- settings:begin -->\n", "<!-- settings:end -->");
    let start = readme.find(begin).expect("README has the settings markers") + begin.len();
    let stop = readme
        .find(end)
        .expect("README has the settings end marker");
    let table = markdown_table();
    if std::env::var_os("UPDATE_README").is_some() {
        let updated = format!("{}{table}{}", &readme[..start], &readme[stop..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    assert!(
        readme[start..stop] == table,
        "README's configuration table differs from src/config/settings.rs; \
         run `UPDATE_README=1 cargo test --test it settings::readme` to regenerate it"
    );
}

#[test]
fn help_lists_every_setting_and_its_names() {
    let home = temp_dir();
    for args in [&["--help"][..], &["serve", "--help"]] {
        let help = stdout(&run(&home, &[], args));
        for s in SETTINGS {
            assert!(help.contains(s.key), "{args:?} lacks {}", s.key);
            for name in s.env_names() {
                assert!(help.contains(&name), "{args:?} lacks {name}");
            }
        }
    }
    // The short help stays short and says where the list is.
    let short = stdout(&run(&home, &[], &["-h"]));
    assert!(!short.contains("SCS_POSTGRES_SSL_KEY") && short.contains("--help"));
}

#[test]
fn config_show_names_each_source_and_masks_secrets() {
    let home = temp_dir();
    let file = write_default_file(
        &home,
        "host = \"0.0.0.0\"\nport = 7000\nadmin_api_key = \"admin-key-from-the-file-0123\"\n\
         [postgres]\npool_size = 3\n",
    );
    let text = stdout(&run(
        &home,
        &[
            ("HTTP_PORT", "7001"),
            ("SCS_RATE_LIMIT_BURST", "9"),
            ("RATE_LIMIT_BURST", "8"),
            ("API_KEY", "agent-key-from-the-env-0123"),
            ("DATABASE_URL", "postgres://u:hunter2@db:5432/x"),
        ],
        &["config", "show", "--tools", "all"],
    ));
    let file = format!("file {}", file.display());
    assert_eq!(
        shown(&text, "config"),
        (file[5..].to_owned(), "default path".into())
    );
    assert_eq!(shown(&text, "host"), ("0.0.0.0".into(), file.clone()));
    assert_eq!(
        shown(&text, "port"),
        ("7001".into(), "env HTTP_PORT".into())
    );
    assert_eq!(
        shown(&text, "rate_limit_burst"),
        ("9".into(), "env SCS_RATE_LIMIT_BURST".into())
    );
    assert_eq!(shown(&text, "tools"), ("all".into(), "flag --tools".into()));
    assert_eq!(
        shown(&text, "postgres.pool_size"),
        ("3".into(), file.clone())
    );
    assert_eq!(shown(&text, "transport"), ("http".into(), "default".into()));
    assert_eq!(shown(&text, "api_key").0, "********");
    assert_eq!(shown(&text, "admin_api_key"), ("********".into(), file));
    assert!(shown(&text, "database_url").0.contains("db:5432"));
    for secret in ["hunter2", "agent-key-from", "admin-key-from"] {
        assert!(!text.contains(secret), "{secret} shown: {text}");
    }
    // Showing creates nothing: no data directory, no generated keys.
    assert!(!home.join("data").exists());
}

/// Precedence as the server itself applies it: the URL `client-config` prints carries the port.
#[test]
fn precedence_is_flag_then_env_then_file_then_default() {
    let home = temp_dir();
    let key = [("API_KEY", "agent-key-for-precedence-0123")];
    let url = |env: &[(&str, &str)], args: &[&str]| {
        let env: Vec<_> = key.iter().chain(env).copied().collect();
        let mut all = vec!["client-config", "generic"];
        all.extend(args);
        stdout(&run(&home, &env, &all))
    };
    assert!(url(&[], &[]).contains(":23456/mcp"), "default");
    write_default_file(&home, "port = 7000\n");
    assert!(
        url(&[], &[]).contains(":7000/mcp"),
        "the default config file"
    );
    assert!(
        url(&[("HTTP_PORT", "7001")], &[]).contains(":7001/mcp"),
        "legacy env over file"
    );
    let both = [("HTTP_PORT", "7001"), ("SCS_HTTP_PORT", "7002")];
    assert!(
        url(&both, &[]).contains(":7002/mcp"),
        "SCS_ name over legacy"
    );
    assert!(
        url(&both, &["--port", "7003"]).contains(":7003/mcp"),
        "flag over env"
    );
    // An explicit --config replaces the default file.
    let other = home.join("other.toml");
    std::fs::write(&other, "port = 7004\n").unwrap();
    assert!(url(&[("SCS_CONFIG", other.to_str().unwrap())], &[]).contains(":7004/mcp"));
}

#[test]
fn config_file_mistakes_are_named_with_a_fix() {
    let home = temp_dir();
    write_default_file(&home, "prot = 1\n");
    let out = run(&home, &[], &["config", "show"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("unknown key `prot`") && err.contains("did you mean port"),
        "{err}"
    );
    write_default_file(&home, "port = \"eighty\"\n");
    let out = run(&home, &[], &["migrate"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("port='eighty'") && err.contains("whole number"),
        "{err}"
    );
    assert!(
        !home.join("data").exists(),
        "a bad config created the data directory"
    );
}

#[test]
fn server_flags_belong_to_serve() {
    let home = temp_dir();
    let refused = |args: &[&str]| {
        let out = run(&home, &[], args);
        assert_eq!(out.status.code(), Some(2), "{args:?} accepted");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    refused(&["bench", "--host", "x"]);
    refused(&[
        "copy",
        "--database-url",
        "sqlite::memory:",
        "--from",
        "a",
        "--to",
        "b",
    ]);
    refused(&["migrate", "--port", "1"]);
    refused(&["export", "--stateless"]);
    let before = refused(&["--port", "1", "migrate"]);
    assert!(
        before.contains("--port") && before.contains("serve"),
        "{before}"
    );
    // The database flags stay on the commands that open the database; logs on every command.
    let db = format!("sqlite:{}", home.join("x.db").display());
    for args in [
        vec!["migrate", "--database-url", db.as_str()],
        vec![
            "--log-level",
            "warn",
            "migrate",
            "--database-url",
            db.as_str(),
        ],
        vec!["prune", "--dry-run", "--database-url", db.as_str()],
    ] {
        stdout(&run(&home, &[], &args));
    }
    let help = stdout(&run(&home, &[], &["serve", "--help"]));
    assert!(help.contains("--host") && help.contains("--stateless"));

    // The table's flags: each on `serve`; on `migrate` exactly when not server-only.
    let mut command = shared_context_server::cli::command();
    command.build();
    let has = |sub: &str, long: &str| {
        command
            .find_subcommand(sub)
            .unwrap()
            .get_arguments()
            .any(|a| a.get_long() == Some(long))
    };
    for s in SETTINGS {
        let Some(flag) = s.flag else { continue };
        let long = flag.trim_start_matches("--");
        assert!(has("serve", long), "serve lacks {flag}");
        assert_eq!(has("migrate", long), !s.serve_only, "migrate and {flag}");
    }
}

#[test]
fn sqlite_synchronous_is_a_choice_from_env_or_file() {
    let home = temp_dir();
    let db = format!("sqlite:{}", home.join("x.db").display());
    let refused = run(
        &home,
        &[("SQLITE_SYNCHRONOUS", "fast")],
        &["migrate", "--database-url", &db],
    );
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "a bad value was accepted");
    assert!(
        err.contains("SQLITE_SYNCHRONOUS='fast'") && err.contains("normal or full"),
        "{err}"
    );
    assert!(
        !home.join("x.db").exists(),
        "a refused setting opened the database"
    );

    let text = stdout(&run(
        &home,
        &[("SCS_SQLITE_SYNCHRONOUS", "FULL")],
        &["config", "show"],
    ));
    assert_eq!(shown(&text, "sqlite.synchronous").0, "FULL");
    write_default_file(&home, "[sqlite]\nsynchronous = \"full\"\n");
    stdout(&run(&home, &[], &["migrate", "--database-url", &db]));
    let text = stdout(&run(&home, &[], &["config", "show"]));
    assert_eq!(shown(&text, "sqlite.synchronous").0, "full");
}
