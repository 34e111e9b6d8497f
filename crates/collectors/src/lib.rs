//! keytrail's sources: everything that reads audit data from outside and turns it into
//! ledger [`Batch`](keytrail_ledger::Batch)es.
//!
//! Each external system has its own module, with its configuration section, its client
//! and its tests; each configured source implements [`source::Source`], the one seam the
//! binary collects through. A source parses, types and rejects, and appends to the ledger
//! only whole commits with the cursor that says where the next run resumes (through
//! `keytrail_ledger`'s append, never by writing files). It never keeps credentials or
//! secret values in what it writes, and never fetches a secret's value.
//!
//! - [`jsonl`]: newline-delimited JSON files (generic `keytrail ingest`).
//! - [`log_analytics`]: Azure Monitor Log Analytics (Container Insights, AKS audit,
//!   forwarded Akeyless records).
//! - [`akeyless`]: the Akeyless audit record, whichever sink it arrives through.
//! - [`akeyless_files`]: Akeyless Gateway forwarded JSON-lines files (folder, Blob, S3).
//! - [`akeyless_api`]: configuration snapshots from the Akeyless REST API.
//! - [`kubernetes`]: ESO events and snapshots of ESO resources and RBAC, per cluster.
//! - [`gaps`]: `collection_gaps`, the ranges a run could not collect, from any source.
//! - [`http`]: the outbound HTTPS client they share (extra CA bundle, timeouts).
//! - [`retry`]: the retry loop they share (back-off, `Retry-After`, unreachable endpoints).
//! - [`source`]: the [`Source`](source::Source) trait every configured source implements,
//!   and the streams each writes.
//! - [`settings`]: configuration values checked as they are read (URLs, GUIDs, times).
//! - [`time`]: the event-time formats audit sources use.
#![deny(missing_docs)]

pub mod akeyless;
pub mod akeyless_api;
pub mod akeyless_files;
mod committer;
pub mod credential;
pub mod gaps;
pub mod http;
pub mod jsonl;
pub mod kubernetes;
pub mod log_analytics;
pub mod retry;
pub mod settings;
pub mod source;
pub mod time;
