//! shared-context-server: an MCP server where agents share sessions, messages with visibility
//! rules and memory, over stdio or streamable HTTP, on embedded SQLite or PostgreSQL.
//!
//! # Layout
//! - [`domain`]: types and rules (identity, permissions, visibility, validated input); no I/O.
//! - [`storage`]: the `Store` trait and its SQLite and PostgreSQL implementations; all SQL.
//! - [`service`]: the use-cases every front end shares (permissions, visibility, audit).
//! - [`mcp`]: the MCP tools, thin adapters over the service.
//! - [`http`]: axum routes, guards and health endpoints.
//! - [`auth`]: API keys, token generation and hashing, the token cache.
//! - [`config`], [`cli`], [`app`]: settings, command line, start-up and shutdown.
//! - [`bench`]: the `bench` subcommand, a load generator that drives a running server over HTTP.
//! - [`transfer`]: `export`, `import` and `copy`, a portable JSON Lines dump of every table.

pub mod app;
pub mod auth;
pub mod bench;
pub mod cli;
pub mod client_config;
pub mod config;
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
