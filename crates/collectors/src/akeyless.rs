//! Akeyless audit records: the JSON the Akeyless Gateway forwards, whichever sink it
//! arrives through (the `AkeylessAudit_CL` Log Analytics table, forwarded files). Every
//! field is optional; the record itself is always kept whole in `raw`.

use keytrail_ledger::{Column, FieldType, Value};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use crate::time::parse_json_time;

/// The stream Akeyless audit records land in.
pub const STREAM: &str = "akeyless_audit";

/// Fields tried, in order, for the item path (Akeyless does not document which one
/// carries it); configurable as `item_path_fields`.
pub const DEFAULT_ITEM_PATH_FIELDS: &[&str] = &["item_name", "item", "path", "request_parameters.name"];

/// The typed columns of the `akeyless_audit` stream.
pub fn columns() -> Vec<Column> {
    use FieldType::*;
    [
        ("timestamp", Time),
        ("record_id", Str),
        ("time_generated", Time),
        ("account_id", Str),
        ("access_id", Str),
        ("action", Str),
        ("item_type", Str),
        ("item_path", Str),
        ("status", Int),
        ("is_error", Bool),
        ("remote_addrs", StrList),
        ("duration_ms", Int),
        ("component", Str),
        ("severity", Str),
        ("access_type", Str),
        ("product", Str),
        ("operation", Str),
        ("user_agent", Str),
        ("unique_id", Str),
        ("client_email", Str),
        ("k8s_namespace", Str),
        ("k8s_service_account", Str),
        ("sub_claims", Str),
        ("source", Str),
    ]
    .into_iter()
    .map(|(n, t)| Column::new(n, t))
    .collect()
}

/// A parsed record: its own time (if it has a readable one) and the typed values, in the
/// order of [`columns`].
#[derive(Debug)]
pub struct Parsed {
    /// The record's `timestamp`, microseconds.
    pub timestamp: Option<i64>,
    /// Values for [`columns`].
    pub values: Vec<Value>,
}

/// Parses one Akeyless audit record (a JSON object). `time_generated` and `source` describe
/// how it arrived.
pub fn parse(text: &str, item_path_fields: &[String], time_generated: Option<i64>, source: &str) -> Result<Parsed, String> {
    let record: Json = serde_json::from_str(text).map_err(|e| format!("Akeyless record is not valid JSON: {e}"))?;
    if !record.is_object() {
        return Err("Akeyless record is not a JSON object".into());
    }
    let timestamp = match record.get("timestamp") {
        None | Some(Json::Null) => None,
        Some(v) => Some(parse_json_time(v).map_err(|e| format!("Akeyless field timestamp: {e}"))?),
    };
    let get = |path: &str| path.split('.').try_fold(&record, |v, key| v.get(key)).filter(|v| !v.is_null());
    let text_of = |path: &str| get(path).map_or(Value::Null, |v| Value::Str(json_text(v)));
    let status = match get("status") {
        None => None,
        Some(v) => Some(json_int(v).ok_or_else(|| format!("Akeyless field status: expected an HTTP status code, found {v}"))?),
    };
    let duration = get("duration").and_then(json_int);
    let item_path = item_path_fields.iter().find_map(|f| get(f)).map_or(Value::Null, |v| Value::Str(json_text(v)));
    let remote_addrs = get("remote_addr").map_or(Value::Null, |v| {
        Value::StrList(json_text(v).split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
    });
    let claims = get("client_sub_claims");
    let claim = |key: &str| claims.and_then(|c| c.get(key)).filter(|v| !v.is_null()).map_or(Value::Null, |v| Value::Str(json_text(v)));
    let values = vec![
        timestamp.map_or(Value::Null, Value::Time),
        Value::Str(record_id(&record)),
        time_generated.map_or(Value::Null, Value::Time),
        text_of("account_id"),
        text_of("access_id"),
        text_of("action"),
        text_of("item_type"),
        item_path,
        status.map_or(Value::Null, Value::Int),
        status.map_or(Value::Null, |s| Value::Bool(s >= 400)),
        remote_addrs,
        duration.map_or(Value::Null, Value::Int),
        text_of("component"),
        text_of("severity"),
        text_of("request_parameters.access_type"),
        text_of("request_parameters.product"),
        text_of("request_parameters.operation"),
        text_of("request_parameters.user_agent"),
        text_of("request_parameters.unique_id"),
        claim("email"),
        claim("k8s_namespace"),
        claim("k8s_service_account"),
        claims.map_or(Value::Null, |c| Value::Str(c.to_string())),
        Value::Str(source.to_string()),
    ];
    Ok(Parsed { timestamp, values })
}

/// The record's identity: hex SHA-256 of its canonical JSON (object keys sorted at every
/// level, no insignificant whitespace, serde_json's number and string forms). The same
/// record forwarded to a file and to Log Analytics gets the same identity whatever
/// whitespace or key order each sink wrote, so the query layer can de-duplicate.
pub fn record_id(record: &Json) -> String {
    fn write(v: &Json, out: &mut Vec<u8>) {
        match v {
            Json::Object(map) => {
                let mut entries: Vec<(&String, &Json)> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                out.push(b'{');
                for (i, (k, v)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    serde_json::to_writer(&mut *out, k).expect("writing to a Vec");
                    out.push(b':');
                    write(v, out);
                }
                out.push(b'}');
            }
            Json::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write(item, out);
                }
                out.push(b']');
            }
            scalar => serde_json::to_writer(&mut *out, scalar).expect("writing to a Vec"),
        }
    }
    thread_local!(static CANONICAL: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) });
    CANONICAL.with_borrow_mut(|canonical| {
        canonical.clear();
        write(record, canonical);
        hex::encode(Sha256::digest(&canonical[..]))
    })
}

/// A JSON value as text: strings unquoted, anything else as JSON.
pub(crate) fn json_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An integer from a number or a numeric string (sources send both).
pub(crate) fn json_int(v: &Json) -> Option<i64> {
    match v {
        Json::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| f as i64)),
        Json::String(s) => s.trim().parse::<i64>().ok().or_else(|| s.trim().parse::<f64>().ok().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Vec<String> {
        DEFAULT_ITEM_PATH_FIELDS.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_documented_fields_leniently() {
        let text = r#"{"timestamp":"2026-11-03T10:00:00Z","access_id":"p-abc","action":"get_secret_value","status":"403",
            "remote_addr":"20.1.2.3, 10.0.0.5","duration":"12","request_parameters":{"name":"/prod/db","access_type":"k8s"},
            "client_sub_claims":{"k8s_namespace":"external-secrets","email":null}}"#;
        let p = parse(text, &fields(), None, "file").unwrap();
        let cols = columns();
        let get = |name: &str| &p.values[cols.iter().position(|c| c.name == name).unwrap()];
        assert_eq!(p.timestamp, Some(1_793_700_000_000_000));
        assert_eq!(get("status"), &Value::Int(403));
        assert_eq!(get("is_error"), &Value::Bool(true));
        assert_eq!(get("item_path"), &Value::Str("/prod/db".into()));
        assert_eq!(get("remote_addrs"), &Value::StrList(vec!["20.1.2.3".into(), "10.0.0.5".into()]));
        assert_eq!(get("duration_ms"), &Value::Int(12));
        assert_eq!(get("k8s_namespace"), &Value::Str("external-secrets".into()));
        assert_eq!(get("client_email"), &Value::Null);
        assert_eq!(p.values.len(), cols.len());
        for (v, c) in p.values.iter().zip(&cols) {
            assert!(v.fits(c.kind), "{} does not fit {:?}", c.name, c.kind);
        }
    }

    #[test]
    fn the_same_record_written_differently_has_one_identity() {
        let a: Json = serde_json::from_str(r#"{"b":1,"a":{"y":"é","x":[1,2]}}"#).unwrap();
        let b: Json = serde_json::from_str(r#"{ "a": {"x": [1, 2], "y": "\u00e9"}, "b": 1 }"#).unwrap();
        let c: Json = serde_json::from_str(r#"{"b":2,"a":{"y":"é","x":[1,2]}}"#).unwrap();
        assert_eq!(record_id(&a), record_id(&b));
        assert_ne!(record_id(&a), record_id(&c));
        assert_eq!(record_id(&a).len(), 64);
    }

    #[test]
    fn item_path_mapping_is_configurable_and_bad_records_say_why() {
        let text = r#"{"custom":{"secret":"/a/b"},"item":"/x"}"#;
        let p = parse(text, &["custom.secret".to_string()], None, "file").unwrap();
        assert!(p.values.contains(&Value::Str("/a/b".into())));
        assert!(parse("[1]", &fields(), None, "f").unwrap_err().contains("not a JSON object"));
        assert!(parse(r#"{"status":"teapot"}"#, &fields(), None, "f").unwrap_err().contains("status"));
        assert!(parse(r#"{"timestamp":"yesterday"}"#, &fields(), None, "f").unwrap_err().contains("timestamp"));
    }
}
