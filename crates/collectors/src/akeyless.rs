//! Akeyless audit records: the JSON the Akeyless Gateway forwards, whichever sink it
//! arrives through (the `AkeylessAudit_CL` Log Analytics table, forwarded files). Every
//! field is optional; the record itself is always kept whole in `raw`.

use std::borrow::Cow;

use keytrail_ledger::{Column, FieldType, ValueRef, ValueSink};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use crate::jsonl::Key;
use crate::time::{parse_json_time, parse_time_str};

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

/// Parses one Akeyless audit record (a JSON object) into `out`, one value per entry of
/// [`columns`], and returns the record's own `timestamp` (microseconds) if it has one.
/// `time_generated` and `source` describe how it arrived. On error nothing has been
/// written to `out`: every check that can fail comes before the first value.
pub fn parse(text: &str, item_path_fields: &[String], time_generated: Option<i64>, source: &str, out: &mut impl ValueSink) -> Result<Option<i64>, String> {
    let record: Node = serde_json::from_str(text).map_err(|e| format!("Akeyless record is not valid JSON: {e}"))?;
    if !matches!(record, Node::Object(_)) {
        return Err("Akeyless record is not a JSON object".into());
    }
    let [time, account_id, access_id, action, item_type, status, duration, remote_addr, component, severity, parameters, claims] = members(&record, &TOP_LEVEL);
    let timestamp = time.map(|v| v.time().map_err(|e| format!("Akeyless field timestamp: {e}"))).transpose()?;
    let status = status.map(|v| v.int().ok_or_else(|| format!("Akeyless field status: expected an HTTP status code, found {}", v.json()))).transpose()?;
    let item_path = item_path_fields.iter().find_map(|f| f.split('.').try_fold(&record, |v, key| v.get(key)).filter(|v| !matches!(v, Node::Null)));
    let [access_type, product, operation, user_agent, unique_id] = parameters.map_or([None; 5], |p| members(p, &PARAMETERS));
    let [email, k8s_namespace, k8s_service_account] = claims.map_or([None; 3], |c| members(c, &CLAIMS));

    let time_value = |t: Option<i64>| t.map_or(ValueRef::Null, ValueRef::Time);
    let int_value = |i: Option<i64>| i.map_or(ValueRef::Null, ValueRef::Int);
    let identity = record.identity();
    out.put(time_value(timestamp));
    out.put(ValueRef::Str(std::str::from_utf8(&identity).expect("hex digits are ASCII")));
    out.put(time_value(time_generated));
    for field in [account_id, access_id, action, item_type, item_path] {
        put_text(field, out);
    }
    out.put(int_value(status));
    out.put(status.map_or(ValueRef::Null, |s| ValueRef::Bool(s >= 400)));
    match remote_addr {
        None => out.put(ValueRef::Null),
        Some(v) => {
            let json;
            let text = match v {
                Node::Str(s) => s.as_ref(),
                other => {
                    json = other.json();
                    &json
                }
            };
            let addrs: Vec<&str> = text.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
            out.put(ValueRef::StrList(&addrs));
        }
    }
    out.put(int_value(duration.and_then(Node::int)));
    for field in [component, severity, access_type, product, operation, user_agent, unique_id, email, k8s_namespace, k8s_service_account] {
        put_text(field, out);
    }
    match claims {
        Some(c) => out.put(ValueRef::Str(&c.json())),
        None => out.put(ValueRef::Null),
    }
    out.put(ValueRef::Str(source));
    Ok(timestamp)
}

/// A field as text: strings unquoted, anything else as JSON.
fn put_text(field: Option<&Node>, out: &mut impl ValueSink) {
    match field {
        None => out.put(ValueRef::Null),
        Some(Node::Str(s)) => out.put(ValueRef::Str(s)),
        Some(other) => out.put(ValueRef::Str(&other.json())),
    }
}

/// The record's top-level fields read into typed columns, in the order [`parse`] takes them.
const TOP_LEVEL: [&str; 12] = [
    "timestamp",
    "account_id",
    "access_id",
    "action",
    "item_type",
    "status",
    "duration",
    "remote_addr",
    "component",
    "severity",
    "request_parameters",
    "client_sub_claims",
];
const PARAMETERS: [&str; 5] = ["access_type", "product", "operation", "user_agent", "unique_id"];
const CLAIMS: [&str; 3] = ["email", "k8s_namespace", "k8s_service_account"];

/// The non-null members of an object named in `names`, found in one pass over the object
/// (a lookup per column costs more than the rest of the parse).
fn members<'n, 'a, const N: usize>(node: &'n Node<'a>, names: &[&str; N]) -> [Option<&'n Node<'a>>; N] {
    let mut found = [None; N];
    if let Node::Object(members) = node {
        for (key, value) in members {
            if let Some(i) = names.iter().position(|n| *n == key.as_ref()) {
                found[i] = Some(value).filter(|v| !matches!(v, Node::Null));
            }
        }
    }
    found
}

/// A JSON document whose strings borrow from the text they were parsed from, with every
/// object's members sorted by key (the last of duplicate keys wins, as in
/// `serde_json::Value`). Every record is parsed once for its typed fields and its identity,
/// so this avoids the allocation per string and per map node that `serde_json::Value` makes.
#[derive(Debug)]
enum Node<'a> {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Str(Cow<'a, str>),
    Array(Vec<Node<'a>>),
    Object(Vec<(Cow<'a, str>, Node<'a>)>),
}

impl<'a> Node<'a> {
    fn get(&self, key: &str) -> Option<&Node<'a>> {
        match self {
            Node::Object(members) => members.binary_search_by(|(k, _)| k.as_ref().cmp(key)).ok().map(|i| &members[i].1),
            _ => None,
        }
    }

    /// The record identity: hex SHA-256 of the canonical JSON (object keys sorted at every
    /// level, no insignificant whitespace, serde_json's number and string forms). The same
    /// record forwarded to a file and to Log Analytics gets the same identity whatever
    /// whitespace or key order each sink wrote, so the query layer can de-duplicate.
    fn identity(&self) -> [u8; 64] {
        thread_local!(static CANONICAL: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) });
        CANONICAL.with_borrow_mut(|canonical| {
            canonical.clear();
            self.write_canonical(canonical);
            let mut hex = [0u8; 64];
            hex::encode_to_slice(Sha256::digest(&canonical[..]), &mut hex).expect("64 hex digits for 32 bytes");
            hex
        })
    }

    fn write_canonical(&self, out: &mut Vec<u8>) {
        match self {
            Node::Null => out.extend_from_slice(b"null"),
            Node::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Node::Number(n) => serde_json::to_writer(&mut *out, n).expect("writing to a Vec"),
            Node::Str(s) => write_string(s, out),
            Node::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.write_canonical(out);
                }
                out.push(b']');
            }
            Node::Object(members) => {
                out.push(b'{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_string(k, out);
                    out.push(b':');
                    v.write_canonical(out);
                }
                out.push(b'}');
            }
        }
    }

    /// The canonical JSON text (what `serde_json::Value`'s `to_string` writes).
    fn json(&self) -> String {
        let mut out = Vec::new();
        self.write_canonical(&mut out);
        String::from_utf8(out).expect("JSON text is UTF-8")
    }

    /// An integer from a number or a numeric string (sources send both).
    fn int(&self) -> Option<i64> {
        match self {
            Node::Number(n) => json_int(&Json::Number(n.clone())),
            Node::Str(s) => json_int_str(s),
            _ => None,
        }
    }

    fn time(&self) -> Result<i64, String> {
        match self {
            Node::Str(s) => parse_time_str(s),
            Node::Number(n) => parse_json_time(&Json::Number(n.clone())),
            other => parse_json_time(&serde_json::from_str(&other.json()).expect("canonical JSON parses")),
        }
    }
}

/// A string as serde_json writes it. A borrowed string had no escapes in its JSON text, and
/// a string without escapes can hold no character serde_json escapes (quote, backslash,
/// control characters), so it is written as it is.
#[allow(clippy::ptr_arg)] // Borrowed or owned is what says whether the text may hold escapes.
fn write_string(s: &Cow<'_, str>, out: &mut Vec<u8>) {
    match s {
        Cow::Borrowed(s) => {
            out.push(b'"');
            out.extend_from_slice(s.as_bytes());
            out.push(b'"');
        }
        Cow::Owned(s) => serde_json::to_writer(&mut *out, s).expect("writing to a Vec"),
    }
}

impl<'de> Deserialize<'de> for Node<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Null)
    }
    fn visit_none<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node<'de>, D::Error> {
        Node::deserialize(d)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Node<'de>, E> {
        Ok(Node::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Node<'de>, E> {
        Ok(Node::Number(n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Node<'de>, E> {
        Ok(Node::Number(n.into()))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Node<'de>, E> {
        Ok(serde_json::Number::from_f64(n).map_or(Node::Null, Node::Number))
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Owned(s.to_string())))
    }
    fn visit_string<E>(self, s: String) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Owned(s)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node<'de>, A::Error> {
        let mut members: Vec<(Cow<'de, str>, Node<'de>)> = Vec::with_capacity(map.size_hint().unwrap_or(16));
        while let Some(Key(key)) = map.next_key()? {
            members.push((key, map.next_value()?));
        }
        members.sort_by(|a, b| a.0.cmp(&b.0));
        // Of equal keys the later one stays, as `serde_json::Value` keeps the last.
        members.dedup_by(|later, earlier| {
            let same = later.0 == earlier.0;
            if same {
                std::mem::swap(&mut later.1, &mut earlier.1);
            }
            same
        });
        Ok(Node::Object(members))
    }
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
        Json::String(s) => json_int_str(s),
        _ => None,
    }
}

fn json_int_str(s: &str) -> Option<i64> {
    s.trim().parse::<i64>().ok().or_else(|| s.trim().parse::<f64>().ok().filter(|f| f.fract() == 0.0).map(|f| f as i64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use keytrail_ledger::Value;

    fn fields() -> Vec<String> {
        DEFAULT_ITEM_PATH_FIELDS.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_documented_fields_leniently() {
        let text = r#"{"timestamp":"2026-11-03T10:00:00Z","access_id":"p-abc","action":"get_secret_value","status":"403",
            "remote_addr":"20.1.2.3, 10.0.0.5","duration":"12","request_parameters":{"name":"/prod/db","access_type":"k8s"},
            "client_sub_claims":{"k8s_namespace":"external-secrets","email":null}}"#;
        let mut values = Vec::new();
        let timestamp = parse(text, &fields(), None, "file", &mut values).unwrap();
        let cols = columns();
        let get = |name: &str| &values[cols.iter().position(|c| c.name == name).unwrap()];
        assert_eq!(timestamp, Some(1_793_700_000_000_000));
        assert_eq!(get("status"), &Value::Int(403));
        assert_eq!(get("is_error"), &Value::Bool(true));
        assert_eq!(get("item_path"), &Value::Str("/prod/db".into()));
        assert_eq!(get("remote_addrs"), &Value::StrList(vec!["20.1.2.3".into(), "10.0.0.5".into()]));
        assert_eq!(get("duration_ms"), &Value::Int(12));
        assert_eq!(get("k8s_namespace"), &Value::Str("external-secrets".into()));
        assert_eq!(get("client_email"), &Value::Null);
        assert_eq!(values.len(), cols.len());
        for (v, c) in values.iter().zip(&cols) {
            assert!(v.fits(c.kind), "{} does not fit {:?}", c.name, c.kind);
        }
    }

    fn record_id(record: &str) -> Result<String, serde_json::Error> {
        Ok(String::from_utf8(serde_json::from_str::<Node>(record)?.identity().to_vec()).unwrap())
    }

    #[test]
    fn the_same_record_written_differently_has_one_identity() {
        let a = record_id(r#"{"b":1,"a":{"y":"é","x":[1,2]}}"#).unwrap();
        let b = record_id(r#"{ "a": {"x": [1, 2], "y": "\u00e9"}, "b": 1 }"#).unwrap();
        let c = record_id(r#"{"b":2,"a":{"y":"é","x":[1,2]}}"#).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn the_canonical_form_is_what_serde_json_writes_for_its_sorted_value() {
        // docs/SOURCES.md defines the identity through serde_json's sorted `Value`; the
        // borrowing parser must produce the very same bytes.
        for text in [
            r#"{"z":1,"a":[true,false,null,{"k":"v","b":-0.5}],"m":{"y":1e3,"x":18446744073709551615}}"#,
            r#"{"s":"quote \" back \\ tab \t nl \n ctl \u0001 uni \u00e9 \ud83d\ude00 /slash\/"}"#,
            r#"{"dup":1,"other":2,"dup":3}"#,
            r#"{"\u0061":"escaped key","a\"b":"odd key","num":-12,"f":1.5e-7,"big":12345678901234567890}"#,
            r#"[1,"two",{"three":3}]"#,
            r#""just a string""#,
        ] {
            let value: Json = serde_json::from_str(text).unwrap();
            let node: Node = serde_json::from_str(text).unwrap();
            assert_eq!(node.json(), value.to_string(), "{text}");
        }
    }

    #[test]
    fn item_path_mapping_is_configurable_and_bad_records_say_why() {
        let text = r#"{"custom":{"secret":"/a/b"},"item":"/x"}"#;
        let mut values = Vec::new();
        parse(text, &["custom.secret".to_string()], None, "file", &mut values).unwrap();
        assert!(values.contains(&Value::Str("/a/b".into())));
        let error = |text: &str| {
            let mut values = Vec::new();
            let error = parse(text, &fields(), None, "f", &mut values).unwrap_err();
            assert!(values.is_empty(), "a failed parse wrote {values:?}");
            error
        };
        assert!(error("[1]").contains("not a JSON object"));
        assert!(error(r#"{"status":"teapot"}"#).contains("status"));
        assert!(error(r#"{"timestamp":"yesterday"}"#).contains("timestamp"));
    }
}
