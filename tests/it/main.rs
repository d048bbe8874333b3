//! One integration-test binary: the real server over real transports, on both backends.

mod bad_input;
mod bench;
mod client_snippets;
mod crash;
mod deploy;
mod explain;
mod fuzz;
mod group_commit;
mod guidance;
mod idempotency;
mod limits;
mod memory;
mod monitoring;
mod observability;
mod outage;
mod pg_cluster;
mod plans;
mod probes;
mod realtime;
mod search;
mod storage_contract;
mod support;
mod tls;
mod transfer;
mod transports;
mod visibility;
