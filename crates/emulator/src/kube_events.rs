//! Kubernetes Events through time, as the API server and Container Insights show them.
//!
//! The API server merges repeats of an event into one `Event` object whose `count` and
//! `lastTimestamp` grow, and deletes the object once it has not changed for the event TTL
//! (kube-apiserver `--event-ttl`, one hour on AKS): a repeat after that is a new object,
//! its `count` starting at 1 again with a new `firstTimestamp`. Container Insights lists
//! the events every minute and writes a `KubeEvents` row for each that changed, so it holds
//! every state an Event object went through, for the workspace's retention.
//!
//! The sample months describe an event as `count` occurrences spread evenly from `first` to
//! `last`; [`ticks`] turns that into the `KubeEvents` rows, and [`state_at`] into the
//! object the API server lists at a given time, so both sources tell the same story.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

/// AKS's `--event-ttl`.
pub const EVENT_TTL: Duration = Duration::hours(1);

/// One state of an Event object: what one `KubeEvents` row records.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tick {
    /// The object's `firstTimestamp` (`FirstSeen`).
    pub first_seen: DateTime<Utc>,
    /// The occurrence that changed it (`LastSeen`).
    pub last_seen: DateTime<Utc>,
    /// Its `count` then.
    pub count: u32,
}

/// `count` occurrences spread evenly from `first` to `last`.
pub fn occurrences(first: DateTime<Utc>, last: DateTime<Utc>, count: u32) -> Vec<DateTime<Utc>> {
    let span = (last - first).num_milliseconds();
    let steps = i64::from(count.max(1)) - 1;
    (0..=steps).map(|k| if steps == 0 { first } else { first + Duration::milliseconds(span * k / steps) }).collect()
}

/// Every state the Event objects of those occurrences went through, in order: a new
/// object (count 1) whenever the one before had expired.
pub fn ticks(first: DateTime<Utc>, last: DateTime<Utc>, count: u32) -> Vec<Tick> {
    let mut ticks: Vec<Tick> = Vec::new();
    for at in occurrences(first, last, count) {
        match ticks.last() {
            Some(before) if at - before.last_seen < EVENT_TTL => ticks.push(Tick { first_seen: before.first_seen, last_seen: at, count: before.count + 1 }),
            _ => ticks.push(Tick { first_seen: at, last_seen: at, count: 1 }),
        }
    }
    ticks
}

/// The resourceVersion of a state changed at `at`: the API server's revisions grow with
/// time, so a later change always has a higher one.
pub fn revision_at(base: u64, at: DateTime<Utc>) -> u64 {
    base + u64::try_from(at.timestamp() - REVISION_EPOCH).unwrap_or(0)
}

/// 2026-01-01T00:00:00Z: revisions count seconds from here.
const REVISION_EPOCH: i64 = 1_767_225_600;

/// The Event object `event` (its final state: `firstTimestamp`, `lastTimestamp`, `count`)
/// as the API server lists it at `now`: not yet created, or deleted `ttl` after its last
/// change, is `None`; else its count and times so far, at the revision of its last change.
/// One without those times (a malformed object a test plants) is listed as it is.
pub fn state_at(event: &Value, now: DateTime<Utc>, ttl: Duration, base_revision: u64) -> Option<Value> {
    let time = |k: &str| event[k].as_str().and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc));
    let (Some(first), Some(last)) = (time("firstTimestamp"), time("lastTimestamp")) else {
        return Some(event.clone());
    };
    let count = u32::try_from(event["count"].as_u64().unwrap_or(1)).unwrap_or(u32::MAX);
    let seen: Vec<DateTime<Utc>> = occurrences(first, last, count).into_iter().take_while(|t| *t <= now).collect();
    let latest = *seen.last()?;
    if now - latest >= ttl {
        return None;
    }
    let mut state = event.clone();
    state["count"] = seen.len().into();
    state["lastTimestamp"] = latest.to_rfc3339_opts(chrono::SecondsFormat::Millis, true).into();
    state["metadata"]["resourceVersion"] = revision_at(base_revision, latest).to_string().into();
    Some(state)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 16, h, m, 0).unwrap()
    }

    #[test]
    fn repeats_further_apart_than_the_ttl_are_new_objects() {
        // Five failures two hours apart: five objects of count 1.
        let apart = ticks(at(4, 0), at(12, 0), 5);
        assert_eq!(
            apart.iter().map(|t| (t.first_seen, t.count)).collect::<Vec<_>>(),
            [(at(4, 0), 1), (at(6, 0), 1), (at(8, 0), 1), (at(10, 0), 1), (at(12, 0), 1)]
        );
        // Five 30 minutes apart: one object counting to five.
        let close = ticks(at(4, 0), at(6, 0), 5);
        assert_eq!(close.last().unwrap(), &Tick { first_seen: at(4, 0), last_seen: at(6, 0), count: 5 });
        assert!(close.iter().all(|t| t.first_seen == at(4, 0)));
    }

    #[test]
    fn the_api_lists_an_event_only_until_its_ttl_after_its_last_change() {
        let event = json!({"firstTimestamp": "2026-11-16T04:00:00Z", "lastTimestamp": "2026-11-16T06:00:00Z", "count": 5,
                           "metadata": {"resourceVersion": "1"}});
        assert_eq!(state_at(&event, at(3, 59), EVENT_TTL, 0), None, "not yet");
        let mid = state_at(&event, at(5, 10), EVENT_TTL, 0).unwrap();
        assert_eq!((mid["count"].as_u64(), mid["lastTimestamp"].as_str()), (Some(3), Some("2026-11-16T05:00:00.000Z")));
        assert!(state_at(&event, at(6, 59), EVENT_TTL, 0).is_some());
        assert_eq!(state_at(&event, at(7, 0), EVENT_TTL, 0), None, "expired an hour after its last change");
        let later = state_at(&event, at(6, 0), EVENT_TTL, 0).unwrap();
        assert!(
            later["metadata"]["resourceVersion"].as_str().unwrap().parse::<u64>().unwrap()
                > mid["metadata"]["resourceVersion"].as_str().unwrap().parse::<u64>().unwrap()
        );
    }
}
