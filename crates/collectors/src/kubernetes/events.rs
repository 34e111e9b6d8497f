//! `eso_events`: core/v1 Events about ESO objects, listed per involved kind with a field
//! selector and paged with `limit` + `continue`.
//!
//! The API server merges repeats of an event into one object whose `count` and
//! `lastTimestamp` grow, each change with a new `resourceVersion`. A row is one
//! *observation*: an event (`event_uid`) at one `resource_version`. Seen again unchanged it
//! adds nothing; seen with a higher count it adds a row, so the number of occurrences is
//! the largest `count` per `event_uid` (see docs/SOURCES.md).
//!
//! What was collected is known from revisions, not remembered event by event, so neither
//! a run's memory nor its cursor grows with the events it lists. A list is a snapshot at
//! the revision its first page gives, and the resource versions of one resource compare as
//! integers (Kubernetes 1.35 guarantees it, KEP-5504; etcd always made them so). So an event
//! at or below the revision of the last list that ran to its end was met by that list. A
//! list that stopped part-way (a failed run) met the events at or below its revision up to
//! the last key it committed, since lists page in key order. A list whose continue token
//! expired resumes from the token the `410 Gone` carries, at a newer revision: the events
//! it then meets above the first page's revision are the only ones remembered one by one.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::Event;
use keytrail_ledger::{Batch, Column, FieldType, Ledger, Record, Rejected, StreamSchema, Value};
use kube::api::{Api, ListParams};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::{ClusterReport, KubernetesError, api_error, cluster_part, with_cluster_part};

/// The stream of ESO event observations.
pub const EVENTS_STREAM: &str = "eso_events";

/// The kinds whose events are collected (`involvedObject.kind`).
const KINDS: [&str; 4] = ["ExternalSecret", "SecretStore", "ClusterSecretStore", "PushSecret"];

/// How far before the newest event a cursor of the earlier format (event by event)
/// remembered events: anything older was collected.
const LEGACY_HORIZON_MICROS: i64 = 24 * 3600 * 1_000_000;

/// Expired continue tokens in a row before giving up on a list.
const MAX_EXPIRED: u32 = 5;

/// Part-way lists a cursor keeps per kind (one per failed run in a row); beyond that the
/// oldest is dropped and its events may be added once more.
const MAX_PARTIAL: usize = 8;

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

/// A `resourceVersion`: a positive integer of any length, compared as one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
struct Revision(String);

impl Revision {
    fn parse(text: &str) -> Option<Self> {
        let digits = text.trim_start_matches('0');
        (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then(|| Self(digits.to_string()))
    }
}

impl Ord for Revision {
    fn cmp(&self, other: &Self) -> Ordering {
        // Without leading zeros, the longer number is the larger.
        self.0.len().cmp(&other.0.len()).then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for Revision {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl TryFrom<String> for Revision {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text).ok_or_else(|| format!("resource version {text:?} is not an integer"))
    }
}

impl From<Revision> for String {
    fn from(revision: Revision) -> Self {
        revision.0
    }
}

/// A list that stopped part-way: it met every event at or below `revision` whose key
/// (`namespace/name`) is at or before `through`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Partial {
    revision: Revision,
    through: String,
}

impl Partial {
    fn covers(&self, key: &str, revision: &Revision) -> bool {
        revision <= &self.revision && key <= self.through.as_str()
    }
}

/// What the cursor knows of one kind's events.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct KindCursor {
    /// The revision of the last list that ran to its end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revision: Option<Revision>,
    /// Lists since then that stopped part-way, newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    partial: Vec<Partial>,
    /// Events met above their list's revision (after a resumed list): uid → resourceVersion.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    above: BTreeMap<String, String>,
}

impl KindCursor {
    fn met(&self, key: &str, uid: &str, rv: &str, revision: &Revision) -> bool {
        self.revision.as_ref().is_some_and(|r| revision <= r)
            || self.partial.iter().any(|p| p.covers(key, revision))
            || self.above.get(uid).is_some_and(|a| a == rv)
    }
}

/// This cluster's part of the `eso_events` cursor.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct EventsCursor {
    #[serde(default)]
    kinds: BTreeMap<String, KindCursor>,
    /// From a cursor of the earlier format: uid → (resourceVersion, event time) of a day of
    /// events, kept until every kind has a list that ran to its end.
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    seen: HashMap<String, (String, i64)>,
    /// With `seen`: the newest event time it knew.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    newest: Option<i64>,
}

impl EventsCursor {
    fn from_json(part: Json) -> Self {
        // A cursor this code cannot read only makes the run add what it lists again.
        serde_json::from_value(part).unwrap_or_default()
    }

    fn to_json(&self) -> Json {
        let mut cursor = self.clone();
        if KINDS.iter().all(|k| cursor.kinds.get(*k).is_some_and(|c| c.revision.is_some())) {
            cursor.seen.clear();
            cursor.newest = None;
        }
        serde_json::to_value(cursor).expect("cursors serialize")
    }

    /// Whether a cursor of the earlier format recorded this observation.
    fn legacy_met(&self, uid: &str, rv: &str, time: Option<i64>) -> bool {
        match self.seen.get(uid) {
            Some((seen, _)) => seen == rv,
            None => self.newest.zip(time).is_some_and(|(newest, t)| t < newest.saturating_sub(LEGACY_HORIZON_MICROS)),
        }
    }
}

/// This run's list of one kind.
#[derive(Default)]
struct Listing {
    /// The revision of the first page (of this pass, after a restart).
    revision: Option<Revision>,
    /// The key of the last event met.
    through: Option<String>,
    /// Keys came out of order: no position can be trusted.
    unordered: bool,
    /// Events met above `revision`: uid → resourceVersion.
    above: BTreeMap<String, String>,
    /// Earlier passes of this run's list, when a `410 Gone` gave no token to resume from.
    earlier: Vec<Partial>,
}

impl Listing {
    fn position(&self) -> Option<Partial> {
        let (revision, through) = (self.revision.clone()?, self.through.clone()?);
        (!self.unordered).then_some(Partial { revision, through })
    }

    fn visit(&mut self, key: &str) {
        if self.through.as_deref().is_some_and(|last| key <= last) {
            self.unordered = true;
        }
        self.through = Some(key.to_string());
    }

    /// Whether this run met the event already (in a pass before a restart).
    fn met(&self, key: &str, uid: &str, rv: &str, revision: &Revision) -> bool {
        self.earlier.iter().any(|p| p.covers(key, revision)) || self.above.get(uid).is_some_and(|a| a == rv)
    }

    /// Starts the list again from its first page.
    fn restart(&mut self) {
        if self.unordered {
            tracing::warn!("the API server listed events out of key order: a list started again may add some twice");
        }
        self.earlier.extend(self.position());
        self.revision = None;
        self.through = None;
        self.unordered = false;
    }

    /// The kind's cursor while the list is under way: the last complete list still counts,
    /// and this one up to where it got.
    fn partial_cursor(&self, before: &KindCursor) -> KindCursor {
        let partial = self.position().into_iter().chain(self.earlier.iter().cloned()).chain(before.partial.iter().cloned()).take(MAX_PARTIAL).collect();
        let mut above = before.above.clone();
        above.extend(self.above.iter().map(|(k, v)| (k.clone(), v.clone())));
        KindCursor { revision: before.revision.clone(), partial, above }
    }

    /// The kind's cursor once the list ran to its end.
    fn complete_cursor(mut self, before: &KindCursor) -> KindCursor {
        let Some(revision) = self.revision.take() else {
            return before.clone();
        };
        self.above.retain(|_, rv| Revision::parse(rv).is_some_and(|r| r > revision));
        KindCursor { revision: Some(revision), partial: Vec::new(), above: self.above }
    }
}

pub(super) async fn collect(
    ledger: &Ledger,
    client: &kube::Client,
    cluster: &str,
    page_size: u32,
    commit_rows: usize,
    report: &mut ClusterReport,
) -> Result<(), KubernetesError> {
    let schema = schema()?;
    // What earlier runs collected; `next` is what this run's commits record. Each commit
    // requires the stream's cursor to be `resumed_from`, this one or the last committed,
    // so that a collection running at the same time cannot make this one commit events twice.
    let mut resumed_from = ledger.cursor(EVENTS_STREAM).await?;
    let prior = EventsCursor::from_json(cluster_part(&resumed_from, cluster));
    let mut next = prior.clone();
    let api: Api<Event> = Api::all(client.clone());
    let mut batch = Batch::default();
    for kind in KINDS {
        let what = format!("listing {kind} events");
        let before = prior.kinds.get(kind).cloned().unwrap_or_default();
        let mut listing = Listing::default();
        let mut continue_token: Option<String> = None;
        let mut expired = 0;
        loop {
            let mut params = ListParams::default().fields(&format!("involvedObject.kind={kind}")).limit(page_size.max(1));
            if let Some(token) = &continue_token {
                params = params.continue_token(token);
            }
            let page = match api.list(&params).await {
                Ok(page) => page,
                Err(kube::Error::Api(status)) if status.code == 410 && continue_token.is_some() => {
                    expired += 1;
                    report.expired_continue_tokens += 1;
                    if expired > MAX_EXPIRED {
                        let message = format!("the continue token expired {expired} times in a row: raise kubernetes.page_size so a list needs fewer pages");
                        return Err(KubernetesError::Api { cluster: cluster.into(), what, message });
                    }
                    // The API server gives a token that goes on from the next key at its
                    // newest revision; without one, the list starts again.
                    continue_token = status.metadata.as_ref().and_then(|m| m.continue_.clone()).filter(|c| !c.is_empty());
                    if continue_token.is_none() {
                        listing.restart();
                    }
                    tracing::warn!(cluster, kind, resumed = continue_token.is_some(), "the list's continue token expired (410 Gone)");
                    continue;
                }
                Err(e) => return Err(api_error(cluster, &what, e)),
            };
            expired = 0;
            let list_revision = page.metadata.resource_version.as_deref().and_then(Revision::parse).ok_or_else(|| KubernetesError::Api {
                cluster: cluster.into(),
                what: what.clone(),
                message: format!(
                    "the list's resourceVersion {:?} is not an integer, so keytrail cannot tell which events it collected",
                    page.metadata.resource_version
                ),
            })?;
            let first_revision = listing.revision.get_or_insert(list_revision).clone();
            for event in page.items {
                report.events_listed += 1;
                let uid = event.metadata.uid.clone().unwrap_or_default();
                let rv = event.metadata.resource_version.clone().unwrap_or_default();
                let key = format!("{}/{}", event.metadata.namespace.as_deref().unwrap_or_default(), event.metadata.name.as_deref().unwrap_or_default());
                let Some(revision) = Revision::parse(&rv) else {
                    let message = format!("event {key} has resourceVersion {rv:?}, not an integer, so keytrail cannot tell whether it collected it");
                    return Err(KubernetesError::Api { cluster: cluster.into(), what, message });
                };
                listing.visit(&key);
                let time = event_time(&event);
                let met = before.met(&key, &uid, &rv, &revision) || listing.met(&key, &uid, &rv, &revision) || prior.legacy_met(&uid, &rv, time);
                if revision > first_revision {
                    listing.above.insert(uid, rv);
                }
                if met {
                    continue;
                }
                let raw = serde_json::to_vec(&event).expect("events serialize");
                match time {
                    Some(t) => batch.records.push(Record { event_time: t, raw, values: values(cluster, &event) }),
                    None => batch.rejected.push(Rejected {
                        raw,
                        reason: "the event has no lastTimestamp, eventTime, series.lastObservedTime or creationTimestamp".into(),
                        origin: format!("kubernetes cluster {cluster}: event {key}"),
                        event_time: None,
                    }),
                }
                if batch.records.len() + batch.rejected.len() >= commit_rows.max(1) {
                    next.kinds.insert(kind.to_string(), listing.partial_cursor(&before));
                    commit(ledger, &schema, cluster, batch.take_keeping_room(), &next, &mut resumed_from, report).await?;
                }
            }
            continue_token = page.metadata.continue_.filter(|c| !c.is_empty());
            if continue_token.is_none() {
                break;
            }
        }
        next.kinds.insert(kind.to_string(), listing.complete_cursor(&before));
    }
    commit(ledger, &schema, cluster, batch, &next, &mut resumed_from, report).await
}

async fn commit(
    ledger: &Ledger,
    schema: &StreamSchema,
    cluster: &str,
    mut batch: Batch,
    cursor: &EventsCursor,
    resumed_from: &mut Option<Json>,
    report: &mut ClusterReport,
) -> Result<(), KubernetesError> {
    let next = with_cluster_part(resumed_from.clone(), cluster, cursor.to_json());
    batch.cursor = Some(next.clone());
    batch.resumes_from = Some(resumed_from.clone());
    let outcome = ledger.append(schema, batch).await?;
    *resumed_from = Some(next);
    report.events_appended += outcome.committed.map_or(0, |c| c.rows);
    report.events_rejected += outcome.rejected.map_or(0, |c| c.rows);
    Ok(())
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
    use serde_json::json;

    fn rev(text: &str) -> Revision {
        Revision::parse(text).unwrap()
    }

    #[test]
    fn revisions_compare_as_integers_of_any_length() {
        assert!(rev("9") < rev("10"));
        assert!(rev("812345") < rev("1000000"));
        assert_eq!(rev("0042"), rev("42"));
        assert!(rev("123456789012345678901234567890") > rev("99999999999999999999"));
        assert!(Revision::parse("").is_none() && Revision::parse("0").is_none() && Revision::parse("12a").is_none());
    }

    #[test]
    fn a_complete_list_covers_its_revision_a_partial_one_only_up_to_its_key() {
        let cursor = KindCursor {
            revision: Some(rev("100")),
            partial: vec![Partial { revision: rev("200"), through: "orders/m".into() }],
            above: BTreeMap::from([("late".to_string(), "250".to_string())]),
        };
        assert!(cursor.met("zz/any", "u1", "100", &rev("100")), "at the complete list's revision");
        assert!(cursor.met("orders/a", "u2", "150", &rev("150")), "before the part-way list's key");
        assert!(cursor.met("orders/m", "u2", "200", &rev("200")), "its last key included");
        assert!(!cursor.met("orders/n", "u3", "150", &rev("150")), "past the part-way list's key");
        assert!(!cursor.met("orders/a", "u4", "201", &rev("201")), "changed since");
        assert!(cursor.met("payments/x", "late", "250", &rev("250")), "met above its list's revision");
        assert!(!cursor.met("payments/x", "late", "260", &rev("260")), "and changed again since");
    }

    #[test]
    fn an_unfinished_list_keeps_the_last_complete_one_and_a_finished_one_replaces_it() {
        let before = KindCursor { revision: Some(rev("100")), partial: vec![Partial { revision: rev("150"), through: "a/z".into() }], above: BTreeMap::new() };
        let mut listing = Listing { revision: Some(rev("300")), ..Default::default() };
        listing.visit("a/b");
        listing.visit("a/c");
        listing.above.insert("resumed".into(), "301".into());
        let partial = listing.partial_cursor(&before);
        assert_eq!(partial.revision, Some(rev("100")));
        assert_eq!(partial.partial, [Partial { revision: rev("300"), through: "a/c".into() }, Partial { revision: rev("150"), through: "a/z".into() }]);
        assert_eq!(partial.above.get("resumed").map(String::as_str), Some("301"));

        listing.visit("a/b");
        assert_eq!(listing.partial_cursor(&before).partial.len(), 1, "keys out of order: no position is recorded");

        let complete = listing.complete_cursor(&before);
        assert_eq!(complete, KindCursor { revision: Some(rev("300")), partial: vec![], above: BTreeMap::from([("resumed".into(), "301".into())]) });
    }

    #[test]
    fn a_list_started_again_skips_what_its_first_pass_met() {
        let mut listing = Listing { revision: Some(rev("300")), ..Default::default() };
        listing.visit("a/b");
        listing.restart();
        assert!(listing.met("a/b", "u", "290", &rev("290")), "met before the restart");
        assert!(!listing.met("a/c", "u", "290", &rev("290")), "not reached before the restart");
        assert!(!listing.met("a/b", "u", "310", &rev("310")), "changed since the first pass");
    }

    #[test]
    fn a_cursor_of_the_earlier_format_is_honoured_until_every_kind_has_run() {
        const HOUR: i64 = 3600 * 1_000_000;
        let mut cursor = EventsCursor::from_json(json!({"newest": 100 * HOUR, "seen": {"old": ["7", 90 * HOUR]}}));
        assert!(cursor.legacy_met("old", "7", Some(90 * HOUR)));
        assert!(!cursor.legacy_met("old", "8", Some(101 * HOUR)), "a higher count is a new observation");
        assert!(cursor.legacy_met("gone", "1", Some(50 * HOUR)), "older than a day before the newest");
        assert!(!cursor.legacy_met("new", "1", Some(99 * HOUR)));
        cursor.kinds.insert("ExternalSecret".into(), KindCursor { revision: Some(rev("5")), ..Default::default() });
        assert!(cursor.to_json()["seen"].is_object(), "kept while a kind has not been listed to its end");
        for kind in KINDS {
            cursor.kinds.insert(kind.into(), KindCursor { revision: Some(rev("5")), ..Default::default() });
        }
        let json = cursor.to_json();
        assert!(json.get("seen").is_none() && json.get("newest").is_none(), "{json}");
        let back = EventsCursor::from_json(json);
        assert_eq!(back.kinds["PushSecret"].revision, Some(rev("5")));
    }
}
