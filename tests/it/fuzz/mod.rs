//! Bad input, sent raw: malformed HTTP bodies to /mcp and malformed lines over stdio. Every case
//! must get a protocol error (HTTP 4xx or a JSON-RPC error) or a tool error, never a 5xx, and the
//! server must stay up (process alive, `GET /health` 200 after every case) with bounded memory.
//! Plus round trips of valid but extreme values (floats, f64::MAX) through both backends.
//!
//! Deterministic: the seeds are fixed, so a failing case repeats. Longer runs:
//! `SCS_FUZZ_CASES=<n>` random HTTP cases (default 2400; PostgreSQL runs a quarter),
//! `SCS_FUZZ_STDIO_ROUNDS=<n>` measured stdio rounds (default 2), and `SCS_FUZZ_VERBOSE=1` prints
//! the answers per case kind and the stdio RSS per round. See docs/RELIABILITY.md.
//!
//! The property tests of the domain parsers and the visibility rule live next to the domain, in
//! `src/domain/*_props.rs`.

mod cases;
mod http;
mod random;
mod reinitialize;
mod round_trip;
mod stdio;
mod structured;

use std::time::Duration;

const SEED: u64 = 0x5eed_0ff0_2220_2026;
const PROTOCOL: &str = "2025-06-18";
const BODY_LIMIT: usize = 4 * 1024 * 1024; // MAX_REQUEST_BODY_BYTES default
const CASE_TIMEOUT: Duration = Duration::from_secs(15);
const RSS_GROWTH_LIMIT_KB: u64 = 50 * 1024;
