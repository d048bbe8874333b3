//! Proofs for tasks and shared memory beyond the feature tests (tests/it/tasks.rs): acknowledged
//! claims and compare-and-set writes survive SIGKILL, list_tasks and claim-next read through an
//! index on a never-analyzed table, and the claim rate at 50 agents (an ignored measurement).

mod crash;
mod plans;
mod rate;
