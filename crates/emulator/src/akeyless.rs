//! The Akeyless REST API under `/akeyless`: `POST /auth` (an access key, a Kubernetes
//! service-account token or an Azure AD cloud ID, each for its own access ID), then `/list-items`,
//! `/list-roles` and `/list-auth-methods` with the token in the JSON body and
//! `pagination-token`/`next_page` paging. Queued 429/5xx faults apply to the list calls.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State as AxumState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::faults::Fault;
use crate::{State, Stats};

pub(crate) async fn auth(AxumState(state): AxumState<Arc<State>>, Json(body): Json<Value>) -> Response {
    let config = &state.config.akeyless;
    let field = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or_default();
    // Each auth method has its own access ID and type: an ID with another type's proof fails.
    let (access_id, proof) = match field("access-type") {
        "access_key" => (&config.access_id, field("access-key") == config.access_key),
        // A Kubernetes service-account token (base64 of a JWT) for a configured K8s auth config.
        "k8s" => {
            use base64::Engine;
            let token = base64::engine::general_purpose::STANDARD.decode(field("k8s-service-account-token")).unwrap_or_default();
            (&config.k8s_access_id, field("k8s-auth-config-name") == config.k8s_auth_config_name && token.split(|b| *b == b'.').count() == 3)
        }
        "azure_ad" => (&config.azure_ad_access_id, !field("cloud-id").is_empty()),
        other => return error(StatusCode::BAD_REQUEST, &format!("unknown access-type '{other}'")),
    };
    if field("access-id") != access_id.as_str() || !proof {
        Stats::add(&state.stats.token_failures, 1);
        return error(StatusCode::UNAUTHORIZED, "failed to authenticate: access-id or access-key is wrong");
    }
    let token = format!("t-{:016x}", fastrand::u64(..));
    state.akeyless_tokens.lock().expect("token set").insert(token.clone());
    Stats::add(&state.stats.tokens_issued, 1);
    Json(json!({"token": token})).into_response()
}

pub(crate) async fn list(AxumState(state): AxumState<Arc<State>>, Path(call): Path<String>, Json(body): Json<Value>) -> Response {
    Stats::add(&state.stats.queries, 1);
    let token = body.get("token").and_then(Value::as_str).unwrap_or_default();
    if !state.akeyless_tokens.lock().expect("token set").contains(token) {
        Stats::add(&state.stats.unauthorized, 1);
        return error(StatusCode::UNAUTHORIZED, "the token is missing, expired or unknown");
    }
    match state.faults.next().filter(|f| *f != Fault::Pass) {
        Some(Fault::Throttle { .. }) => {
            Stats::add(&state.stats.faults_served, 1);
            return error(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded");
        }
        Some(Fault::ServerError { status }) => {
            Stats::add(&state.stats.faults_served, 1);
            return error(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), "internal error");
        }
        _ => {}
    }
    let config = &state.config.akeyless;
    let (field, objects) = match call.as_str() {
        "list-items" => ("items", &config.items),
        "list-roles" => ("roles", &config.roles),
        "list-auth-methods" => ("auth_methods", &config.auth_methods),
        other => return error(StatusCode::NOT_FOUND, &format!("unknown API call {other}")),
    };
    let start: usize = body.get("pagination-token").and_then(Value::as_str).and_then(|p| p.parse().ok()).unwrap_or(0);
    let end = (start + config.page_size.max(1)).min(objects.len());
    let page = objects.get(start..end).unwrap_or_default();
    let next = if end < objects.len() { end.to_string() } else { String::new() };
    Json(json!({field: page, "next_page": next})).into_response()
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}
