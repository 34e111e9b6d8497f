//! Azure Monitor Log Analytics query API: `POST /v1/workspaces/{id}/query` with
//! `{"query", "timespan"}`, answered with `{"tables":[{"name","columns","rows"}]}`. Rows past
//! the cap are cut and the `200 OK` carries a `PartialError`, as the service does.

use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::dataset::schema;
use crate::faults::Fault;
use crate::{State, Stats, entra, kql};

#[derive(serde::Deserialize)]
struct QueryBody {
    query: String,
    timespan: Option<String>,
}

pub(crate) async fn query(AxumState(state): AxumState<Arc<State>>, Path(workspace): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    Stats::add(&state.stats.queries, 1);
    if !entra::authorized(&state, &headers) {
        Stats::add(&state.stats.unauthorized, 1);
        return error(StatusCode::UNAUTHORIZED, "AuthorizationRequiredError", "Valid authentication was not provided");
    }
    if workspace != state.config.workspace_id {
        return error(StatusCode::NOT_FOUND, "WorkspaceNotFoundError", &format!("Workspace {workspace} could not be found"));
    }
    let request: QueryBody = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, "BadArgumentError", &format!("The request body is not valid: {e}")),
    };
    let query = match kql::parse(&request.query) {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, "BadArgumentError", &format!("The request had some invalid properties: {e}")),
    };
    let Some(columns) = schema(&query.table).filter(|_| state.config.dataset.table(&query.table).is_some()) else {
        return error(StatusCode::BAD_REQUEST, "BadArgumentError", &format!("Failed to resolve table or column expression named '{}'", query.table));
    };
    if let Err(e) = query.check(columns) {
        return error(StatusCode::BAD_REQUEST, "BadArgumentError", &e);
    }
    let (from, to) = match request.timespan.as_deref().map(parse_timespan) {
        Some(Ok(span)) => span,
        Some(Err(e)) => return error(StatusCode::BAD_REQUEST, "BadArgumentError", &e),
        None => (i64::MIN, i64::MAX),
    };

    let fault = state.faults.next().filter(|f| *f != Fault::Pass);
    if fault.is_some() {
        Stats::add(&state.stats.faults_served, 1);
    }
    match fault {
        Some(Fault::Throttle { retry_after_secs }) => {
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, "ThrottledError", "Your request was throttled. Please retry after some time.");
            if let Some(secs) = retry_after_secs {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            return response;
        }
        Some(Fault::ServerError { status }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return error(status, "InternalServerError", "An internal error occurred while processing the request.");
        }
        Some(Fault::Hang) => std::future::pending::<()>().await,
        _ => {}
    }

    let cap = state.config.row_cap;
    let table = state.config.dataset.table(&query.table).expect("checked above");
    let mut rows = Vec::new();
    table.scan(from, to, &mut |row| {
        if query.matches(columns, row) {
            rows.push(serde_json::to_string(&row.values).expect("JSON values serialize"));
        }
        rows.len() <= cap
    });
    let mut partial = rows.len() > cap;
    rows.truncate(cap);
    if fault == Some(Fault::PartialError) {
        rows.truncate(rows.len() / 2);
        partial = true;
    }

    let mut out = String::with_capacity(rows.iter().map(|r| r.len() + 1).sum::<usize>() + 1024);
    out.push_str(r#"{"tables":[{"name":"PrimaryResult","columns":"#);
    let column_list: Vec<Value> = columns.iter().map(|(name, kind)| json!({"name": name, "type": kind})).collect();
    out.push_str(&serde_json::to_string(&column_list).expect("columns serialize"));
    out.push_str(r#","rows":["#);
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(row);
    }
    out.push_str("]}]");
    if partial {
        let inner = format!(
            "Query result set has exceeded the internal record count limit {cap} records (E_QUERY_RESULT_SET_TOO_LARGE; see https://aka.ms/kustoquerylimits)"
        );
        let error = json!({
            "code": "PartialError",
            "message": "There were some errors when processing your query.",
            "details": [{"code": "EngineError", "message": "Something went wrong processing your query on the server.",
                         "innererror": {"code": "-2133196797", "message": inner, "severity": 2, "severityName": "Error"}}]
        });
        out.push_str(r#","error":"#);
        out.push_str(&error.to_string());
    }
    out.push('}');

    if fault == Some(Fault::TruncatedBody) {
        let full = out.len();
        let half = Bytes::from(out.into_bytes()).slice(..full / 2);
        let chunks: Vec<Result<Bytes, std::io::Error>> = vec![Ok(half), Err(std::io::Error::other("connection cut by fault injection"))];
        let mut response = Response::new(Body::from_stream(futures::stream::iter(chunks)));
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
        response.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(full));
        return response;
    }
    if !partial {
        Stats::add(&state.stats.rows_served, rows.len() as u64);
    }
    ([(header::CONTENT_TYPE, "application/json; charset=utf-8")], out).into_response()
}

/// `start/end` in ISO 8601, read as the half-open interval `[start, end)`.
fn parse_timespan(span: &str) -> Result<(i64, i64), String> {
    let (start, end) = span.split_once('/').ok_or_else(|| format!("timespan '{span}' is not 'start/end' (the emulator supports only that form)"))?;
    let parse = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s.trim())
            .map(|t| t.timestamp_micros())
            .map_err(|e| format!("timespan '{span}': '{s}' is not an ISO 8601 time: {e}"))
    };
    let (start, end) = (parse(start)?, parse(end)?);
    if end < start {
        return Err(format!("timespan '{span}' ends before it starts"));
    }
    Ok((start, end))
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let correlation = format!("{:08x}-0000-4000-8000-{:012x}", fastrand::u32(..), fastrand::u64(..) >> 16);
    (status, Json(json!({"error": {"code": code, "message": message, "correlationId": correlation}}))).into_response()
}
