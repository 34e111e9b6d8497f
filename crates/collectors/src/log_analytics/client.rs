//! One query against the Log Analytics API, with the service's retry rules (the shared
//! [`crate::retry`] loop): 429 and 5xx, timeouts, cut connections, unreadable bodies and
//! unreachable or busy token endpoints are retried; refusals are final.

use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use reqwest::StatusCode;
use serde_json::json;

use super::CollectError;
use super::auth::SCOPE;
use crate::retry::{Failure, GaveUp, RetryPolicy, describe, error_text, retry, retry_after};

/// A query client for one workspace.
pub struct QueryClient {
    http: reqwest::Client,
    url: String,
    authority: String,
    credential: Arc<dyn TokenCredential>,
    retry: RetryPolicy,
    /// Set once an endpoint stayed unreachable through every attempt: later queries of the
    /// run fail at once with the same error instead of waiting out the retries again.
    unreachable: std::sync::OnceLock<(String, u32, String)>,
}

/// A reply body and how many retries it took.
pub struct Fetched<T> {
    /// What the caller made of the body.
    pub value: T,
    /// Attempts beyond the first.
    pub retries: u32,
}

impl QueryClient {
    /// A client for `{endpoint}/v1/workspaces/{workspace}/query`.
    pub fn new(http: reqwest::Client, endpoint: &str, workspace: &str, authority: &str, credential: Arc<dyn TokenCredential>, retry: RetryPolicy) -> Self {
        let url = format!("{}/v1/workspaces/{workspace}/query", endpoint.trim_end_matches('/'));
        Self { http, url, authority: authority.to_string(), credential, retry, unreachable: Default::default() }
    }

    /// Runs `query` over `timespan` and hands the body to `read`; a body `read` cannot
    /// make sense of is retried like a failed request.
    pub async fn fetch<T>(&self, query: &str, timespan: &str, read: impl Fn(&[u8]) -> Result<T, String>) -> Result<Fetched<T>, CollectError> {
        if let Some((endpoint, attempts, last)) = self.unreachable.get() {
            return Err(CollectError::Unreachable { endpoint: endpoint.clone(), attempts: *attempts, last: last.clone() });
        }
        let what = format!("Log Analytics query for {timespan}");
        let attempt = || async {
            let body = self.attempt(query, timespan).await?;
            read(&body).map_err(|reason| Failure::retry(reason, None))
        };
        match retry(&self.retry, &what, attempt).await {
            Ok((value, retries)) => Ok(Fetched { value, retries }),
            Err(GaveUp::Fatal(e)) => Err(e),
            Err(GaveUp::Exhausted { attempts, last, unreachable: Some(endpoint) }) => {
                let _ = self.unreachable.set((endpoint.clone(), attempts, last.clone()));
                Err(CollectError::Unreachable { endpoint, attempts, last })
            }
            Err(GaveUp::Exhausted { attempts, last, unreachable: None }) => Err(CollectError::Exhausted { attempts, last }),
        }
    }

    async fn attempt(&self, query: &str, timespan: &str) -> Result<bytes::Bytes, Failure<CollectError>> {
        let token = self.credential.get_token(&[SCOPE], None).await.map_err(|e| token_failure(&e, &self.authority))?;
        let response = self
            .http
            .post(&self.url)
            .bearer_auth(token.token.secret())
            .header("Prefer", "wait=600")
            .json(&json!({"query": query, "timespan": timespan}))
            .send()
            .await
            .map_err(|e| Failure::transport("query API", &self.url, &e))?;
        let status = response.status();
        if status.is_success() {
            return response.bytes().await.map_err(|e| Failure::retry(format!("reading the reply: {}", describe(&e)), None));
        }
        let after = retry_after(response.headers());
        let body = response.text().await.unwrap_or_default();
        let message = api_message(&body);
        Err(match status {
            StatusCode::TOO_MANY_REQUESTS => Failure::retry(format!("query API throttled (429): {message}"), after),
            s if s.is_server_error() || s == StatusCode::REQUEST_TIMEOUT => Failure::retry(format!("query API server error ({s}): {message}"), after),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Failure::Fatal(CollectError::Auth(format!(
                "the query API refused the token ({status}): {message}. Grant the identity the Log Analytics Reader role on the workspace"
            ))),
            s => Failure::Fatal(CollectError::Api { status: s.as_u16(), message }),
        })
    }
}

/// Why no token came: the token endpoint unreachable or busy (retried, and said so), or the
/// credential refused (final, and only then blamed on the credential).
fn token_failure(error: &azure_core::Error, authority: &str) -> Failure<CollectError> {
    use azure_core::error::ErrorKind;
    // azure_identity wraps the transport's error in a Credential error: judge the innermost.
    let mut kind = error.kind();
    let mut transport = None;
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(s) = source {
        if let Some(inner) = s.downcast_ref::<azure_core::Error>() {
            kind = inner.kind();
        }
        transport = transport.or(s.downcast_ref::<reqwest::Error>());
        source = s.source();
    }
    // One line: the SDK's text spans several.
    let detail = error_text(error).replace('\n', " ");
    match kind {
        ErrorKind::Connection | ErrorKind::Io => Failure::Retry {
            reason: format!("cannot reach the Entra ID token endpoint {authority}: {}", transport.map_or(detail, describe)),
            after: None,
            unreachable: Some(authority.to_string()),
        },
        ErrorKind::HttpResponse { status, .. } if u16::from(*status) == 429 || u16::from(*status) >= 500 => {
            Failure::retry(format!("the Entra ID token endpoint {authority} answered {}: {detail}", u16::from(*status)), None)
        }
        ErrorKind::HttpResponse { status, .. } => Failure::Fatal(CollectError::Auth(format!(
            "Entra ID ({authority}) refused the credential for {SCOPE} ({}): {detail}\nCheck log_analytics.tenant_id, client_id and the credential of the configured auth mode",
            u16::from(*status)
        ))),
        _ => Failure::Fatal(CollectError::Auth(format!("getting a token for {SCOPE} from {authority} failed: {detail}"))),
    }
}

/// The `error.code: error.message` of an API error body, or the body itself.
fn api_message(body: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    match parsed.as_ref().and_then(|v| v.get("error")) {
        Some(e) => format!("{}: {}", e.get("code").and_then(|c| c.as_str()).unwrap_or("error"), e.get("message").and_then(|c| c.as_str()).unwrap_or_default()),
        None => body.chars().take(300).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_are_read_from_their_body() {
        assert_eq!(api_message(r#"{"error":{"code":"BadArgumentError","message":"bad"}}"#), "BadArgumentError: bad");
        assert_eq!(api_message("not json"), "not json");
    }
}
