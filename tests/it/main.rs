//! The integration and end-to-end tests: one test binary (one link, one
//! harness), one module per area. `common` is the shared harness: temporary
//! directories, real `mariadbd` servers, the `binlogserver` binary, binlog
//! comparisons, workloads, fault relays and the Python clients' venv.
//!
//! Run one area with `cargo test --release --test it -- serve_e2e::`; the
//! README's test command (`.ci/run`) runs them all.

// clippy.toml's allow-*-in-tests reaches only `#[test]` functions; the
// helpers here are test code too, and a panic is how they report a failure.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

mod admin_sql;
mod archive;
mod binlog_entries;
mod binlog_fixtures;
mod caching_sha2;
mod config_file;
mod crash_torture;
mod disk_faults;
mod docs_refs;
mod failover_crash;
mod failover_level;
mod failover_story;
mod first_run;
mod layering;
mod line_width;
mod listener_abuse;
mod listener_limits;
mod metrics_e2e;
mod metrics_limits;
mod network_faults;
mod objstore;
mod primary_faults;
mod proxy_e2e;
mod recovery;
mod recovery_bench;
mod replica_e2e;
mod replication_control;
mod retention_e2e;
mod security;
mod serve_e2e;
mod serve_like_the_primary;
mod serve_mysql_fixtures;
mod shutdown_e2e;
mod stalled_reader;
mod start_points;
mod strace_ack;
mod switch_e2e;
mod switch_mysql;
mod tls_clients;
mod tls_primary;
mod tools_events;
mod torn_tail;
