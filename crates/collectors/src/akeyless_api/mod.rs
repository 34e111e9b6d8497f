//! Configuration snapshots from the Akeyless REST API: items, roles and auth methods, one
//! snapshot per run into `akeyless_items`, `akeyless_roles` and `akeyless_auth_methods`,
//! so that configuration drift is evidence too.
//!
//! `POST /auth` exchanges the configured identity for a token, which later calls carry in
//! their JSON body (not a header), as the Akeyless API does. List calls are paged with
//! `pagination-token` / `next_page`. The access key (or service-account token) is read from
//! an environment variable or a file, sent only to `/auth`, and never logged, kept in an
//! error message or written to the ledger; secret values are never requested.
//!
//! What is typed from each object follows Akeyless's published SDK models field by field
//! ([`model`]); the object is kept as `raw` without the credential fields those models
//! carry.

mod config;
pub mod model;
mod source;

use std::path::PathBuf;
use std::time::Duration;

use keytrail_ledger::{Batch, Column, FieldType, Ledger, Record, Records, StreamSchema, Value};
use serde_json::{Value as Json, json};

pub use config::{AccessType, AkeylessApiConfig};

use crate::akeyless::json_text;
use crate::retry::{Failure, GaveUp, RetryPolicy, retry};

/// Why a snapshot failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The configuration is incomplete.
    #[error("configuration: {0}")]
    Config(String),
    /// `/auth` refused the identity.
    #[error("Akeyless authentication failed for access ID {access_id}: {message}")]
    Auth {
        /// The access ID (not a secret).
        access_id: String,
        /// What the API said.
        message: String,
    },
    /// A call failed for good.
    #[error("Akeyless {call} failed: {message}")]
    Call {
        /// The endpoint.
        call: String,
        /// Why.
        message: String,
    },
    /// Writing failed.
    #[error(transparent)]
    Ledger(#[from] keytrail_ledger::LedgerError),
}

/// What one snapshot wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotReport {
    /// Items captured.
    pub items: u64,
    /// Roles captured.
    pub roles: u64,
    /// Auth methods captured.
    pub auth_methods: u64,
    /// Requests retried.
    pub retries: u64,
}

struct Client {
    http: reqwest::Client,
    endpoint: String,
    retry: RetryPolicy,
    retries: u64,
}

impl Client {
    /// POSTs `body` to `/call` with the shared retry rules: throttling (after its
    /// `Retry-After`), server errors and transport failures are tried again.
    async fn call(&mut self, call: &str, body: &Json) -> Result<Json, ApiError> {
        let url = format!("{}/{call}", self.endpoint.trim_end_matches('/'));
        let attempt = || async {
            let response = self.http.post(&url).json(body).send().await.map_err(|e| Failure::transport("request", &url, &e))?;
            let status = response.status();
            let after = crate::retry::retry_after(response.headers());
            let text = response.text().await.unwrap_or_default();
            if status.is_success() {
                serde_json::from_str(&text).map_err(|e| Failure::retry(format!("the reply is not JSON: {e}"), None))
            } else if status.as_u16() == 429 || status.is_server_error() {
                Err(Failure::retry(format!("{status}: {}", error_message(&text)), after))
            } else if call == "auth" && (status.as_u16() == 401 || status.as_u16() == 403) {
                Err(Failure::Fatal(ApiError::Auth { access_id: String::new(), message: format!("{status}: {}", error_message(&text)) }))
            } else {
                Err(Failure::Fatal(ApiError::Call { call: call.into(), message: format!("{status}: {}", error_message(&text)) }))
            }
        };
        match retry(&self.retry, &format!("Akeyless {call}"), attempt).await {
            Ok((json, retries)) => {
                self.retries += u64::from(retries);
                Ok(json)
            }
            Err(GaveUp::Fatal(e)) => Err(e),
            Err(GaveUp::Exhausted { attempts, last, unreachable }) => {
                self.retries += u64::from(attempts - 1);
                let message = match unreachable {
                    Some(url) => format!("{url} could not be reached ({attempts} attempts): {last}. Check akeyless_api.endpoint, DNS, proxies and firewalls"),
                    None => format!("gave up after {attempts} attempts: {last}"),
                };
                Err(ApiError::Call { call: call.into(), message })
            }
        }
    }
}

/// The error text of an Akeyless error body (`{"error": "..."}` or `{"message": "..."}`).
fn error_message(body: &str) -> String {
    let json: Option<Json> = serde_json::from_str(body).ok();
    json.as_ref().and_then(|j| j.get("error").or_else(|| j.get("message"))).map(json_text).unwrap_or_else(|| body.chars().take(200).collect())
}

fn secret(name: &str, what: &str, env: Option<&str>, file: Option<&std::path::Path>) -> Result<String, ApiError> {
    crate::credential::read("akeyless_api", name, what, env, file).map_err(ApiError::Config)
}

/// The `/auth` body for the configured access type. Holds the credential: never log it.
fn auth_body(config: &AkeylessApiConfig) -> Result<Json, ApiError> {
    config.validate().map_err(ApiError::Config)?;
    let mut body = json!({"access-id": config.access_id, "access-type": config.access_type});
    match config.access_type {
        AccessType::AccessKey => {
            body["access-key"] = json!(secret("access_key", "access key", config.access_key_env.as_deref(), config.access_key_file.as_deref())?)
        }
        AccessType::K8s => {
            let file = config.k8s_service_account_token_file.clone().unwrap_or_else(|| PathBuf::from("/var/run/secrets/kubernetes.io/serviceaccount/token"));
            let token = secret("k8s_service_account_token", "service-account token", None, Some(&file))?;
            use base64::Engine;
            body["k8s-service-account-token"] = json!(base64::engine::general_purpose::STANDARD.encode(token));
            body["k8s-auth-config-name"] = json!(config.k8s_auth_config_name);
        }
        AccessType::AzureAd => body["cloud-id"] = json!(secret("azure_ad_cloud_id", "cloud ID", None, config.azure_ad_cloud_id_file.as_deref())?),
    }
    Ok(body)
}

/// Takes one snapshot of items, roles and auth methods into the ledger.
pub async fn snapshot(ledger: &Ledger, config: &AkeylessApiConfig, http: reqwest::Client, run_id: &str) -> Result<SnapshotReport, ApiError> {
    let mut client = Client {
        http,
        endpoint: config.endpoint.to_string(),
        retry: RetryPolicy {
            max_attempts: config.max_attempts.max(1),
            initial_backoff: Duration::from_millis(config.initial_backoff_ms),
            max_backoff: Duration::from_secs(30),
        },
        retries: 0,
    };
    let auth = client.call("auth", &auth_body(config)?).await.map_err(|e| match e {
        ApiError::Auth { message, .. } => ApiError::Auth { access_id: config.access_id.clone(), message },
        other => other,
    })?;
    let token = auth
        .get("token")
        .and_then(Json::as_str)
        .ok_or_else(|| ApiError::Auth { access_id: config.access_id.clone(), message: "the /auth reply has no token".into() })?;
    let snapshot_time = chrono::Utc::now().timestamp_micros();
    let mut report = SnapshotReport::default();
    for kind in &KINDS {
        let objects = list_all(&mut client, kind, token).await?;
        let n = objects.len() as u64;
        let schema = StreamSchema::new(kind.stream, kind.columns())?;
        let records: Records = objects
            .iter()
            .map(|o| Record {
                event_time: snapshot_time,
                raw: model::without_credentials(o).to_string().into_bytes(),
                values: kind.values(o, snapshot_time, run_id),
            })
            .collect();
        let mut batch = Batch::new(records);
        batch.cursor = Some(json!({"akeyless_api": {"snapshot_time": snapshot_time, "run_id": run_id, "count": n}}));
        ledger.append(&schema, batch).await?;
        match kind.stream {
            "akeyless_items" => report.items = n,
            "akeyless_roles" => report.roles = n,
            _ => report.auth_methods = n,
        }
    }
    report.retries = client.retries;
    Ok(report)
}

/// Puts a snapshot that could not be taken on record in `collection_gaps`: from the last
/// snapshot to now, the time for which configuration drift would go unseen. Configuration
/// errors and ledger failures are not gaps (the caller reports them as errors).
pub async fn record_failure(ledger: &Ledger, config: &AkeylessApiConfig, error: &ApiError, run_id: &str) -> Result<(), keytrail_ledger::LedgerError> {
    let last = ledger.cursor(KINDS[0].stream).await?.and_then(|c| c.pointer("/akeyless_api/snapshot_time").and_then(Json::as_i64));
    let at = crate::gaps::GapSource { source: "akeyless_api", workspace: &config.endpoint, table: "akeyless_api", stream: KINDS[0].stream };
    crate::gaps::append_gap_since(ledger, &at, last, &error.to_string(), run_id, "akeyless_api snapshot").await
}

/// One listed kind of object.
struct Kind {
    call: &'static str,
    field: &'static str,
    stream: &'static str,
    columns: &'static [model::ColumnSpec],
}

impl Kind {
    /// `snapshot_time` and `run_id`, then the model's columns.
    fn columns(&self) -> Vec<Column> {
        let mut columns = vec![Column::new("snapshot_time", FieldType::Time), Column::new("run_id", FieldType::Str)];
        columns.extend(model::columns(self.columns));
        columns
    }

    fn values(&self, object: &Json, snapshot_time: i64, run_id: &str) -> Vec<Value> {
        let mut values = vec![Value::Time(snapshot_time), Value::Str(run_id.into())];
        values.extend(self.columns.iter().map(|(_, _, read)| read.value(object)));
        values
    }
}

/// The snapshot streams' schemas, so queries over them plan before any snapshot is taken.
pub fn stream_schemas() -> Result<Vec<StreamSchema>, keytrail_ledger::LedgerError> {
    KINDS.iter().map(|kind| StreamSchema::new(kind.stream, kind.columns())).collect()
}

const KINDS: [Kind; 3] = [
    Kind { call: "list-items", field: "items", stream: "akeyless_items", columns: model::ITEM_COLUMNS },
    Kind { call: "list-roles", field: "roles", stream: "akeyless_roles", columns: model::ROLE_COLUMNS },
    Kind { call: "list-auth-methods", field: "auth_methods", stream: "akeyless_auth_methods", columns: model::AUTH_METHOD_COLUMNS },
];

async fn list_all(client: &mut Client, kind: &Kind, token: &str) -> Result<Vec<Json>, ApiError> {
    let mut all = Vec::new();
    let mut page: Option<String> = None;
    loop {
        let mut body = json!({"token": token});
        if let Some(p) = &page {
            body["pagination-token"] = json!(p);
        }
        let reply = client.call(kind.call, &body).await?;
        let objects = reply.get(kind.field).and_then(Json::as_array).cloned().unwrap_or_default();
        all.extend(objects);
        page = reply.get("next_page").and_then(Json::as_str).filter(|p| !p.is_empty()).map(str::to_string);
        if page.is_none() {
            return Ok(all);
        }
    }
}
