//! search_context latency on 100,000 messages, SQLite and PostgreSQL, through the service layer.
//!
//! `cargo run --release --example search_bench [-- MESSAGES QUERIES]` (defaults 100000 200). Builds one
//! session of generated but realistic text (a word list with a Zipf-like skew, identifiers, paths,
//! ticket numbers; deterministic seed) in a temporary SQLite file and in a fresh PostgreSQL database
//! `scs_bench_<pid>` on SCS_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres),
//! dropped afterwards (kept when SCS_BENCH_KEEP is set); ANALYZE; then times mixed queries (exact word, typo, phrase, metadata word)
//! and prints p50/p95/p99 per backend.

use std::sync::Arc;
use std::time::{Duration, Instant};

use shared_context_server::config::{Config, Overrides};
use shared_context_server::domain::{AgentId, AgentType, Identity, Permission, Permissions};
use shared_context_server::service::{SearchContext, Service};
use shared_context_server::storage::{NewSession, Store};
use sqlx::Connection;

const WORDS: &str = "the a to of and in is that for it on with as was be by this are from at or not have has but which can \
will all they we their more one about when there been if would so what up out into also other only new some could time these \
two may then do first any now such like our over even most made after should must need see look check run still just because \
while before again already without between during under every each both same found fixed broken slow fast added removed \
updated changed improved reduced increased failing passing flaky retry retried timeout deadline latency throughput cache \
database index query table schema migration server client request response thread async runtime agent session message \
context search token auth permission visibility public private admin deploy build test failure error warning connection \
pool transaction commit rollback lock deadlock replica primary backup restore snapshot metric dashboard alert incident review \
refactor module function struct trait closure iterator vector string parser compiler benchmark profile flamegraph allocation \
heap stack pointer reference lifetime borrow checker network socket packet router gateway proxy balancer kubernetes container \
docker image registry cluster node pod service ingress config secret volume storage disk file path directory owner user group \
role policy audit log trace span event queue stream topic partition offset consumer producer frontend backend endpoint route \
handler middleware header cookie json yaml payload serialization customer order invoice payment billing account subscription \
refund shipping webhook idempotency scheduler worker cron batch export import upload download encryption certificate rotation \
memory leak regression rollout canary feature flag experiment ranking relevance threshold fuzzy similarity embedding";
const MODULES: [&str; 12] = [
    "billing",
    "auth",
    "search",
    "storage",
    "gateway",
    "scheduler",
    "export",
    "orders",
    "webhooks",
    "metrics",
    "cache",
    "ui",
];
const COMPONENTS: [&str; 8] = [
    "zephyr-gateway",
    "orion-ledger",
    "lyra-indexer",
    "vega-scheduler",
    "draco-exporter",
    "nova-auth",
    "atlas-cache",
    "hydra-router",
];
const EXACT: [&str; 10] = [
    "deadlock",
    "idempotency",
    "flamegraph",
    "kubernetes",
    "canary",
    "certificate",
    "replica",
    "webhook",
    "regression",
    "serialization",
];
const TYPO: [&str; 10] = [
    "databse",
    "kubernets",
    "deadlok",
    "conection pool",
    "flamegrpah",
    "idempotncy",
    "replcia",
    "certficate",
    "webhok retry",
    "serialisation",
];
const PHRASE: [&str; 10] = [
    "connection pool",
    "database migration",
    "token rotation",
    "cache index",
    "deadlock in the scheduler",
    "retry the webhook",
    "memory leak",
    "schema migration failed",
    "slow query",
    "payment refund",
];
const META: [&str; 10] = [
    "zephyr",
    "orion-ledger",
    "lyra",
    "vega-scheduler",
    "draco",
    "nova-auth",
    "atlas",
    "hydra",
    "orion",
    "zephyr-gateway",
];

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// Index skewed towards 0 (Zipf-like).
    fn skewed(&mut self, n: usize) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((n as f64).powf(u) - 1.0) as usize
    }
}

struct Generated {
    content: String,
    metadata: String,
    sender: &'static str,
    sender_type: &'static str,
    visibility: &'static str,
}

fn generate(rng: &mut Rng, words: &[&str], i: usize) -> Generated {
    let n = 8 + rng.below(50);
    let mut out: Vec<String> = Vec::with_capacity(n);
    for _ in 0..n {
        let roll = rng.below(100);
        out.push(if roll < 4 {
            format!(
                "src/{}/{}_{}.rs",
                MODULES[rng.below(12)],
                words[rng.skewed(words.len())],
                words[rng.skewed(words.len())]
            )
        } else if roll < 8 {
            format!(
                "{}_{}",
                words[rng.skewed(words.len())],
                words[rng.skewed(words.len())]
            )
        } else if roll < 10 {
            format!("{}", rng.below(100_000))
        } else {
            words[rng.skewed(words.len())].to_owned()
        });
    }
    let mut content = out.join(" ");
    content.push('.');
    let mut meta = serde_json::json!({"topic": MODULES[rng.below(12)], "seq": i});
    if rng.below(10) == 0 {
        meta["component"] = COMPONENTS[rng.below(8)].into();
    }
    if rng.below(20) == 0 {
        meta["ticket"] = format!("ENG-{}", rng.below(9000) + 1000).into();
    }
    const AGENTS: [(&str, &str); 6] = [
        ("alice", "claude"),
        ("bob", "claude"),
        ("carol", "gemini"),
        ("dave", "codex"),
        ("erin", "gemini"),
        ("frank", "claude"),
    ];
    let (sender, sender_type) = AGENTS[rng.below(6)];
    let visibility = match rng.below(20) {
        0 | 1 => "private",
        2 => "agent_only",
        _ => "public",
    };
    Generated {
        content,
        metadata: meta.to_string(),
        sender,
        sender_type,
        visibility,
    }
}

async fn open(url: &str, dir: &std::path::Path) -> anyhow::Result<(Service, Arc<dyn Store>)> {
    let config = Config::load(
        &Overrides::default()
            .with("database_url", url)
            .with("data_dir", dir.display()),
    )?;
    let store = shared_context_server::app::connect_store(&config).await?;
    Ok((
        shared_context_server::app::build_service(&config, store.clone()),
        store,
    ))
}

async fn new_session(store: &dyn Store) -> anyhow::Result<String> {
    let id = shared_context_server::domain::SessionId::generate();
    let new = NewSession {
        id: id.clone(),
        purpose: "search bench".into(),
        created_by: "alice".into(),
        metadata: Default::default(),
        at: shared_context_server::util::now(),
    };
    store.create_session(&new).await?;
    Ok(id.as_str().to_owned())
}

async fn fill_sqlite(url: &str, sid: &str, total: usize) -> anyhow::Result<()> {
    let mut conn = sqlx::sqlite::SqliteConnection::connect(url).await?;
    let words: Vec<&str> = WORDS.split_whitespace().collect();
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let start = chrono::Utc::now() - chrono::Duration::days(30);
    for chunk in (0..total).collect::<Vec<_>>().chunks(1000) {
        let mut tx = conn.begin().await?;
        for &i in chunk {
            let g = generate(&mut rng, &words, i);
            let at = shared_context_server::util::rfc3339(
                start + chrono::Duration::milliseconds(i as i64 * 20),
            );
            sqlx::query("INSERT INTO messages (session_id, sender, sender_type, content, visibility, metadata, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(sid).bind(g.sender).bind(g.sender_type).bind(&g.content).bind(g.visibility).bind(&g.metadata).bind(at)
                .execute(&mut *tx).await?;
        }
        tx.commit().await?;
    }
    sqlx::query("ANALYZE").execute(&mut conn).await?;
    Ok(())
}

async fn fill_postgres(url: &str, sid: &str, total: usize) -> anyhow::Result<()> {
    let mut conn = sqlx::postgres::PgConnection::connect(url).await?;
    let words: Vec<&str> = WORDS.split_whitespace().collect();
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let start = chrono::Utc::now() - chrono::Duration::days(30);
    for chunk in (0..total).collect::<Vec<_>>().chunks(2000) {
        let (mut senders, mut types, mut contents, mut vis, mut metas, mut ats) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        for &i in chunk {
            let g = generate(&mut rng, &words, i);
            senders.push(g.sender.to_owned());
            types.push(g.sender_type.to_owned());
            contents.push(g.content);
            vis.push(g.visibility.to_owned());
            metas.push(g.metadata);
            ats.push(start + chrono::Duration::milliseconds(i as i64 * 20));
        }
        sqlx::query(
            "INSERT INTO shared_context.messages (session_id, sender, sender_type, content, visibility, metadata, created_at) \
             SELECT $1, s, t, c, v, m::jsonb, a FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[]) AS u(s, t, c, v, m, a)",
        )
        .bind(sid).bind(senders).bind(types).bind(contents).bind(vis).bind(metas).bind(ats)
        .execute(&mut conn).await?;
    }
    sqlx::query("VACUUM ANALYZE shared_context.messages")
        .execute(&mut conn)
        .await?;
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[idx].as_secs_f64() * 1000.0
}

async fn run(label: &str, service: &Service, sid: &str, queries: usize) -> anyhow::Result<()> {
    let who = Identity::Agent {
        agent_id: AgentId::parse("alice")?,
        agent_type: AgentType::parse("claude")?,
        permissions: Permissions::of(&[Permission::Read, Permission::Write]),
        expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
    };
    let kinds: [(&str, &[&str; 10]); 4] = [
        ("exact", &EXACT),
        ("typo", &TYPO),
        ("phrase", &PHRASE),
        ("metadata", &META),
    ];
    let mut all = Vec::new();
    let mut per_kind: Vec<Vec<Duration>> = vec![Vec::new(); 4];
    let mut hits = 0usize;
    for i in 0..queries + 20 {
        let (k, list) = kinds[i % 4];
        let query = list[(i / 4) % 10];
        let started = Instant::now();
        let found = service
            .search_context(
                &who,
                SearchContext {
                    session_id: sid.into(),
                    query: query.into(),
                    fuzzy_threshold: None,
                    limit: None,
                    search_metadata: None,
                    search_scope: None,
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("{k} query {query:?}: {e}"))?;
        let took = started.elapsed();
        if i >= 20 {
            all.push(took);
            per_kind[i % 4].push(took);
            hits += found.hits.len();
        }
    }
    all.sort();
    println!(
        "{label:<10} n={} p50={:.2} ms p95={:.2} ms p99={:.2} ms max={:.2} ms  (mean results {:.1})",
        all.len(),
        percentile(&all, 0.50),
        percentile(&all, 0.95),
        percentile(&all, 0.99),
        percentile(&all, 1.0),
        hits as f64 / all.len() as f64
    );
    for (i, (k, _)) in kinds.iter().enumerate() {
        per_kind[i].sort();
        println!(
            "           {k:<9} p50={:.2} ms p99={:.2} ms",
            percentile(&per_kind[i], 0.5),
            percentile(&per_kind[i], 0.99)
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let total = args.first().copied().unwrap_or(100_000);
    let queries = args.get(1).copied().unwrap_or(200);
    let dir = std::env::temp_dir().join(format!("scs_bench_{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;

    let sqlite_url = format!("sqlite:{}", dir.join("bench.db").display());
    let (service, store) = open(&sqlite_url, &dir.join("lite")).await?;
    let sid = new_session(store.as_ref()).await?;
    let t = Instant::now();
    fill_sqlite(&sqlite_url, &sid, total).await?;
    println!(
        "sqlite     {total} messages inserted and analysed in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    run("sqlite", &service, &sid, queries).await?;
    store.close().await;

    let admin = std::env::var("SCS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("scs_bench_{}", std::process::id());
    let mut admin_conn = sqlx::postgres::PgConnection::connect(&admin).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin_conn)
        .await?;
    let pg_url = format!(
        "{}/{name}",
        admin
            .rsplit_once('/')
            .map_or(admin.as_str(), |(base, _)| base)
    );
    let outcome = async {
        let (service, store) = open(&pg_url, &dir.join("pg")).await?;
        let sid = new_session(store.as_ref()).await?;
        let t = Instant::now();
        fill_postgres(&pg_url, &sid, total).await?;
        println!(
            "postgresql {total} messages inserted and analysed in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        let result = run("postgresql", &service, &sid, queries).await;
        store.close().await;
        result
    }
    .await;
    if std::env::var_os("SCS_BENCH_KEEP").is_some() {
        println!(
            "kept PostgreSQL database {name} and {} (SCS_BENCH_KEEP)",
            dir.display()
        );
        return outcome;
    }
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin_conn)
    .await?;
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}
