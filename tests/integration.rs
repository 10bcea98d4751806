//! End-to-end tests: hookshift started through `hookshift::run` on 127.0.0.1:0 in front of a real
//! downstream HTTP server on 127.0.0.1:0.
//!
//! Metrics are process-wide, so every test uses its own route names.

#[path = "shared/mapping_files.rs"]
mod mapping_files;
#[path = "integration/support.rs"]
mod support;

#[path = "integration/bad_input.rs"]
mod bad_input;
#[path = "integration/downstream.rs"]
mod downstream;
#[path = "integration/drift.rs"]
mod drift;
#[path = "integration/example_step.rs"]
mod example_step;
#[path = "integration/lifecycle.rs"]
mod lifecycle;
#[path = "integration/observability.rs"]
mod observability;
#[path = "integration/plextera.rs"]
mod plextera;
#[path = "integration/policy.rs"]
mod policy;
#[path = "integration/standard.rs"]
mod standard;
#[path = "integration/tls.rs"]
mod tls;
#[path = "integration/workers.rs"]
mod workers;

// Reliability and hostile input.
#[path = "integration/faults.rs"]
mod faults;
#[path = "integration/hostile.rs"]
mod hostile;
#[path = "integration/memory.rs"]
mod memory;
#[path = "integration/properties.rs"]
mod properties;
#[path = "integration/reliability.rs"]
mod reliability;
#[path = "integration/schema_properties.rs"]
mod schema_properties;
#[path = "integration/secrets.rs"]
mod secrets;

#[path = "integration/signed_url.rs"]
mod signed_url;

// Operator tools: optional secrets, `hookshift send`, `hookshift check` reports.
#[path = "integration/operator.rs"]
mod operator;
// The ledger: the same cases on the file backend and a real redis-server.
#[path = "integration/ledger.rs"]
mod ledger;
#[path = "integration/ledger_crash.rs"]
mod ledger_crash;
#[path = "integration/ledger_e2e.rs"]
mod ledger_e2e;
#[path = "integration/ledger_once.rs"]
mod ledger_once;
#[path = "integration/ledger_support.rs"]
mod ledger_support;
#[path = "integration/quarantine_replay.rs"]
mod quarantine_replay;
// `hookshift status` and the status page (rendered by headless Chromium), both backends.
#[path = "integration/status.rs"]
mod status;

// The model test of the whole migration (ledger off, file, two replicas on Redis).
#[path = "integration/migration_model.rs"]
mod migration_model;
