//! TLS to PostgreSQL against a real server with a certificate authority made in the test:
//! verify-full connects, a wrong CA or a wrong host name is refused with a clear message.

use std::path::Path;
use std::process::Command;

use crate::pg_cluster::TempCluster;
use crate::support::*;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, and a server certificate it signed for the name `localhost` only.
fn make_pki(dir: &Path) {
    for ca in ["ca", "other-ca"] {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                &format!("/CN={ca}"),
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.pem"),
            ],
        );
    }
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=DNS:localhost\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.pem",
        ],
    );
    Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(dir)
        .status()
        .unwrap();
    Command::new("chmod")
        .args(["600"])
        .arg(dir.join("server.key"))
        .status()
        .unwrap();
}

/// Runs `migrate` (connect, migrate, exit) with the given environment; returns (ok, stderr).
fn migrate(env: &[(&str, String)]) -> (bool, String) {
    let data = temp_dir();
    let mut cmd = Command::new(BIN);
    cmd.arg("migrate")
        .env_remove("DATABASE_URL")
        .env("API_KEY", API_KEY)
        .env("ADMIN_API_KEY", ADMIN_KEY)
        .env("SCS_DATA_DIR", &data);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let _ = std::fs::remove_dir_all(data);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn postgres_tls_modes_against_a_real_server() {
    let dir = temp_dir();
    let pki = dir.join("pki");
    std::fs::create_dir_all(&pki).unwrap();
    make_pki(&pki);
    let settings = vec![
        "ssl=on".to_owned(),
        format!("ssl_cert_file={}", pki.join("server.pem").display()),
        format!("ssl_key_file={}", pki.join("server.key").display()),
    ];
    let cluster = TempCluster::start_with(dir.join("cluster"), &settings);
    let ca = pki.join("ca.pem").display().to_string();
    let other_ca = pki.join("other-ca.pem").display().to_string();
    let url = |host: &str, query: &str| {
        format!(
            "postgres://postgres@{host}:{}/postgres?{query}",
            cluster.port
        )
    };

    let (ok, err) = migrate(&[(
        "DATABASE_URL",
        url(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        ),
    )]);
    assert!(
        ok,
        "verify-full with the right CA and host must connect: {err}"
    );

    let (ok, err) = migrate(&[(
        "DATABASE_URL",
        url(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={other_ca}"),
        ),
    )]);
    assert!(!ok, "a certificate from an unknown CA must be refused");
    assert!(
        err.contains("sslrootcert"),
        "the error should point at the CA setting: {err}"
    );

    let (ok, err) = migrate(&[(
        "DATABASE_URL",
        url(
            "127.0.0.1",
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        ),
    )]);
    assert!(
        !ok,
        "verify-full must refuse a host name the certificate does not name"
    );
    assert!(
        err.contains("host name"),
        "the error should mention the host name: {err}"
    );

    let (ok, err) = migrate(&[(
        "DATABASE_URL",
        url("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={ca}")),
    )]);
    assert!(ok, "verify-ca checks the CA, not the name: {err}");
    let (ok, err) = migrate(&[("DATABASE_URL", url("127.0.0.1", "sslmode=require"))]);
    assert!(ok, "require encrypts without verifying: {err}");
    let (ok, err) = migrate(&[("DATABASE_URL", url("127.0.0.1", "sslmode=bogus"))]);
    assert!(!ok && err.contains("sslmode 'bogus'"), "{err}");

    let (ok, err) = migrate(&[
        ("POSTGRES_HOST", "localhost".into()),
        ("POSTGRES_PORT", cluster.port.to_string()),
        ("POSTGRES_DB", "postgres".into()),
        ("POSTGRES_USER", "postgres".into()),
        ("POSTGRES_SSL_MODE", "verify-full".into()),
        ("POSTGRES_SSL_ROOT_CERT", ca.clone()),
    ]);
    assert!(
        ok,
        "discrete POSTGRES_* settings with verify-full must connect: {err}"
    );
    let (ok, _) = migrate(&[
        ("POSTGRES_HOST", "localhost".into()),
        ("POSTGRES_PORT", cluster.port.to_string()),
        ("POSTGRES_DB", "postgres".into()),
        ("POSTGRES_SSL_MODE", "verify-full".into()),
        ("POSTGRES_SSL_ROOT_CERT", other_ca),
    ]);
    assert!(!ok, "discrete settings with the wrong CA must be refused");
    drop(cluster);
    let _ = std::fs::remove_dir_all(dir);
}
