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
}

/// Why one attempt failed.
enum Failure {
    Retry { reason: String, after: Option<Duration> },
    Fatal(CollectError),
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
        Self { http, url, authority: authority.to_string(), credential, retry }
    }

    /// Runs `query` over `timespan` and hands the body to `read`; a body `read` cannot
    /// make sense of is retried like a failed request.
    pub async fn fetch<T>(
        &self,
        query: &str,
        timespan: &str,
        read: impl Fn(&[u8]) -> Result<T, String>,
    ) -> Result<Fetched<T>, CollectError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let failure = match self.attempt(query, timespan).await {
                Ok(body) => match read(&body) {
                    Ok(value) => return Ok(Fetched { value, retries: attempt - 1 }),
                    Err(reason) => Failure::Retry { reason, after: None },
                },
                Err(f) => f,
            };
            match failure {
                Failure::Fatal(e) => return Err(e),
                Failure::Retry { reason, after } => {
                    if attempt >= self.retry.max_attempts {
                        return Err(CollectError::Exhausted { attempts: attempt, last: reason });
                    }
                    let wait = after.unwrap_or_else(|| self.retry.backoff(attempt));
                    tracing::warn!(attempt, wait_ms = wait.as_millis() as u64, %timespan, "query failed, retrying: {reason}");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    async fn attempt(&self, query: &str, timespan: &str) -> Result<bytes::Bytes, Failure> {
        let token = self.credential.get_token(&[SCOPE], None).await.map_err(|e| {
            Failure::Fatal(CollectError::Auth(format!(
                "getting a token for {SCOPE} from {} failed: {e}\nCheck log_analytics.tenant_id, client_id and the credential of the configured auth mode",
                self.authority
            )))
        })?;
        let response = self
            .http
            .post(&self.url)
            .bearer_auth(token.token.secret())
            .header("Prefer", "wait=600")
            .json(&json!({"query": query, "timespan": timespan}))
            .send()
            .await
            .map_err(|e| Failure::Retry { reason: describe(&e), after: None })?;
        let status = response.status();
        if status.is_success() {
            return response.bytes().await.map_err(|e| Failure::Retry { reason: format!("reading the reply: {}", describe(&e)), after: None });
        }
        let after = retry_after(response.headers());
        let body = response.text().await.unwrap_or_default();
        let message = api_message(&body);
        Err(match status {
            StatusCode::TOO_MANY_REQUESTS => Failure::Retry { reason: format!("throttled (429): {message}"), after },
            s if s.is_server_error() || s == StatusCode::REQUEST_TIMEOUT => {
                Failure::Retry { reason: format!("server error ({s}): {message}"), after }
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Failure::Fatal(CollectError::Auth(format!(
                "the query API refused the token ({status}): {message}. Grant the identity the Log Analytics Reader role on the workspace"
            ))),
            s => Failure::Fatal(CollectError::Api { status: s.as_u16(), message }),
        })
    }
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
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        text
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
