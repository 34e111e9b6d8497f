//! The retry loop every HTTP source shares: throttling, server errors, timeouts and cut
//! connections are tried again (after `Retry-After` when the service sends it, else capped
//! exponential back-off with jitter), each retry is said as it happens at the default log
//! level, and what nothing answered is told apart from what answered with a refusal.

use std::future::Future;
use std::time::Duration;

/// Attempts and back-off.
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
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// Why one attempt failed.
#[derive(Debug)]
pub enum Failure<E> {
    /// Worth another attempt.
    Retry {
        /// What happened, for the log and the final error.
        reason: String,
        /// The wait the service asked for (`Retry-After`).
        after: Option<Duration>,
        /// The URL, when nothing answered there at all (no connection, no reply in time).
        unreachable: Option<String>,
    },
    /// Final: retrying cannot help.
    Fatal(E),
}

impl<E> Failure<E> {
    /// A failure worth another attempt, from something that did answer.
    pub fn retry(reason: impl Into<String>, after: Option<Duration>) -> Self {
        Failure::Retry { reason: reason.into(), after, unreachable: None }
    }

    /// A request that got no reply: unreachable when no connection was made or no reply
    /// came in time, else (a cut connection, a broken body) simply worth another attempt.
    pub fn transport(what: &str, url: &str, error: &reqwest::Error) -> Self {
        let unreachable = (error.is_connect() || error.is_timeout()).then(|| url.to_string());
        Failure::Retry { reason: format!("{what}: {}", describe(error)), after: None, unreachable }
    }
}

/// How a call ended when no attempt succeeded.
#[derive(Debug)]
pub enum GaveUp<E> {
    /// An attempt failed for good.
    Fatal(E),
    /// Every attempt failed.
    Exhausted {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
        /// The URL, when the last attempt reached nothing at all.
        unreachable: Option<String>,
    },
}

/// Runs `attempt` until it succeeds, fails for good, or the policy's attempts are spent;
/// returns the value and the number of retries. `what` names the call in the log.
pub async fn retry<T, E, F, Fut>(policy: &RetryPolicy, what: &str, mut attempt: F) -> Result<(T, u32), GaveUp<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure<E>>>,
{
    let mut made = 0;
    loop {
        made += 1;
        match attempt().await {
            Ok(value) => return Ok((value, made - 1)),
            Err(Failure::Fatal(e)) => return Err(GaveUp::Fatal(e)),
            Err(Failure::Retry { reason, after, unreachable }) => {
                if made >= policy.max_attempts {
                    return Err(GaveUp::Exhausted { attempts: made, last: reason, unreachable });
                }
                let wait = after.map_or_else(|| policy.backoff(made), |a| a.min(MAX_RETRY_AFTER));
                // At the default log level: a long silence looks like a hang.
                tracing::warn!("{what}: {reason}; retrying in {:.1} s (attempt {made} of {})", wait.as_secs_f64(), policy.max_attempts);
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// `Retry-After` in seconds or as an HTTP date, at most [`MAX_RETRY_AFTER`].
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
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

/// A transport error as people need it: reqwest's own text omits the cause ("error
/// sending request"), the chain says why.
pub fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() { "no reply before the timeout".into() } else { error_text(error) }
}

/// An error and its causes, each said once.
pub fn error_text(error: &(dyn std::error::Error + 'static)) -> String {
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

    #[tokio::test]
    async fn retries_until_success_stops_at_a_fatal_failure_and_gives_up_after_the_attempts() {
        let policy = RetryPolicy { max_attempts: 3, initial_backoff: Duration::from_millis(1), max_backoff: Duration::from_millis(2) };
        let mut calls = 0;
        let ok = retry(&policy, "test", || {
            calls += 1;
            let n = calls;
            async move { if n < 3 { Err(Failure::<()>::retry(format!("busy {n}"), None)) } else { Ok(n) } }
        })
        .await;
        assert!(matches!(ok, Ok((3, 2))), "{ok:?}");

        let fatal = retry(&policy, "test", || async { Err::<(), _>(Failure::Fatal("refused")) }).await;
        assert!(matches!(fatal, Err(GaveUp::Fatal("refused"))));

        let spent = retry(&policy, "test", || async {
            Err::<(), _>(Failure::<()>::Retry { reason: "nothing".into(), after: None, unreachable: Some("https://x".into()) })
        })
        .await;
        match spent {
            Err(GaveUp::Exhausted { attempts: 3, last, unreachable: Some(url) }) => assert_eq!((last.as_str(), url.as_str()), ("nothing", "https://x")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date_is_capped() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(reqwest::header::RETRY_AFTER, "86400".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(MAX_RETRY_AFTER));
        headers.insert(reqwest::header::RETRY_AFTER, "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::ZERO), "a date in the past: at once");
    }
}
