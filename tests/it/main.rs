//! One integration-test binary: the real server over real transports, on both backends.

mod support;
mod visibility;
mod bad_input;
mod storage_contract;
mod transports;
mod guidance;
mod memory;
mod outage;
mod pg_cluster;
mod deploy;
mod tls;
mod search;
mod explain;
mod transfer;
