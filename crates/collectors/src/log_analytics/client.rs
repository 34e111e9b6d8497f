//! One query against the Log Analytics API, with the service's retry rules: 429 and 5xx,
//! timeouts, cut connections and unreadable bodies are retried (after `Retry-After` when
//! sent, else capped exponential back-off with jitter); other errors are final.

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use reqwest::StatusCode;
use serde_json::json;

use super::auth::SCOPE;
use super::CollectError;

/// Retry settings.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts before giving up.
    pub max_attempts: u32,
    /// First back-off.
    pub initial_backoff: Duration,
    /// Back-off ceiling.
    pub max_backoff: Duration,
}

impl RetryPolicy {
    /// Back-off before attempt `attempt + 1` (attempt counts from 1): doubling from the
    /// initial value up to the ceiling, then a random point in its upper half so that
    /// many clients throttled together do not come back together.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.initial_backoff.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let capped = exp.min(self.max_backoff);
        capped.mul_f64(0.5 + fastrand::f64() * 0.5)
    }
}

/// The longest `Retry-After` honoured; a longer one is treated as this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

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

/// Why one attempt failed.
enum Failure {
    /// Worth another attempt; `unreachable` names the endpoint when no answer came at all.
    Retry { reason: String, after: Option<Duration>, unreachable: Option<String> },
    Fatal(CollectError),
}

impl Failure {
    fn retry(reason: String, after: Option<Duration>) -> Self {
        Failure::Retry { reason, after, unreachable: None }
    }
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
    pub fn new(
        http: reqwest::Client,
        endpoint: &str,
        workspace: &str,
        authority: &str,
        credential: Arc<dyn TokenCredential>,
        retry: RetryPolicy,
    ) -> Self {
        let url = format!("{}/v1/workspaces/{workspace}/query", endpoint.trim_end_matches('/'));
        Self { http, url, authority: authority.to_string(), credential, retry, unreachable: Default::default() }
    }

    /// Runs `query` over `timespan` and hands the body to `read`; a body `read` cannot
    /// make sense of is retried like a failed request.
    pub async fn fetch<T>(
        &self,
        query: &str,
        timespan: &str,
        read: impl Fn(&[u8]) -> Result<T, String>,
    ) -> Result<Fetched<T>, CollectError> {
        if let Some((endpoint, attempts, last)) = self.unreachable.get() {
            return Err(CollectError::Unreachable { endpoint: endpoint.clone(), attempts: *attempts, last: last.clone() });
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let failure = match self.attempt(query, timespan).await {
                Ok(body) => match read(&body) {
                    Ok(value) => return Ok(Fetched { value, retries: attempt - 1 }),
                    Err(reason) => Failure::retry(reason, None),
                },
                Err(f) => f,
            };
            match failure {
                Failure::Fatal(e) => return Err(e),
                Failure::Retry { reason, after, unreachable } => {
                    if attempt >= self.retry.max_attempts {
                        return Err(match unreachable {
                            Some(endpoint) => {
                                let _ = self.unreachable.set((endpoint.clone(), attempt, reason.clone()));
                                CollectError::Unreachable { endpoint, attempts: attempt, last: reason }
                            }
                            None => CollectError::Exhausted { attempts: attempt, last: reason },
                        });
                    }
                    let wait = after.unwrap_or_else(|| self.retry.backoff(attempt));
                    // At the default log level: a long silence looks like a hang.
                    tracing::warn!(
                        "{reason}; retrying in {:.1} s (attempt {attempt} of {}, window {timespan})",
                        wait.as_secs_f64(),
                        self.retry.max_attempts
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    async fn attempt(&self, query: &str, timespan: &str) -> Result<bytes::Bytes, Failure> {
        let token = self.credential.get_token(&[SCOPE], None).await.map_err(|e| token_failure(&e, &self.authority))?;
        let response = self
            .http
            .post(&self.url)
            .bearer_auth(token.token.secret())
            .header("Prefer", "wait=600")
            .json(&json!({"query": query, "timespan": timespan}))
            .send()
            .await
            .map_err(|e| Failure::Retry {
                reason: format!("query API: {}", describe(&e)),
                after: None,
                unreachable: (e.is_connect() || e.is_timeout()).then(|| self.url.clone()),
            })?;
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
fn token_failure(error: &azure_core::Error, authority: &str) -> Failure {
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

/// An error and its causes, each said once.
fn error_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let message = s.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = s.source();
    }
    text
}

/// `Retry-After` in seconds or as an HTTP date.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
            (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().unwrap_or_default()
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// The `error.code: error.message` of an API error body, or the body itself.
fn api_message(body: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    match parsed.as_ref().and_then(|v| v.get("error")) {
        Some(e) => format!(
            "{}: {}",
            e.get("code").and_then(|c| c.as_str()).unwrap_or("error"),
            e.get("message").and_then(|c| c.as_str()).unwrap_or_default()
        ),
        None => body.chars().take(300).collect(),
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "no reply before the timeout".into()
    } else {
        // reqwest's Display omits the cause ("error sending request"); the chain says why.
        error_text(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_ceiling_with_jitter_in_the_upper_half() {
        let policy = RetryPolicy { max_attempts: 9, initial_backoff: Duration::from_millis(100), max_backoff: Duration::from_secs(1) };
        for _ in 0..100 {
            let first = policy.backoff(1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100), "{first:?}");
            let third = policy.backoff(3);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400), "{third:?}");
            let late = policy.backoff(30);
            assert!(late >= Duration::from_millis(500) && late <= Duration::from_secs(1), "{late:?}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates_and_is_capped() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(reqwest::header::RETRY_AFTER, "86400".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(MAX_RETRY_AFTER));
        headers.insert(reqwest::header::RETRY_AFTER, "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        assert_eq!(api_message(r#"{"error":{"code":"BadArgumentError","message":"bad"}}"#), "BadArgumentError: bad");
    }
}
