//! Retries with exponential backoff and full jitter, for retryable errors only.

use std::future::Future;
use std::time::Duration;

use crate::error::{Error, Result};

/// How often and how patiently to retry a failed call.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retry).
    pub max_attempts: u32,
    /// Backoff cap before the first retry.
    pub initial_backoff: Duration,
    /// Largest backoff cap.
    pub max_backoff: Duration,
    /// Growth of the cap per attempt.
    pub multiplier: f64,
    /// Full jitter: sleep a random time in `[0, cap]` instead of `cap`.
    pub jitter: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            multiplier: 2.0,
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        if self.max_attempts == 0 {
            return Err(Error::invalid("max_attempts", "must be at least 1"));
        }
        if !(self.multiplier.is_finite() && self.multiplier >= 1.0) {
            return Err(Error::invalid("multiplier", "must be a finite number >= 1"));
        }
        Ok(())
    }

    /// The backoff cap after failed attempt number `attempt` (1-based).
    pub fn backoff_cap(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(64) as i32;
        let factor = self.multiplier.max(1.0).powi(exponent);
        let secs = self.initial_backoff.as_secs_f64() * factor;
        let max = self.max_backoff.as_secs_f64();
        Duration::from_secs_f64(if secs.is_finite() { secs.min(max) } else { max })
    }

    /// The sleep after failed attempt `attempt`: the cap, or a random fraction of it with jitter.
    pub fn backoff(&self, attempt: u32, rng: &mut fastrand::Rng) -> Duration {
        let cap = self.backoff_cap(attempt);
        if self.jitter {
            cap.mul_f64(rng.f64())
        } else {
            cap
        }
    }

    /// Runs `call` (given the 1-based attempt number) until it succeeds, fails with an error
    /// that is not [retryable](Error::is_retryable), or attempts run out; returns the last result.
    pub async fn run<T, F, Fut>(&self, mut call: F) -> Result<T>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut rng = fastrand::Rng::new();
        let max_attempts = self.max_attempts.max(1);
        let mut attempt = 1;
        loop {
            match call(attempt).await {
                Ok(value) => return Ok(value),
                Err(err) if err.is_retryable() && attempt < max_attempts => {
                    let sleep = self.backoff(attempt, &mut rng);
                    tracing::debug!(attempt, ?sleep, error = %err, "retrying");
                    tokio::time::sleep(sleep).await;
                    attempt += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn transient() -> Error {
        Error::Model {
            model: "m".into(),
            message: "throttled".into(),
            retryable: true,
        }
    }

    #[test]
    fn backoff_grows_exponentially_and_is_capped() {
        let policy = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            multiplier: 2.0,
            jitter: false,
        };
        let caps: Vec<u128> = (1..=6).map(|a| policy.backoff_cap(a).as_millis()).collect();
        assert_eq!(caps, vec![100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn jitter_stays_within_the_cap() {
        let policy = RetryPolicy::default();
        let mut rng = fastrand::Rng::with_seed(7);
        for attempt in 1..20 {
            let d = policy.backoff(attempt, &mut rng);
            assert!(d <= policy.backoff_cap(attempt));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_retryable_errors_until_success() {
        let calls = AtomicU32::new(0);
        let out = RetryPolicy::default()
            .run(|_| async {
                if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                    Err(transient())
                } else {
                    Ok(42)
                }
            })
            .await;
        assert_eq!(out.unwrap(), 42);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_max_attempts() {
        let calls = AtomicU32::new(0);
        let out: Result<()> = RetryPolicy::default()
            .run(|_| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(transient())
            })
            .await;
        assert!(out.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn never_retries_non_retryable_errors() {
        let calls = AtomicU32::new(0);
        let out: Result<()> = RetryPolicy::default()
            .run(|_| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(Error::invalid("x", "bad"))
            })
            .await;
        assert!(matches!(out, Err(Error::Invalid { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn invalid_settings_are_refused() {
        let p = RetryPolicy {
            max_attempts: 0,
            ..RetryPolicy::default()
        };
        assert!(p.validate().is_err());
        let p = RetryPolicy {
            multiplier: f64::NAN,
            ..RetryPolicy::default()
        };
        assert!(p.validate().is_err());
    }
}
