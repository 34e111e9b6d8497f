//! The Kubernetes API of each emulated cluster, under `/k8s/<cluster>/` (a kubeconfig's
//! `server` may carry a path, as behind Rancher or a proxy):
//! - discovery: `/version`, `/api`, `/apis`, and the resource lists of `v1`,
//!   `rbac.authorization.k8s.io/v1`, `external-secrets.io/v1` and `/v1alpha1`;
//! - lists across namespaces: core/v1 `events` (with `fieldSelector`), the ESO resources,
//!   and the four RBAC kinds, in etcd's key order (`namespace/name`), paged with `limit` +
//!   `continue`;
//! - `Authorization: Bearer` checked on every call (`401` Status otherwise);
//! - `secrets` answered `403 Forbidden`, as keytrail's ClusterRole would, and counted.
//!
//! A list's `resourceVersion` is the cluster's revision: at least every object's own, as
//! etcd's is. Continue tokens are opaque; a queued [`Fault::ExpiredContinue`] makes the next
//! request that presents one fail with `410 Gone` (`reason: Expired`), as an API server does
//! once etcd compacted the list's revision, with the token that goes on from the next key
//! at a newer revision: the cluster's revision moves on by one, and the next object the list
//! would have served repeats at it (`count` + 1, a new `resourceVersion`), as an event does.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

use crate::faults::Fault;
use crate::{State, Stats};

/// `(group/version path, kind, plural, namespaced)` of every listable resource served.
const RESOURCES: &[(&str, &str, &str, bool)] = &[
    ("api/v1", "Event", "events", true),
    ("api/v1", "Secret", "secrets", true),
    ("apis/external-secrets.io/v1", "ExternalSecret", "externalsecrets", true),
    ("apis/external-secrets.io/v1", "SecretStore", "secretstores", true),
    ("apis/external-secrets.io/v1", "ClusterSecretStore", "clustersecretstores", false),
    ("apis/external-secrets.io/v1alpha1", "PushSecret", "pushsecrets", true),
    ("apis/rbac.authorization.k8s.io/v1", "Role", "roles", true),
    ("apis/rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", false),
    ("apis/rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", true),
    ("apis/rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", false),
];

/// The lowest revision a cluster is at.
pub(crate) const FIRST_REVISION: u64 = 812_345;

pub(crate) async fn serve(
    AxumState(state): AxumState<Arc<State>>,
    Path((cluster, path)): Path<(String, String)>,
    Query(params): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let Some(objects) = state.config.kubernetes.clusters.get(&cluster) else {
        return status(StatusCode::NOT_FOUND, "NotFound", &format!("no cluster {cluster} here"), None);
    };
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(state.config.kubernetes.token.as_str()) {
        Stats::add(&state.stats.unauthorized, 1);
        return status(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized", None);
    }
    let path = path.trim_end_matches('/');
    match path {
        // The API server's clock is in every reply's `Date`; the collector reads it here.
        "version" => {
            let date = state.kubernetes_now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
            return ([(axum::http::header::DATE, date)], Json(version())).into_response();
        }
        "api" => {
            return Json(json!({"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "10.0.0.1:443"}]}))
            .into_response();
        }
        "apis" => return Json(groups()).into_response(),
        _ => {}
    }
    if let Some(list) = resource_list(path) {
        return Json(list).into_response();
    }
    let Some((group_version, kind, plural, _)) = RESOURCES.iter().find(|(gv, _, plural, _)| path == format!("{gv}/{plural}")) else {
        return status(StatusCode::NOT_FOUND, "NotFound", &format!("the server could not find the requested resource ({path})"), None);
    };
    Stats::add(&state.stats.queries, 1);
    if *plural == "secrets" {
        Stats::add(&state.stats.secret_requests, 1);
        return status(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "secrets is forbidden: User cannot list resource \"secrets\" in API group \"\" at the cluster scope",
            None,
        );
    }
    let continue_token = params.get("continue").filter(|c| !c.is_empty());
    let selector = match params.get("fieldSelector").map(|s| FieldSelector::parse(s)).transpose() {
        Ok(selector) => selector,
        Err(message) => return status(StatusCode::BAD_REQUEST, "BadRequest", &message, None),
    };
    let stored: &[Value] = objects.get(*plural).map(Vec::as_slice).unwrap_or_default();
    // Events as the API server holds them now: each as far as it got, none past its TTL.
    // Positions stay those of the stored list, so a continue token means the same place.
    let ttl = state.config.kubernetes.event_ttl.filter(|_| *plural == "events");
    let now = state.kubernetes_now();
    let timed: Option<Vec<Option<Value>>> = ttl.map(|ttl| stored.iter().map(|e| crate::kube_events::state_at(e, now, ttl, FIRST_REVISION)).collect());
    let item = |i: usize| timed.as_ref().map_or(Some(&stored[i]), |t| t[i].as_ref());
    // With events that come and go, the revision moves on with the clock, as etcd's does.
    let revision_now = |base: u64| if ttl.is_some() { crate::kube_events::revision_at(base, now) } else { base };
    let selected = |i: usize| item(i).is_some_and(|o| selector.as_ref().is_none_or(|s| s.matches(o)));
    match state.faults.next().filter(|f| *f != Fault::Pass) {
        Some(Fault::ExpiredContinue) if continue_token.is_some() => {
            Stats::add(&state.stats.faults_served, 1);
            let revision = revision_now(state.revisions.get(&cluster).map_or(FIRST_REVISION, |r| r.fetch_add(1, Ordering::Relaxed) + 1));
            let position = continue_token.and_then(|t| decode_continue(t, plural));
            // The revision moved on because an object changed: the next one the list would
            // have served repeats (count + 1) at the new revision.
            if let Some(changed) = position.as_ref().and_then(|(start, _)| (*start..stored.len()).find(|i| selected(*i))) {
                state.changed.lock().expect("changed objects").insert((cluster.clone(), plural.to_string(), changed), revision);
            }
            // The token the API server gives with the 410: the same next key, the newest revision.
            let resume = position.map(|(start, _)| encode_continue(plural, start, &revision.to_string()));
            return status(
                StatusCode::GONE,
                "Expired",
                "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                Some(json!({"continue": resume})),
            );
        }
        Some(Fault::Throttle { .. }) => {
            Stats::add(&state.stats.faults_served, 1);
            return status(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", "too many requests, please try again later", None);
        }
        Some(Fault::ServerError { status: code }) => {
            Stats::add(&state.stats.faults_served, 1);
            let code = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return status(code, "InternalError", "an error on the server has prevented the request from succeeding", None);
        }
        _ => {}
    }
    // Objects are kept in key order (`namespace/name`) from the start, and a continue
    // token is the position after the last object served, so paging is linear.
    // A list's pages all come from the snapshot of its first: the token carries its revision.
    let (start, revision) = match continue_token.map(|t| decode_continue(t, plural)) {
        None => (0, revision_now(state.revisions.get(&cluster).map_or(FIRST_REVISION, |r| r.load(Ordering::Relaxed))).to_string()),
        Some(Some(position)) => position,
        Some(None) => return status(StatusCode::BAD_REQUEST, "BadRequest", "continue key is not valid", None),
    };
    let limit = params.get("limit").and_then(|l| l.parse::<usize>().ok()).filter(|l| *l > 0).unwrap_or(usize::MAX);
    let changed = state.changed.lock().expect("changed objects");
    let page_revision = revision.parse::<u64>().unwrap_or(FIRST_REVISION);
    let mut page: Vec<std::borrow::Cow<'_, Value>> = Vec::new();
    let mut next = start;
    while next < stored.len() && page.len() < limit {
        if selected(next) {
            let change = if changed.is_empty() { None } else { changed.get(&(cluster.clone(), plural.to_string(), next)) };
            let object = item(next).expect("selected");
            page.push(match change {
                Some(&at) if at <= page_revision => std::borrow::Cow::Owned(repeated(object, at)),
                _ => std::borrow::Cow::Borrowed(object),
            });
        }
        next += 1;
    }
    let mut metadata = json!({"resourceVersion": revision});
    if next < stored.len() {
        metadata["continue"] = json!(encode_continue(plural, next, &revision));
        if selector.is_none() {
            // As the API server does: a count only for lists without a selector.
            metadata["remainingItemCount"] = json!(stored.len() - next);
        }
    }
    Stats::add(&state.stats.rows_served, page.len() as u64);
    let api_version = group_version.strip_prefix("api/").or_else(|| group_version.strip_prefix("apis/")).unwrap_or(group_version);
    Json(json!({"kind": format!("{kind}List"), "apiVersion": api_version, "metadata": metadata, "items": page})).into_response()
}

/// An object as it is after repeating at `revision`: `count` + 1, a new resourceVersion.
fn repeated(object: &Value, revision: u64) -> Value {
    let mut object = object.clone();
    if let Some(count) = object["count"].as_i64() {
        object["count"] = (count + 1).into();
    }
    object["metadata"]["resourceVersion"] = revision.to_string().into();
    object
}

fn text<'a>(o: &'a Value, pointer: &str) -> &'a str {
    o.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

/// A `fieldSelector`: `a=b`, `a==b` and `a!=b` terms joined by commas, over the fields the
/// API server indexes for events. Each term is (JSON pointer of the field, equal?, value).
struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    fn parse(text: &str) -> Result<Self, String> {
        let mut terms = Vec::new();
        for term in text.split(',').filter(|t| !t.is_empty()) {
            let (field, equal, value) = if let Some((f, v)) = term.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                (f, true, v)
            } else {
                return Err(format!("invalid field selector term {term:?}"));
            };
            if ![
                "involvedObject.kind",
                "involvedObject.name",
                "involvedObject.namespace",
                "involvedObject.uid",
                "reason",
                "type",
                "metadata.namespace",
                "metadata.name",
            ]
            .contains(&field)
            {
                return Err(format!("field label not supported: {field}"));
            }
            terms.push((format!("/{}", field.replace('.', "/")), equal, value.to_string()));
        }
        Ok(Self(terms))
    }

    fn matches(&self, o: &Value) -> bool {
        self.0.iter().all(|(pointer, equal, value)| (text(o, pointer) == value) == *equal)
    }
}

fn encode_continue(plural: &str, start: usize, revision: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json!({"v": "meta.k8s.io/v1", "rv": revision, "r": plural, "start": start}).to_string())
}

/// The position and revision a continue token carries.
fn decode_continue(token: &str, plural: &str) -> Option<(usize, String)> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).ok()?;
    let json: Value = serde_json::from_slice(&bytes).ok()?;
    let start = json["start"].as_u64().filter(|_| json["r"] == plural)?;
    Some((start as usize, json["rv"].as_str()?.to_string()))
}

fn status(code: StatusCode, reason: &str, message: &str, metadata: Option<Value>) -> Response {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": metadata.unwrap_or(json!({})), "status": "Failure",
                      "message": message, "reason": reason, "code": code.as_u16()});
    (code, Json(body)).into_response()
}

fn version() -> Value {
    json!({"major": "1", "minor": "33", "emulationMajor": "1", "emulationMinor": "33", "gitVersion": "v1.33.5",
           "gitCommit": "0a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d1e3f5a7b", "gitTreeState": "clean", "buildDate": "2026-10-14T10:00:00Z",
           "goVersion": "go1.24.6", "compiler": "gc", "platform": "linux/amd64"})
}

fn groups() -> Value {
    let group = |name: &str, versions: &[&str]| {
        let list: Vec<Value> = versions.iter().map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v})).collect();
        json!({"name": name, "versions": list, "preferredVersion": list[0]})
    };
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [
        group("rbac.authorization.k8s.io", &["v1"]),
        group("external-secrets.io", &["v1", "v1alpha1"]),
    ]})
}

/// The `APIResourceList` of a group version, for discovery.
fn resource_list(path: &str) -> Option<Value> {
    let resources: Vec<Value> = RESOURCES
        .iter()
        .filter(|(gv, ..)| *gv == path)
        .map(|(_, kind, plural, namespaced)| {
            json!({"name": plural, "singularName": kind.to_lowercase(), "namespaced": namespaced, "kind": kind,
                   "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]})
        })
        .collect();
    let group_version = path.strip_prefix("api/").or_else(|| path.strip_prefix("apis/"))?;
    (!resources.is_empty()).then(|| json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}))
}
