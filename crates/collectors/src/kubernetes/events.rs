//! `eso_events`: core/v1 Events about ESO objects, listed per involved kind with a field
//! selector and paged with `limit` + `continue`.
//!
//! The API server merges repeats of an event into one object whose `count` and
//! `lastTimestamp` grow, each change with a new `resourceVersion`. A row is one
//! *observation*: an event (`event_uid`) at one `resource_version`. Seen again unchanged it
//! adds nothing; seen with a higher count it adds a row, so the number of occurrences is
//! the largest `count` per `event_uid` (see docs/SOURCES.md).
//!
//! Events expire (about an hour, `--event-ttl`), so the cursor only remembers what it saw
//! within [`HORIZON_MICROS`] of the newest event: anything older was collected by an earlier
//! run or will never change again.

use std::collections::{HashMap, HashSet};

use k8s_openapi::api::core::v1::Event;
use keytrail_ledger::{Batch, Column, FieldType, Ledger, Record, Rejected, StreamSchema, Value};
use kube::api::{Api, ListParams};
use serde_json::{Value as Json, json};

use super::{ClusterReport, KubernetesError, api_error, cluster_cursor, with_cluster_cursor};

/// The stream of ESO event observations.
pub const EVENTS_STREAM: &str = "eso_events";

/// The kinds whose events are collected (`involvedObject.kind`).
const KINDS: [&str; 4] = ["ExternalSecret", "SecretStore", "ClusterSecretStore", "PushSecret"];

/// How far before the newest event seen the cursor remembers events: a day, far more than
/// the API server keeps them, to absorb clock skew and late runs.
pub const HORIZON_MICROS: i64 = 24 * 3600 * 1_000_000;

/// Restarts of one list in a row before giving up.
const MAX_RESTARTS: u32 = 5;

/// Observations gathered before a commit, bounding memory.
const COMMIT_ROWS: usize = 50_000;

pub(super) fn schema() -> Result<StreamSchema, keytrail_ledger::LedgerError> {
    use FieldType::*;
    let columns = [
        ("cluster_name", Str),
        ("namespace", Str),
        ("involved_kind", Str),
        ("involved_name", Str),
        ("involved_uid", Str),
        ("reason", Str),
        ("event_type", Str),
        ("message", Str),
        ("count", Int),
        ("first_timestamp", Time),
        ("last_timestamp", Time),
        ("reporting_component", Str),
        ("event_name", Str),
        ("event_uid", Str),
        ("resource_version", Str),
    ];
    StreamSchema::new(EVENTS_STREAM, columns.iter().map(|(n, t)| Column::new(*n, *t)).collect())
}

/// What the cursor remembers: event uid → (resourceVersion, event time).
struct Seen {
    /// The newest event time seen, this run included.
    newest: i64,
    /// Events before this were collected by an earlier run (fixed when the run starts).
    horizon: i64,
    /// What the last run's cursor remembered (never pruned during the run).
    prior: HashMap<String, (String, i64)>,
    /// What this run recorded, pruned to [`HORIZON_MICROS`] at each commit so a long run
    /// holds a day of events, not all it listed.
    current: HashMap<String, (String, i64)>,
}

impl Seen {
    fn from_cursor(part: &Json) -> Self {
        let prior = part["seen"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(uid, v)| Some((uid.clone(), (v[0].as_str()?.to_string(), v[1].as_i64()?))))
                    .collect()
            })
            .unwrap_or_default();
        let newest = part["newest"].as_i64().unwrap_or(i64::MIN);
        Self { newest, horizon: newest.saturating_sub(HORIZON_MICROS), prior, current: HashMap::new() }
    }

    /// Whether an earlier run recorded this observation (or the event is past the horizon).
    fn recorded(&self, uid: &str, resource_version: &str, time: Option<i64>) -> bool {
        match self.current.get(uid).or_else(|| self.prior.get(uid)) {
            Some((rv, _)) if rv == resource_version => true,
            Some(_) => false,
            None => time.is_some_and(|t| t < self.horizon),
        }
    }

    fn record(&mut self, uid: String, resource_version: String, time: i64) {
        self.newest = self.newest.max(time);
        self.current.insert(uid, (resource_version, time));
    }

    /// Forgets this run's events older than a day before the newest; the run's restart
    /// check still knows them.
    fn prune(&mut self) {
        let horizon = self.newest.saturating_sub(HORIZON_MICROS);
        self.current.retain(|_, (_, t)| *t >= horizon);
    }

    fn to_cursor(&self) -> Json {
        let horizon = self.newest.saturating_sub(HORIZON_MICROS);
        let mut seen = serde_json::Map::new();
        for (uid, (rv, t)) in self.prior.iter().chain(&self.current).filter(|(_, (_, t))| *t >= horizon) {
            seen.insert(uid.clone(), json!([rv, t]));
        }
        json!({"newest": self.newest, "seen": seen})
    }
}

pub(super) async fn collect(ledger: &Ledger, client: &kube::Client, cluster: &str, page_size: u32, report: &mut ClusterReport) -> Result<(), KubernetesError> {
    let schema = schema()?;
    let mut seen = Seen::from_cursor(&cluster_cursor(ledger, EVENTS_STREAM, cluster).await?);
    let api: Api<Event> = Api::all(client.clone());
    let mut batch = Batch::default();
    // Observations met in this run, so that a list restarted after a 410 adds nothing twice:
    // 128 bits of SHA-256 of (uid, resourceVersion) each, not the strings, to keep a run
    // over a busy cluster small.
    let mut this_run: HashSet<[u8; 16]> = HashSet::new();
    for kind in KINDS {
        let mut continue_token: Option<String> = None;
        let mut restarts = 0;
        loop {
            let mut params = ListParams::default().fields(&format!("involvedObject.kind={kind}")).limit(page_size.max(1));
            if let Some(token) = &continue_token {
                params = params.continue_token(token);
            }
            let page = match api.list(&params).await {
                Ok(page) => page,
                Err(kube::Error::Api(status)) if status.code == 410 && continue_token.is_some() => {
                    restarts += 1;
                    report.restarts += 1;
                    if restarts > MAX_RESTARTS {
                        return Err(KubernetesError::Api {
                            cluster: cluster.into(),
                            what: format!("listing {kind} events"),
                            message: format!("the continue token expired {restarts} times in a row: raise kubernetes.page_size so a list needs fewer pages"),
                        });
                    }
                    tracing::warn!(cluster, kind, restarts, "the list's continue token expired (410 Gone); listing again from the start");
                    continue_token = None;
                    continue;
                }
                Err(e) => return Err(api_error(cluster, &format!("listing {kind} events"), e)),
            };
            for event in page.items {
                report.events_listed += 1;
                let uid = event.metadata.uid.clone().unwrap_or_default();
                let rv = event.metadata.resource_version.clone().unwrap_or_default();
                if !this_run.insert(observation_key(&uid, &rv)) {
                    continue;
                }
                let time = event_time(&event);
                if seen.recorded(&uid, &rv, time) {
                    continue;
                }
                let raw = serde_json::to_vec(&event).expect("events serialize");
                match time {
                    Some(t) => {
                        batch.records.push(Record { event_time: t, raw, values: values(cluster, &event) });
                        seen.record(uid, rv, t);
                    }
                    None => batch.rejected.push(Rejected {
                        raw,
                        reason: "the event has no lastTimestamp, eventTime, series.lastObservedTime or creationTimestamp".into(),
                        origin: format!("kubernetes cluster {cluster}: event {}/{}", event.metadata.namespace.as_deref().unwrap_or_default(), event.metadata.name.as_deref().unwrap_or_default()),
                        event_time: None,
                    }),
                }
                if batch.records.len() >= COMMIT_ROWS {
                    commit(ledger, &schema, cluster, batch.take_keeping_room(), &seen, report).await?;
                    seen.prune();
                }
            }
            continue_token = page.metadata.continue_.filter(|c| !c.is_empty());
            if continue_token.is_none() {
                break;
            }
        }
    }
    commit(ledger, &schema, cluster, batch, &seen, report).await
}

async fn commit(ledger: &Ledger, schema: &StreamSchema, cluster: &str, mut batch: Batch, seen: &Seen, report: &mut ClusterReport) -> Result<(), KubernetesError> {
    batch.cursor = Some(with_cluster_cursor(ledger, EVENTS_STREAM, cluster, seen.to_cursor()).await?);
    let outcome = ledger.append(schema, batch).await?;
    report.events_appended += outcome.committed.map_or(0, |c| c.rows);
    report.events_rejected += outcome.rejected.map_or(0, |c| c.rows);
    Ok(())
}

fn observation_key(uid: &str, resource_version: &str) -> [u8; 16] {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new().chain_update(uid).chain_update([0]).chain_update(resource_version).finalize();
    digest[..16].try_into().expect("16 of 32 bytes")
}

/// When the event last happened: `lastTimestamp`, else the newer API's `series` or
/// `eventTime`, else when the object was made.
fn event_time(event: &Event) -> Option<i64> {
    event
        .last_timestamp
        .as_ref()
        .map(|t| t.0.as_microsecond())
        .or_else(|| event.series.as_ref().and_then(|s| s.last_observed_time.as_ref()).map(|t| t.0.as_microsecond()))
        .or_else(|| event.event_time.as_ref().map(|t| t.0.as_microsecond()))
        .or_else(|| event.metadata.creation_timestamp.as_ref().map(|t| t.0.as_microsecond()))
}

fn values(cluster: &str, event: &Event) -> Vec<Value> {
    let text = |s: Option<&String>| s.map_or(Value::Null, |s| Value::Str(s.clone()));
    let involved = &event.involved_object;
    let first = event.first_timestamp.as_ref().map(|t| t.0.as_microsecond()).or_else(|| event.event_time.as_ref().map(|t| t.0.as_microsecond()));
    let count = event.count.or_else(|| event.series.as_ref().and_then(|s| s.count)).unwrap_or(1);
    let reporter = event.reporting_component.as_ref().filter(|c| !c.is_empty()).or_else(|| event.source.as_ref().and_then(|s| s.component.as_ref()));
    vec![
        Value::Str(cluster.into()),
        text(event.metadata.namespace.as_ref()),
        text(involved.kind.as_ref()),
        text(involved.name.as_ref()),
        text(involved.uid.as_ref()),
        text(event.reason.as_ref()),
        text(event.type_.as_ref()),
        text(event.message.as_ref()),
        Value::Int(i64::from(count)),
        first.map_or(Value::Null, Value::Time),
        event_time(event).map_or(Value::Null, Value::Time),
        text(reporter),
        text(event.metadata.name.as_ref()),
        text(event.metadata.uid.as_ref()),
        text(event.metadata.resource_version.as_ref()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3600 * 1_000_000;

    #[test]
    fn pruning_keeps_the_last_run_and_a_day_of_this_one() {
        let cursor = json!({"newest": 100 * HOUR, "seen": {"old": ["7", 90 * HOUR]}});
        let mut seen = Seen::from_cursor(&cursor);
        assert!(seen.recorded("old", "7", Some(90 * HOUR)), "remembered by the last run");
        assert!(!seen.recorded("old", "8", Some(101 * HOUR)), "a higher count is a new observation");
        assert!(seen.recorded("gone", "1", Some(50 * HOUR)), "older than the last run's horizon");
        for hour in 100..200 {
            seen.record(format!("e{hour}"), "1".into(), hour * HOUR);
        }
        seen.prune();
        assert_eq!(seen.current.len(), 25, "hours 175..=199: a day before the newest");
        assert!(seen.recorded("old", "7", Some(90 * HOUR)), "the last run's events are never pruned in a run");
        let cursor = seen.to_cursor();
        assert_eq!(cursor["newest"], 199 * HOUR);
        assert_eq!(cursor["seen"].as_object().unwrap().len(), 25, "the last run's old event falls out of the new cursor");
    }
}
