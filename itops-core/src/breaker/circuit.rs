//! The circuit-breaker trait and its default implementation.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::clock::{elapsed_between, Clock, SystemClock};
use crate::error::{Error, Result};
use crate::word_enum::word_enum;

word_enum! {
    /// The three states of a circuit breaker.
    pub enum BreakerState as "breaker state" {
        /// Calls flow; failures are counted.
        Closed = "closed",
        /// Calls are refused until the open interval has passed.
        Open = "open",
        /// One probe call is let through to test the dependency.
        HalfOpen = "half_open",
    }
}

/// How a guarded call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallOutcome {
    /// The dependency answered.
    Success,
    /// The dependency failed (error, timeout, or the call was abandoned).
    Failure,
}

/// Permission to make one call, from [`CircuitBreaker::try_acquire`]; hand it back with the
/// outcome to [`CircuitBreaker::record`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerPermit {
    /// The breaker's generation when the permit was issued; outcomes of permits from an
    /// earlier generation (issued before the last state change) are ignored.
    pub generation: u64,
    /// Whether this permit is the half-open probe.
    pub probe: bool,
}

/// A circuit breaker: refuses calls to a failing dependency for a while, then probes it.
pub trait CircuitBreaker: Send + Sync + std::fmt::Debug {
    /// The breaker's name (the dependency it guards).
    fn name(&self) -> &str;

    /// The current state (an open breaker whose interval has passed still reads `Open`
    /// until the next `try_acquire` turns it half-open).
    fn state(&self) -> BreakerState;

    /// Asks to make a call: a permit, or [`Error::CircuitOpen`].
    fn try_acquire(&self) -> Result<BreakerPermit>;

    /// Reports how a permitted call ended.
    fn record(&self, permit: BreakerPermit, outcome: CallOutcome);
}

/// Settings of [`ConsecutiveFailureBreaker`].
#[derive(Clone, Debug)]
pub struct BreakerConfig {
    /// Consecutive failures that open the circuit (at least 1).
    pub failure_threshold: u32,
    /// How long the circuit stays open before a probe is allowed.
    pub open_interval: Duration,
    /// Consecutive successful probes that close it again (at least 1).
    pub success_threshold: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            open_interval: Duration::from_secs(30),
            success_threshold: 1,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Inner {
    Closed {
        failures: u32,
    },
    Open {
        since: DateTime<Utc>,
    },
    HalfOpen {
        probe_in_flight: bool,
        successes: u32,
    },
}

#[derive(Debug)]
struct Shared {
    inner: Inner,
    generation: u64,
}

/// The default breaker: opens after `failure_threshold` consecutive failures.
#[derive(Debug, Clone)]
pub struct ConsecutiveFailureBreaker {
    name: String,
    config: BreakerConfig,
    clock: Arc<dyn Clock>,
    shared: Arc<Mutex<Shared>>,
}

impl ConsecutiveFailureBreaker {
    /// A closed breaker on the system clock.
    pub fn new(name: impl Into<String>, config: BreakerConfig) -> Result<Self> {
        Self::with_clock(name, config, Arc::new(SystemClock))
    }

    /// A closed breaker on the given clock.
    pub fn with_clock(
        name: impl Into<String>,
        config: BreakerConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        if config.failure_threshold == 0 {
            return Err(Error::invalid("failure_threshold", "must be at least 1"));
        }
        if config.success_threshold == 0 {
            return Err(Error::invalid("success_threshold", "must be at least 1"));
        }
        Ok(Self {
            name: name.into(),
            config,
            clock,
            shared: Arc::new(Mutex::new(Shared {
                inner: Inner::Closed { failures: 0 },
                generation: 0,
            })),
        })
    }

    /// The settings.
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        // The state is always valid between statements, so a poisoned lock is still usable.
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn transition(shared: &mut Shared, to: Inner) {
    shared.inner = to;
    shared.generation = shared.generation.wrapping_add(1);
}

impl CircuitBreaker for ConsecutiveFailureBreaker {
    fn name(&self) -> &str {
        &self.name
    }

    fn state(&self) -> BreakerState {
        match self.lock().inner {
            Inner::Closed { .. } => BreakerState::Closed,
            Inner::Open { .. } => BreakerState::Open,
            Inner::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    fn try_acquire(&self) -> Result<BreakerPermit> {
        let mut shared = self.lock();
        match shared.inner {
            Inner::Closed { .. } => Ok(BreakerPermit {
                generation: shared.generation,
                probe: false,
            }),
            Inner::Open { since } => {
                let open_for = elapsed_between(since, self.clock.now());
                if open_for >= self.config.open_interval {
                    transition(
                        &mut shared,
                        Inner::HalfOpen {
                            probe_in_flight: true,
                            successes: 0,
                        },
                    );
                    Ok(BreakerPermit {
                        generation: shared.generation,
                        probe: true,
                    })
                } else {
                    Err(Error::CircuitOpen {
                        name: self.name.clone(),
                        retry_after: self.config.open_interval - open_for,
                    })
                }
            }
            Inner::HalfOpen {
                probe_in_flight: true,
                ..
            } => Err(Error::CircuitOpen {
                name: self.name.clone(),
                retry_after: Duration::ZERO,
            }),
            Inner::HalfOpen {
                probe_in_flight: false,
                successes,
            } => {
                shared.inner = Inner::HalfOpen {
                    probe_in_flight: true,
                    successes,
                };
                Ok(BreakerPermit {
                    generation: shared.generation,
                    probe: true,
                })
            }
        }
    }

    fn record(&self, permit: BreakerPermit, outcome: CallOutcome) {
        let mut shared = self.lock();
        if permit.generation != shared.generation {
            // The call began before the last state change; it says nothing about now.
            return;
        }
        match (shared.inner, outcome) {
            (Inner::Closed { .. }, CallOutcome::Success) => {
                shared.inner = Inner::Closed { failures: 0 };
            }
            (Inner::Closed { failures }, CallOutcome::Failure) => {
                let failures = failures.saturating_add(1);
                if failures >= self.config.failure_threshold {
                    tracing::warn!(breaker = %self.name, failures, "circuit opened");
                    transition(
                        &mut shared,
                        Inner::Open {
                            since: self.clock.now(),
                        },
                    );
                } else {
                    shared.inner = Inner::Closed { failures };
                }
            }
            (Inner::HalfOpen { successes, .. }, CallOutcome::Success) if permit.probe => {
                let successes = successes.saturating_add(1);
                if successes >= self.config.success_threshold {
                    tracing::info!(breaker = %self.name, "circuit closed");
                    transition(&mut shared, Inner::Closed { failures: 0 });
                } else {
                    shared.inner = Inner::HalfOpen {
                        probe_in_flight: false,
                        successes,
                    };
                }
            }
            (Inner::HalfOpen { .. }, CallOutcome::Failure) if permit.probe => {
                tracing::warn!(breaker = %self.name, "probe failed; circuit re-opened");
                transition(
                    &mut shared,
                    Inner::Open {
                        since: self.clock.now(),
                    },
                );
            }
            // Non-probe permits cannot exist in half-open or open states of their own generation.
            _ => {}
        }
    }
}
