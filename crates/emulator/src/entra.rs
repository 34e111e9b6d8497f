//! Microsoft Entra ID: the v2.0 token endpoint (client credentials with a client secret or
//! a client assertion, as workload identity sends it) and the App Service managed-identity
//! endpoint (`IDENTITY_ENDPOINT` + `X-IDENTITY-HEADER`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::{State, Stats};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

pub(crate) async fn token(
    AxumState(state): AxumState<Arc<State>>,
    Path(tenant): Path<String>,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let identity = &state.config.identity;
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let refuse = |status: StatusCode, error: &str, code: u32, description: &str| {
        Stats::add(&state.stats.token_failures, 1);
        entra_error(status, error, code, description)
    };
    if tenant != identity.tenant_id {
        return refuse(StatusCode::BAD_REQUEST, "invalid_request", 90002, &format!("Tenant '{tenant}' not found."));
    }
    if field("grant_type") != "client_credentials" {
        return refuse(StatusCode::BAD_REQUEST, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.");
    }
    if !field("scope").ends_with("/.default") {
        return refuse(StatusCode::BAD_REQUEST, "invalid_scope", 1002012, "The provided value for scope is not valid.");
    }
    if field("client_id") != identity.client_id {
        return refuse(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!("Application with identifier '{}' was not found in the directory.", field("client_id")),
        );
    }
    let authenticated = if let Some(secret) = form.get("client_secret") {
        secret == &identity.client_secret
    } else if field("client_assertion_type") == ASSERTION_TYPE {
        field("client_assertion") == identity.federated_token
    } else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        );
    };
    if !authenticated {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            "Invalid client secret or client assertion provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
        );
    }
    let lifetime = state.config.token_lifetime_secs;
    let access_token = issue(&state, lifetime);
    Json(json!({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": access_token})).into_response()
}

pub(crate) async fn managed_identity_token(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let header = headers.get("x-identity-header").and_then(|v| v.to_str().ok());
    if header != Some(state.config.identity.identity_header.as_str()) {
        Stats::add(&state.stats.token_failures, 1);
        return (StatusCode::UNAUTHORIZED, Json(json!({"statusCode": 401, "message": "Unauthorized: X-IDENTITY-HEADER is missing or wrong"}))).into_response();
    }
    let Some(resource) = params.get("resource") else {
        Stats::add(&state.stats.token_failures, 1);
        return (StatusCode::BAD_REQUEST, Json(json!({"statusCode": 400, "message": "resource is required"}))).into_response();
    };
    let lifetime = state.config.token_lifetime_secs;
    let expires_on = chrono::Utc::now().timestamp() + lifetime as i64;
    let access_token = issue(&state, lifetime);
    Json(json!({"access_token": access_token, "expires_on": expires_on.to_string(), "resource": resource, "token_type": "Bearer"})).into_response()
}

fn issue(state: &State, lifetime_secs: u64) -> String {
    let token = format!("emu.{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
    let expiry = Instant::now() + Duration::from_secs(lifetime_secs);
    state.tokens.lock().expect("token table").insert(token.clone(), expiry);
    Stats::add(&state.stats.tokens_issued, 1);
    token
}

/// Whether a request carries a token this emulator issued and that has not expired.
pub(crate) fn authorized(state: &State, headers: &HeaderMap) -> bool {
    let Some(token) = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")) else {
        return false;
    };
    state.tokens.lock().expect("token table").get(token).is_some_and(|expiry| *expiry > Instant::now())
}

fn entra_error(status: StatusCode, error: &str, code: u32, description: &str) -> Response {
    let trace_id = format!("{:08x}-0000-4000-8000-{:012x}", fastrand::u32(..), fastrand::u64(..) >> 16);
    let body = json!({
        "error": error,
        "error_description": format!("AADSTS{code}: {description} Trace ID: {trace_id} Timestamp: {}", chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ")),
        "error_codes": [code],
        "timestamp": chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string(),
        "trace_id": trace_id,
        "correlation_id": trace_id,
    });
    (status, Json(body)).into_response()
}
