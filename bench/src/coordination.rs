//! `scs-bench --workload lease|task`: leases and tasks at N agents over MCP/HTTP, with the
//! correctness of what they did checked at the end.
//!
//! - `lease`: each agent acquires an exclusive lease on one path, releases it, repeats. Half the
//!   acquisitions go to a few paths every agent wants (contended: most are `LEASE_CONFLICT`), half
//!   to a file of the agent's own. The check: per path, the grants sorted by fencing token follow
//!   one another in time (each granted after the previous holder sent its release), so no two
//!   agents held one exclusive lease at once, and no token was handed out twice.
//! - `task`: each agent creates a task (every fourth depending on its previous one), claims the
//!   next claimable task of the shared session and completes it, repeats. After the run the agents
//!   drain the board; the check: every created task was claimed exactly once.
//!
//! Setup is outside the clock; calls started during the warm-up are left out of the figures but
//! not out of the checks.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::BenchArgs;
use super::agent::{self, Agent, LATE_GRACE, call, call_ok, object};
use super::coordination_check::{Grant, check_leases, check_tasks};
use super::stats::{Latency, Outcome};
use super::workload::Rng;

/// The contended paths of the lease workload.
const HOT_PATHS: u64 = 4;
/// Longer than any run's hold: a lease never lapses while its holder has it.
const LEASE_TTL_SECONDS: u64 = 120;
/// Every this many tasks an agent creates, the new one depends on its previous one.
const DEPENDENCY_EVERY: u64 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Lease,
    Task,
}

/// The measured calls of one agent (or all): per tool, latencies and outcomes by code.
#[derive(Debug, Default)]
struct Tally {
    latencies_us: BTreeMap<&'static str, Vec<u64>>,
    /// (tool, "ok" or the error code or the transport failure) -> calls.
    outcomes: BTreeMap<(&'static str, String), u64>,
    first_error: Option<String>,
    /// Failed calls (not LEASE_CONFLICT), the warm-up's and the drain's included.
    failed: u64,
}

impl Tally {
    fn record(&mut self, tool: &'static str, took: Duration, outcome: &Outcome, measured: bool) {
        let key = match outcome {
            Outcome::Ok => "ok".to_owned(),
            Outcome::ToolError { code, .. } => code.clone(),
            Outcome::Transport { kind, .. } => format!("transport {kind}"),
        };
        let failed = !matches!(outcome, Outcome::Ok)
            && !matches!(outcome, Outcome::ToolError { code, .. } if code == "LEASE_CONFLICT");
        if failed {
            self.failed += 1;
            if self.first_error.is_none() {
                self.first_error = Some(format!("{tool}: {key}: {outcome:?}"));
            }
        }
        if measured {
            if !matches!(outcome, Outcome::Transport { .. }) {
                let us = took.as_micros().min(u128::from(u64::MAX)) as u64;
                self.latencies_us.entry(tool).or_default().push(us);
            }
            *self.outcomes.entry((tool, key)).or_default() += 1;
        }
    }

    /// Counts a measured event that is no call of its own (a claim that got a task).
    fn note(&mut self, tool: &'static str, key: &str, measured: bool) {
        if measured {
            *self.outcomes.entry((tool, key.to_owned())).or_default() += 1;
        }
    }

    fn merge(&mut self, other: Tally) {
        for (tool, mut v) in other.latencies_us {
            self.latencies_us.entry(tool).or_default().append(&mut v);
        }
        for (k, n) in other.outcomes {
            *self.outcomes.entry(k).or_default() += n;
        }
        self.first_error = self.first_error.take().or(other.first_error);
        self.failed += other.failed;
    }

    fn count(&self, tool: &'static str, key: &str) -> u64 {
        self.outcomes
            .get(&(tool, key.to_owned()))
            .copied()
            .unwrap_or(0)
    }
}

/// What one agent did, for the checks.
#[derive(Debug, Default)]
struct Done {
    tally: Tally,
    grants: Vec<Grant>,
    created: Vec<i64>,
    claimed: Vec<i64>,
}

/// The run's window: calls start until `end`; those started before `measure_from` are warm-up.
#[derive(Debug, Clone, Copy)]
struct Window {
    measure_from: Instant,
    end: Instant,
    timeout: Duration,
}

impl Window {
    /// The time left for a call started now; `None` once the run is over.
    fn limit(&self) -> Option<Duration> {
        let now = Instant::now();
        (now < self.end).then(|| self.timeout.min(self.end + LATE_GRACE - now))
    }
}

/// Runs the workload; returns the report and the number of failed calls.
pub async fn run(args: &BenchArgs, kind: Kind) -> anyhow::Result<(String, u64)> {
    ensure!(args.agents >= 1, "--agents must be at least 1");
    ensure!(
        !args.json,
        "--json applies to the tool workloads; lease and task print lines"
    );
    let duration = Duration::try_from_secs_f64(args.duration)
        .context("--duration must be a number of seconds")?;
    let warmup =
        Duration::try_from_secs_f64(args.warmup).context("--warmup must be a number of seconds")?;
    let timeout = Duration::try_from_secs_f64(args.call_timeout)
        .context("--call-timeout must be a number of seconds")?;
    let api_key = args.api_key.clone().filter(|k| !k.is_empty());
    let mut set = JoinSet::new();
    for i in 0..args.agents {
        set.spawn(Agent::join(args.url.clone(), api_key.clone(), i));
    }
    let mut agents = agent::collect(set).await?;
    agents.sort_by_key(|a| a.index);
    let session = agents[0].create_session("bench: coordination").await?;

    let start = Instant::now();
    let window = Window {
        measure_from: start + warmup,
        end: start + warmup + duration,
        timeout,
    };
    let mut set = JoinSet::new();
    for a in agents {
        let session = session.clone();
        set.spawn(async move {
            let done = match kind {
                Kind::Lease => leases(&a, window).await,
                Kind::Task => tasks(&a, &session, window).await,
            };
            (a, done)
        });
    }
    let mut all = Done::default();
    let mut agents = Vec::new();
    while let Some(joined) = set.join_next().await {
        let (a, done) = joined.context("an agent task panicked")?;
        all.tally.merge(done.tally);
        all.grants.extend(done.grants);
        all.created.extend(done.created);
        all.claimed.extend(done.claimed);
        agents.push(a);
    }
    let mut out = String::new();
    writeln!(
        out,
        "{}: {} agents on {}, {:.0} s measured after {:.0} s warm-up",
        match kind {
            Kind::Lease => "lease",
            Kind::Task => "task",
        },
        args.agents,
        args.url,
        duration.as_secs_f64(),
        warmup.as_secs_f64()
    )?;
    let check = match kind {
        Kind::Lease => check_leases(&all.grants),
        Kind::Task => {
            let drained = drain(&agents, &session, timeout, &mut all).await;
            check_tasks(&all.created, &all.claimed, drained)
        }
    };
    report(&mut out, &all.tally, duration)?;
    let _ = call_ok(
        &agents[0].client,
        "close_session",
        object(json!({"session_id": session, "auth_token": agents[0].state.token})),
    )
    .await;
    agent::shutdown(agents).await;
    let failed = all.tally.failed + u64::from(check.is_err());
    match check {
        Ok(line) => writeln!(out, "  check: {line}")?,
        Err(line) => writeln!(out, "  check FAILED: {line}")?,
    }
    if let Some(first) = &all.tally.first_error {
        writeln!(out, "  first error: {first}")?;
    }
    Ok((out, failed))
}

/// Per tool: calls/s, p50/p99 and the outcomes; then the headline rates.
fn report(out: &mut String, tally: &Tally, duration: Duration) -> std::fmt::Result {
    let secs = duration.as_secs_f64();
    for (tool, us) in &tally.latencies_us {
        let mut us = us.clone();
        let calls = us.len();
        let Some(lat) = Latency::of(&mut us) else {
            continue;
        };
        let outcomes: Vec<String> = tally
            .outcomes
            .iter()
            .filter(|((t, _), _)| t == tool)
            .map(|((_, k), n)| format!("{k} {n}"))
            .collect();
        writeln!(
            out,
            "  {tool:<14} {calls:>7} calls {:>8.0}/s  p50 {:>6.2} ms  p99 {:>7.2} ms  ({})",
            calls as f64 / secs,
            lat.p50_ms,
            lat.p99_ms,
            outcomes.join(", ")
        )?;
    }
    let grants = tally.count("acquire_lease", "ok");
    if grants > 0 {
        writeln!(
            out,
            "  acquisitions/s {:.0} (granted {grants}, denied LEASE_CONFLICT {})",
            grants as f64 / secs,
            tally.count("acquire_lease", "LEASE_CONFLICT")
        )?;
    }
    let claims = tally.count("claim_task", "task claimed");
    if tally.count("claim_task", "ok") > 0 {
        writeln!(
            out,
            "  claims/s {:.0} ({claims} tasks claimed; {} claim_task calls found none claimable)",
            claims as f64 / secs,
            tally.count("claim_task", "ok") - claims
        )?;
    }
    Ok(())
}

async fn leases(a: &Agent, w: Window) -> Done {
    let mut done = Done::default();
    let mut rng = Rng::new(u64::from(a.index) + 101);
    let mut seq = 0u64;
    while let Some(limit) = w.limit() {
        seq += 1;
        let path = if rng.below(2) == 0 {
            format!("src/shared/hot{}.rs", rng.below(HOT_PATHS))
        } else {
            format!("src/agent{}/file{seq}.rs", a.index)
        };
        let args = json!({"resources": [path], "mode": "exclusive", "ttl_seconds": LEASE_TTL_SECONDS,
            "auth_token": a.state.token});
        let started = Instant::now();
        let (outcome, body) = call::<Value>(&a.client, "acquire_lease", object(args), limit).await;
        let granted = Instant::now();
        let measured = started >= w.measure_from;
        done.tally
            .record("acquire_lease", granted - started, &outcome, measured);
        let body = body.unwrap_or_default();
        let (Some(lease_id), Some(token)) =
            (body["lease_id"].as_str(), body["fencing_token"].as_i64())
        else {
            continue;
        };
        let args = json!({"lease_id": lease_id, "auth_token": a.state.token});
        let sent = Instant::now();
        let (outcome, _) = call::<Value>(&a.client, "release_lease", object(args), w.timeout).await;
        done.tally
            .record("release_lease", sent.elapsed(), &outcome, measured);
        done.grants.push(Grant {
            path,
            token,
            granted,
            released: matches!(outcome, Outcome::Ok).then_some(sent),
        });
    }
    done
}

/// One claim-next; the claimed task's id, completed at once (`None`: nothing claimable or failed).
async fn claim_and_complete(
    a: &Agent,
    session: &str,
    timeout: Duration,
    measured: Option<Instant>,
    done: &mut Done,
) -> Option<i64> {
    let args = json!({"session_id": session, "auth_token": a.state.token});
    let started = Instant::now();
    let (outcome, body) = call::<Value>(&a.client, "claim_task", object(args), timeout).await;
    let is_measured = measured.is_some_and(|from| started >= from);
    done.tally
        .record("claim_task", started.elapsed(), &outcome, is_measured);
    let id = body.and_then(|b| b["task_id"].as_i64())?;
    done.tally.note("claim_task", "task claimed", is_measured);
    done.claimed.push(id);
    let args = json!({"task_id": id, "state": "completed", "auth_token": a.state.token});
    let started = Instant::now();
    let (outcome, _) = call::<Value>(&a.client, "update_task", object(args), timeout).await;
    done.tally
        .record("update_task", started.elapsed(), &outcome, is_measured);
    Some(id)
}

async fn tasks(a: &Agent, session: &str, w: Window) -> Done {
    let mut done = Done::default();
    let mut previous: Option<i64> = None;
    let mut seq = 0u64;
    while let Some(limit) = w.limit() {
        seq += 1;
        let mut args = json!({"session_id": session, "title": format!("bench task {}.{seq}", a.index),
            "auth_token": a.state.token});
        if let Some(p) = previous.filter(|_| seq.is_multiple_of(DEPENDENCY_EVERY)) {
            args["depends_on"] = json!([p]);
        }
        let started = Instant::now();
        let (outcome, body) = call::<Value>(&a.client, "create_task", object(args), limit).await;
        let measured = started >= w.measure_from;
        done.tally
            .record("create_task", started.elapsed(), &outcome, measured);
        if let Some(id) = body.and_then(|b| b["task_id"].as_i64()) {
            done.created.push(id);
            previous = Some(id);
        }
        if w.limit().is_none() {
            break;
        }
        let from = measured.then_some(w.measure_from);
        claim_and_complete(a, session, w.timeout, from, &mut done).await;
    }
    done
}

/// After the run: every agent claims until nothing is claimable, then one agent once more (a
/// task may have waited on a dependency another agent was completing). Returns whether the
/// drain ended with nothing claimable.
async fn drain(agents: &[Agent], session: &str, timeout: Duration, all: &mut Done) -> bool {
    let mut rounds = Vec::new();
    for a in agents {
        rounds.push(async move {
            let mut done = Done::default();
            while claim_and_complete(a, session, timeout, None, &mut done)
                .await
                .is_some()
            {}
            done
        });
    }
    for done in futures_join(rounds).await {
        all.claimed.extend(done.claimed);
        all.tally.merge(done.tally);
    }
    let mut last = Done::default();
    while claim_and_complete(&agents[0], session, timeout, None, &mut last)
        .await
        .is_some()
    {}
    let clean = last.tally.failed == 0;
    all.claimed.extend(last.claimed);
    all.tally.merge(last.tally);
    clean
}

/// Runs the futures concurrently on this task.
async fn futures_join<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in pinned.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}
