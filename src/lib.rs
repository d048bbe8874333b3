//! shared-context-server: an MCP server where agents share sessions, messages with visibility
//! rules and memory, over stdio or streamable HTTP, on embedded SQLite or PostgreSQL.
//!
//! # Layout
//!
//! Layers, lowest first; a module uses only its own layer and those below it, and no two modules
//! use each other (`tests/layers.rs` checks both from the source).
//!
//! - leaves (import nothing from the crate): [`util`] (hex, RFC 3339 time, database URLs and
//!   their masking), [`metrics`] (call counts and latency histograms), [`telemetry`] (logging to
//!   stderr; OpenTelemetry traces with the `otel` feature).
//! - domain, no I/O: [`domain`] (identity, permissions, visibility, validated input, error codes),
//!   [`auth`] (API keys, token generation and hashing, the token cache), [`realtime`] (change
//!   events and the in-process notifier).
//! - [`storage`]: the `Store` trait and its SQLite and PostgreSQL implementations; all SQL; the
//!   dump rows that `transfer` moves.
//! - use-cases: [`service`] (permissions, visibility, audit, waits, shared by every front end),
//!   [`error`] (storage failures as agent-facing errors), [`transfer`] (`export`, `import` and
//!   `copy`, a portable JSON Lines dump of every table).
//! - front ends: [`mcp`] (the MCP tools, thin adapters over the service) and [`http`] (axum
//!   routes, guards, health, metrics and SSE).
//! - app: [`config`] (settings from file, environment and command-line overrides), [`cli`] (the
//!   command line), [`client_config`] (client snippets), [`healthcheck`] (the container probe),
//!   [`doctor`] (checks a set-up and says what to fix),
//!   [`inbox_cli`] (the `inbox` command for client hooks, with its own small MCP client) and
//!   [`app`] (start-up and shutdown).
//!
//! The load generator is a crate of its own in the workspace (`bench/`, binary `scs-bench`): it
//! speaks only the wire protocol and imports nothing from here.

#![forbid(unsafe_code)]

pub mod app;
pub mod auth;
pub mod cli;
pub mod client_config;
pub mod config;
pub mod doctor;
pub mod domain;
pub mod error;
pub mod healthcheck;
pub mod http;
pub mod inbox_cli;
pub mod mcp;
pub mod metrics;
pub mod realtime;
pub mod service;
pub mod storage;
pub mod telemetry;
pub mod transfer;
pub mod util;
