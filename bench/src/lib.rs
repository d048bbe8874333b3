//! `scs-bench`: a closed-loop load generator that drives a running shared-context-server over
//! real streamable HTTP MCP, one MCP session and token per simulated agent.
//!
//! Its own crate, so the server binary links no HTTP client: the generator brings reqwest, the
//! server needs none of it. It imports nothing from the server; it speaks only the wire protocol.
//!
//! Setup (handshakes, authenticate_agent, create_session, preloaded messages and memory) runs
//! before the clock starts; calls started during the warm-up are counted apart and discarded.
//! Each agent then keeps exactly one call in flight until the duration ends.

mod agent;
mod coordination;
mod coordination_check;
mod report;
mod rss;
mod stats;
mod wakeup;
mod wire;
mod workload;

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use tokio::task::JoinSet;

use agent::Agent;
pub use stats::percentile;
pub use workload::{Tool, Workload};

#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "scs-bench",
    version,
    about = "Load generator for shared-context-server: drives a running server over streamable HTTP MCP"
)]
pub struct BenchArgs {
    /// The server's MCP endpoint.
    #[arg(long, default_value = "http://127.0.0.1:23456/mcp")]
    pub url: String,
    /// The server's API key, sent as the X-API-Key header on every request.
    #[arg(long, env = "API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Simulated agents: each has its own MCP session and token and one call in flight.
    #[arg(long, default_value_t = 1)]
    pub agents: u32,
    /// Measured seconds (after the warm-up).
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub duration: f64,
    /// Warm-up seconds; calls started in it are not measured.
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    pub warmup: f64,
    /// `mixed` (the --tools set, weighted: get_messages 35, add_message 25, search_context 15,
    /// get_memory 15, set_memory 10), or one tool: add_message, get_messages, search_context,
    /// set_memory, get_memory. `lease` and `task`: the coordination workloads (acquire and
    /// release; create, claim next and complete), checked for correctness at the end.
    #[arg(long, default_value = "mixed", value_parser = workload::parse_workload)]
    pub workload: Workload,
    /// The tools of the mixed workload, comma separated. Default: those of the five the server
    /// lists in tools/list.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub tools: Option<Vec<Tool>>,
    /// Messages posted to each shared session during setup, so reads have data.
    #[arg(long, default_value_t = 100)]
    pub messages_per_session: u32,
    /// Agents per shared (create_session) session.
    #[arg(long, default_value_t = 10)]
    pub agents_per_session: u32,
    /// Seconds to wait for one result before counting a timeout.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub call_timeout: f64,
    /// Sample VmRSS of this process (the server) every second and report min/max/last.
    #[arg(long, value_name = "PID")]
    pub sample_rss_pid: Option<u32>,
    /// Print a JSON summary instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Exit 0 even when calls failed.
    #[arg(long)]
    pub allow_errors: bool,
    /// Wake-up mode: this many agents block in wait_for_messages on one session…
    #[arg(long, default_value_t = 0)]
    pub waiters: u32,
    /// …while this many agents post to it, each every --write-interval-ms.
    #[arg(long, default_value_t = 10)]
    pub writers: u32,
    #[arg(long, default_value_t = 100)]
    pub write_interval_ms: u64,
    /// Send the writers to another server process (cross-process wake-ups).
    #[arg(long)]
    pub writer_url: Option<String>,
    /// Wake-up mode: writers post direct messages to every waiter, waiters long-poll get_inbox
    /// (the server needs DIRECT_MESSAGES_PER_PAIR_PER_MINUTE=0 at high rates; at most 20 waiters).
    #[arg(long)]
    pub inbox: bool,
    /// Threads the generator runs on. One keeps its own CPU small (no wake-ups across threads),
    /// which matters when it shares the cores with the server and the database; it drives
    /// over 10,000 calls/s. Raise it when the generator has a machine of its own.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
}

fn seconds(name: &str, v: f64, allow_zero: bool) -> anyhow::Result<Duration> {
    let d = Duration::try_from_secs_f64(v)
        .with_context(|| format!("--{name} must be a number of seconds"))?;
    ensure!(allow_zero || !d.is_zero(), "--{name} must be more than 0");
    Ok(d)
}

/// The tools to drive: the workload's, checked against what the server lists.
fn select_tools(args: &BenchArgs, listed: &[String]) -> anyhow::Result<Vec<Tool>> {
    let offered = |t: &Tool| listed.iter().any(|n| n == t.name());
    let tools = match (args.workload, &args.tools) {
        (Workload::Single(_), Some(_)) => bail!("--tools applies to --workload mixed only"),
        (Workload::Single(t), None) => vec![t],
        (Workload::Coordination(_), _) => bail!("lease and task are not tool workloads"),
        (Workload::Mixed, Some(list)) => {
            let mut list = list.clone();
            list.sort();
            list.dedup();
            list
        }
        (Workload::Mixed, None) => {
            let found: Vec<Tool> = Tool::ALL.into_iter().filter(offered).collect();
            ensure!(
                !found.is_empty(),
                "the server lists none of the bench tools"
            );
            found
        }
    };
    for t in &tools {
        ensure!(offered(t), "the server does not list the tool {}", t.name());
    }
    Ok(tools)
}

/// What a run printed and how many of its calls failed.
#[derive(Debug)]
pub struct Outcome {
    /// The report: the table, the JSON summary (`--json`) or the wake-up lines.
    pub output: String,
    /// Failed calls, the warm-up's included.
    pub failed_calls: u64,
}

impl Outcome {
    /// An error when calls failed and `--allow-errors` was not given.
    pub fn check(&self, allow_errors: bool) -> anyhow::Result<()> {
        let failed = self.failed_calls;
        if failed > 0 && !allow_errors {
            bail!("{failed} call(s) failed (pass --allow-errors to exit 0 anyway)");
        }
        Ok(())
    }
}

/// Runs the bench on a runtime of its own (`--threads`) and returns its report.
pub async fn run(args: BenchArgs) -> anyhow::Result<Outcome> {
    ensure!(args.threads >= 1, "--threads must be at least 1");
    let threads = args.threads;
    let (tx, rx) = tokio::sync::oneshot::channel();
    // Its own runtime on its own thread: the process's runtime has one worker per core.
    std::thread::Builder::new()
        .name("bench".into())
        .spawn(move || {
            let runtime = if threads == 1 {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
            } else {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(threads)
                    .enable_all()
                    .build()
            };
            let result = runtime
                .context("could not start the generator's runtime")
                .and_then(|rt| rt.block_on(drive(args)));
            let _ = tx.send(result);
        })
        .context("could not start the generator's thread")?;
    rx.await
        .context("the generator's thread ended without a result")?
}

async fn drive(args: BenchArgs) -> anyhow::Result<Outcome> {
    if args.waiters > 0 {
        let output = wakeup::run(&args).await?;
        return Ok(Outcome {
            output,
            failed_calls: 0,
        });
    }
    if let Workload::Coordination(kind) = args.workload {
        ensure!(
            args.tools.is_none(),
            "--tools applies to --workload mixed only"
        );
        let (output, failed_calls) = coordination::run(&args, kind).await?;
        return Ok(Outcome {
            output,
            failed_calls,
        });
    }
    ensure!(args.agents >= 1, "--agents must be at least 1");
    ensure!(
        args.agents_per_session >= 1,
        "--agents-per-session must be at least 1"
    );
    let duration = seconds("duration", args.duration, false)?;
    let warmup = seconds("warmup", args.warmup, true)?;
    let call_timeout = seconds("call-timeout", args.call_timeout, false)?;
    let api_key = args.api_key.clone().filter(|k| !k.is_empty());

    // Setup, outside the measured window.
    let setup_started = Instant::now();
    let first = Agent::join(args.url.clone(), api_key.clone(), 0).await?;
    let listed: Vec<String> = match first.client.list_tool_names().await {
        Ok(names) => names,
        Err(e) => {
            agent::shutdown(vec![first]).await;
            return Err(e).context("tools/list failed");
        }
    };
    let tools = match select_tools(&args, &listed) {
        Ok(t) => t,
        Err(e) => {
            agent::shutdown(vec![first]).await;
            return Err(e);
        }
    };
    let mut set = JoinSet::new();
    for i in 1..args.agents {
        set.spawn(Agent::join(args.url.clone(), api_key.clone(), i));
    }
    let mut agents = match agent::collect(set).await {
        Ok(rest) => rest,
        Err(e) => {
            agent::shutdown(vec![first]).await;
            return Err(e);
        }
    };
    agents.insert(0, first);

    let (n, mps, per) = (
        args.agents,
        args.messages_per_session,
        args.agents_per_session,
    );
    let agents = agent::for_each(agents, move |mut a| async move {
        if a.index % per == 0 {
            let last = (a.index + per).min(n) - 1;
            let purpose = format!("bench: agents bench-{}..bench-{last}", a.index);
            a.state.session_id = a.create_session(&purpose).await?;
        }
        Ok(a)
    })
    .await?;
    let session_ids: Vec<String> = agents
        .iter()
        .filter(|a| a.index % per == 0)
        .map(|a| a.state.session_id.clone())
        .collect();
    let mut agents = agents;
    for a in &mut agents {
        a.state.session_id = session_ids[(a.index / per) as usize].clone();
    }
    let memory = tools.contains(&Tool::GetMemory) && listed.iter().any(|t| t == "set_memory");
    let agents = agent::for_each(agents, move |mut a| async move {
        let group_size = (n - a.index / per * per).min(per);
        let position = a.index % per;
        let share = mps / group_size + u32::from(position < mps % group_size);
        a.preload(share, memory).await?;
        Ok(a)
    })
    .await?;
    let setup = setup_started.elapsed();
    if !args.json {
        eprintln!(
            "bench: setup done in {:.0} ms; {} s warm-up, then {} s measured",
            setup.as_secs_f64() * 1000.0,
            warmup.as_secs_f64(),
            duration.as_secs_f64()
        );
    }

    // The measured run.
    let rss = match args.sample_rss_pid {
        Some(pid) => Some(
            rss::RssSampler::start(pid, Duration::from_secs(1))
                .with_context(|| format!("cannot read the memory of pid {pid}"))?,
        ),
        None => None,
    };
    let picker = workload::Picker::new(args.workload, &tools);
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let mut set = JoinSet::new();
    for mut a in agents {
        let picker = picker.clone();
        set.spawn(async move {
            let rec = a.run(&picker, measure_from, end, call_timeout).await;
            (a, rec)
        });
    }
    let mut recorder = stats::Recorder::default();
    let mut agents = Vec::new();
    while let Some(joined) = set.join_next().await {
        let (a, rec) = joined.context("an agent task panicked")?;
        recorder.merge(rec);
        agents.push(a);
    }
    let rss = match rss {
        Some(sampler) => sampler.finish().await,
        None => None,
    };

    // Tidy up: close the shared sessions, end the MCP sessions.
    let agents = agent::for_each(agents, move |a| async move {
        if a.index % per == 0 {
            let args =
                serde_json::json!({"session_id": a.state.session_id, "auth_token": a.state.token});
            let args = args.as_object().cloned().unwrap_or_default();
            let _ = agent::call::<serde_json::Value>(
                &a.client,
                "close_session",
                args,
                Duration::from_secs(10),
            )
            .await;
        }
        Ok(a)
    })
    .await?;
    agent::shutdown(agents).await;

    let mut report = report::Report {
        url: args.url.clone(),
        agents: args.agents,
        shared_sessions: session_ids.len() as u32,
        workload: args.workload.to_string(),
        shares: picker.shares(),
        setup,
        preloaded_messages: u64::from(mps) * session_ids.len() as u64,
        warmup,
        duration,
        recorder,
        rss,
    };
    let output = if args.json {
        serde_json::to_string_pretty(&report.json())? + "\n"
    } else {
        report.table()
    };
    Ok(Outcome {
        output,
        failed_calls: report.recorder.total_errors() + report.recorder.warmup_errors,
    })
}
