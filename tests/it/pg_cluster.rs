//! A throwaway PostgreSQL cluster owned by one test (initdb in a temp dir, its own port and socket
//! directory), for the tests that must stop, crash or reconfigure the server: outage, TLS and the
//! deployment configuration. The one place that runs initdb and pg_ctl; stopped and removed on drop.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct TempCluster {
    pub dir: PathBuf,
    pub port: u16,
    bindir: PathBuf,
    /// Tests run as root in CI: the cluster then belongs to the `postgres` user (initdb refuses
    /// root) and its tools run as that user.
    as_postgres: bool,
    /// `name=value` server settings, passed as `-c` options at every start.
    settings: Vec<String>,
}

/// The newest installed server binaries (scripts/ensure-postgres.sh installs them).
pub fn newest_bindir() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server binaries in /usr/lib/postgresql (scripts/ensure-postgres.sh installs them)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort();
    dirs.pop().expect("an initdb binary")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

#[track_caller]
fn check(what: &str, out: Output, log: &Path) -> Output {
    assert!(
        out.status.success(),
        "{what} failed: {}{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(log).unwrap_or_default()
    );
    out
}

impl TempCluster {
    /// Creates and starts a cluster with trust authentication on a free port.
    pub fn start() -> Self {
        Self::start_with(crate::support::temp_dir(), &[])
    }

    /// Like `start`, in `dir`, with extra server settings (`name=value`).
    pub fn start_with(dir: PathBuf, settings: &[String]) -> Self {
        let args = ["--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"].map(String::from);
        let cluster = Self::init(newest_bindir(), dir, &args, settings);
        cluster.resume();
        cluster
    }

    /// Runs initdb (as `-U postgres` plus `initdb_args`) into `dir/data` without starting the
    /// server. Files the caller put in `dir` beforehand (configuration, a password file) are
    /// handed to the cluster's owner too.
    pub fn init(
        bindir: PathBuf,
        dir: PathBuf,
        initdb_args: &[String],
        settings: &[String],
    ) -> Self {
        let cluster = Self {
            port: free_port(),
            bindir,
            as_postgres: running_as_root(),
            settings: settings.to_vec(),
            dir,
        };
        std::fs::create_dir_all(cluster.socket_dir()).expect("create the cluster directory");
        if cluster.as_postgres {
            let out = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&cluster.dir)
                .output()
                .expect("chown");
            check(
                "chown to postgres (does the postgres user exist?)",
                out,
                Path::new(""),
            );
        }
        let out = Command::new("chmod").arg("0700").arg(&cluster.dir).output();
        check("chmod 0700", out.expect("chmod"), Path::new(""));
        let out = cluster
            .owner_cmd("initdb")
            .arg("-D")
            .arg(cluster.data())
            .args(["-U", "postgres"])
            .args(initdb_args)
            .output()
            .expect("run initdb");
        check("initdb", out, Path::new(""));
        cluster
    }

    /// Whether the cluster's tools run as the `postgres` user (the tests run as root).
    pub fn runs_as_postgres(&self) -> bool {
        self.as_postgres
    }

    pub fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    pub fn socket_dir(&self) -> PathBuf {
        self.dir.join("sock")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// A command run as the cluster's owner, with nothing from the caller's libpq environment
    /// that could change where or how it connects.
    pub fn owner_cmd(&self, program: &str) -> Command {
        let program = self.bindir.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        for var in [
            "PGHOST",
            "PGHOSTADDR",
            "PGPORT",
            "PGUSER",
            "PGPASSWORD",
            "PGDATABASE",
            "PGSERVICE",
            "PGSSLMODE",
            "PGOPTIONS",
            "PGDATA",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("PGPASSFILE", "/nonexistent")
            .env("PGCONNECT_TIMEOUT", "5");
        cmd
    }

    /// Starts the (stopped) server on its port and data, listening on 127.0.0.1 only.
    pub fn resume(&self) {
        let mut opts = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={}",
            self.port,
            self.socket_dir().display()
        );
        for setting in &self.settings {
            opts.push_str(&format!(" -c {setting}"));
        }
        let log = self.dir.join("server.log");
        let out = self
            .owner_cmd("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(&log)
            .args(["-o", &opts, "-w", "-t", "30", "start"])
            .output()
            .expect("run pg_ctl start");
        check("pg_ctl start", out, &log);
    }

    /// Stops the server: `fast` (clean) or `immediate` (like a crash).
    pub fn stop(&self, mode: &str) {
        let out = self.pg_ctl_stop(mode);
        check("pg_ctl stop", out, &self.dir.join("server.log"));
    }

    fn pg_ctl_stop(&self, mode: &str) -> Output {
        self.owner_cmd("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", mode, "-w", "-t", "30", "stop"])
            .output()
            .expect("run pg_ctl stop")
    }
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        if self.data().join("postmaster.pid").exists() {
            let _ = self.pg_ctl_stop("immediate");
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
