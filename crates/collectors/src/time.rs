//! Event-time parsing shared by every source.

use chrono::{DateTime, NaiveDateTime, Utc};

/// Earliest event time accepted (1970-01-01): earlier values are data errors.
const MIN_MICROS: i64 = 0;
/// Latest event time accepted (2200-01-01T00:00:00Z).
const MAX_MICROS: i64 = 7_258_118_400_000_000;

/// Parses an event time from a JSON string or number into microseconds since the epoch.
///
/// Strings: RFC 3339 (`2026-11-04T10:00:00.123Z`, any offset), or the same without an
/// offset and with `T` or a space (taken as UTC), or a decimal epoch number. Numbers are
/// epoch seconds, milliseconds, microseconds or nanoseconds, told apart by magnitude
/// (below 10^11 seconds, below 10^14 milliseconds, below 10^17 microseconds, else
/// nanoseconds), which is unambiguous for 1973–5138.
pub fn parse_json_time(value: &serde_json::Value) -> Result<i64, String> {
    match value {
        serde_json::Value::String(s) => parse_time_str(s),
        serde_json::Value::Number(n) => match n.as_f64() {
            Some(f) => from_epoch_number(f),
            None => Err(format!("time {n} is not a number")),
        },
        other => Err(format!("time is a JSON {}, not a string or number", kind(other))),
    }
}

/// Parses a time string (see [`parse_json_time`]).
pub fn parse_time_str(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let micros = if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        dt.with_timezone(&Utc).timestamp_micros()
    } else if let Ok(n) = t.parse::<f64>() {
        return from_epoch_number(n);
    } else {
        let naive = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.fZ", "%Y-%m-%d %H:%M:%S%.f %z"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
            .ok_or_else(|| format!("time {s:?} is not RFC 3339, a date-time or an epoch number"))?;
        naive.and_utc().timestamp_micros()
    };
    in_range(micros, s)
}

fn from_epoch_number(n: f64) -> Result<i64, String> {
    if !n.is_finite() {
        return Err(format!("time {n} is not finite"));
    }
    let abs = n.abs();
    let micros = if abs < 1e11 {
        n * 1e6
    } else if abs < 1e14 {
        n * 1e3
    } else if abs < 1e17 {
        n
    } else {
        n / 1e3
    };
    in_range(micros.round() as i64, &n.to_string())
}

fn in_range(micros: i64, shown: &str) -> Result<i64, String> {
    if (MIN_MICROS..MAX_MICROS).contains(&micros) { Ok(micros) } else { Err(format!("time {shown} is outside 1970–2199")) }
}

fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_the_formats_sources_send() {
        let want = 1_793_786_400_000_000; // 2026-11-04T10:00:00Z
        for v in [
            json!("2026-11-04T10:00:00Z"),
            json!("2026-11-04T11:00:00+01:00"),
            json!("2026-11-04T10:00:00.000000000Z"),
            json!("2026-11-04 10:00:00"),
            json!("2026-11-04T10:00:00"),
            json!(1_793_786_400),
            json!(1_793_786_400_000u64),
            json!(1_793_786_400_000_000u64),
            json!(1_793_786_400_000_000_000u64),
            json!("1793786400"),
            json!(1_793_786_400.0),
        ] {
            assert_eq!(parse_json_time(&v), Ok(want), "{v}");
        }
        assert_eq!(parse_json_time(&json!("2026-11-04T10:00:00.123456Z")), Ok(want + 123_456));
    }

    #[test]
    fn rejects_what_is_not_a_time() {
        for v in [json!("yesterday"), json!(null), json!(true), json!({"t": 1}), json!(-5), json!("2300-01-01T00:00:00Z")] {
            let err = parse_json_time(&v).unwrap_err();
            assert!(!err.is_empty(), "{v}");
        }
    }
}
