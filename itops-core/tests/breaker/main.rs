//! The circuit breaker against a reference model, and the resilience wrappers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use itops_core::breaker::{
    call_guarded, BreakerConfig, BreakerPermit, BreakerState, CallOutcome, CircuitBreaker,
    ConsecutiveFailureBreaker, ResilientModel, RetryPolicy,
};
use itops_core::testing::{ScriptedModel, ScriptedTurn};
use itops_core::{Error, LanguageModel, ManualClock, ModelRequest};
use proptest::prelude::*;

/// The rules, written as plainly as possible.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Model {
    Closed { failures: u32 },
    Open { opened_at_ms: u64 },
    HalfOpen { probe_out: bool, successes: u32 },
}

#[derive(Debug, Clone)]
enum Op {
    Acquire,
    Finish { which: usize, ok: bool },
    Advance { ms: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Acquire),
        4 => (any::<usize>(), any::<bool>()).prop_map(|(which, ok)| Op::Finish { which, ok }),
        2 => (0u64..20_000).prop_map(|ms| Op::Advance { ms }),
    ]
}

fn model_state(m: &Model) -> BreakerState {
    match m {
        Model::Closed { .. } => BreakerState::Closed,
        Model::Open { .. } => BreakerState::Open,
        Model::HalfOpen { .. } => BreakerState::HalfOpen,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_breaker_follows_the_rules(
        failure_threshold in 1u32..5,
        success_threshold in 1u32..3,
        interval_ms in 1_000u64..15_000,
        ops in prop::collection::vec(op(), 1..200),
    ) {
        let clock = ManualClock::default();
        let config = BreakerConfig {
            failure_threshold,
            open_interval: Duration::from_millis(interval_ms),
            success_threshold,
        };
        let breaker = ConsecutiveFailureBreaker::with_clock("dep", config, Arc::new(clock.clone())).unwrap();
        let mut model = Model::Closed { failures: 0 };
        let mut now_ms: u64 = 0;
        // Outstanding permits: the real one and, in the model, the epoch it belongs to.
        let mut epoch: u64 = 0;
        let mut outstanding: Vec<(BreakerPermit, u64, bool)> = Vec::new();

        for op in ops {
            match op {
                Op::Advance { ms } => {
                    clock.advance(Duration::from_millis(ms));
                    now_ms += ms;
                }
                Op::Acquire => {
                    let real = breaker.try_acquire();
                    let expected: Option<bool> = match model {
                        Model::Closed { .. } => Some(false),
                        Model::Open { opened_at_ms } if now_ms - opened_at_ms >= interval_ms => {
                            model = Model::HalfOpen { probe_out: true, successes: 0 };
                            epoch += 1;
                            Some(true)
                        }
                        Model::Open { .. } => None,
                        Model::HalfOpen { probe_out: true, .. } => None,
                        Model::HalfOpen { probe_out: false, successes } => {
                            model = Model::HalfOpen { probe_out: true, successes };
                            Some(true)
                        }
                    };
                    match (real, expected) {
                        (Ok(permit), Some(probe)) => {
                            prop_assert_eq!(permit.probe, probe);
                            outstanding.push((permit, epoch, probe));
                        }
                        (Err(Error::CircuitOpen { retry_after, .. }), None) => {
                            if let Model::Open { opened_at_ms } = model {
                                prop_assert_eq!(retry_after.as_millis() as u64, interval_ms - (now_ms - opened_at_ms));
                            }
                        }
                        (real, expected) => prop_assert!(false, "acquire: got {:?}, expected {:?} in {:?}", real, expected, model),
                    }
                }
                Op::Finish { which, ok } => {
                    if outstanding.is_empty() {
                        continue;
                    }
                    let (permit, permit_epoch, probe) = outstanding.remove(which % outstanding.len());
                    breaker.record(permit, if ok { CallOutcome::Success } else { CallOutcome::Failure });
                    if permit_epoch != epoch {
                        continue; // stale: ignored
                    }
                    model = match (model, ok) {
                        (Model::Closed { .. }, true) => Model::Closed { failures: 0 },
                        (Model::Closed { failures }, false) if failures + 1 >= failure_threshold => {
                            epoch += 1;
                            Model::Open { opened_at_ms: now_ms }
                        }
                        (Model::Closed { failures }, false) => Model::Closed { failures: failures + 1 },
                        (Model::HalfOpen { successes, .. }, true) if probe => {
                            if successes + 1 >= success_threshold {
                                epoch += 1;
                                Model::Closed { failures: 0 }
                            } else {
                                Model::HalfOpen { probe_out: false, successes: successes + 1 }
                            }
                        }
                        (Model::HalfOpen { .. }, false) if probe => {
                            epoch += 1;
                            Model::Open { opened_at_ms: now_ms }
                        }
                        (m, _) => m,
                    };
                }
            }
            prop_assert_eq!(breaker.state(), model_state(&model));
            // Never more than one live probe.
            let live_probes = outstanding.iter().filter(|(_, e, p)| *p && *e == epoch).count();
            prop_assert!(live_probes <= 1, "{} live probes", live_probes);
        }
    }
}

fn breaker(clock: &ManualClock, threshold: u32) -> Arc<ConsecutiveFailureBreaker> {
    Arc::new(
        ConsecutiveFailureBreaker::with_clock(
            "model",
            BreakerConfig {
                failure_threshold: threshold,
                open_interval: Duration::from_secs(30),
                success_threshold: 1,
            },
            Arc::new(clock.clone()),
        )
        .unwrap(),
    )
}

#[tokio::test]
async fn opens_after_consecutive_failures_and_recovers_through_a_probe() {
    let clock = ManualClock::default();
    let b = breaker(&clock, 3);
    for _ in 0..3 {
        let r: itops_core::Result<()> = call_guarded(b.as_ref(), async {
            Err(Error::Timeout {
                what: "x".into(),
                after: Duration::from_secs(1),
            })
        })
        .await;
        assert!(matches!(r, Err(Error::Timeout { .. })));
    }
    assert_eq!(b.state(), BreakerState::Open);
    let refused: itops_core::Result<()> = call_guarded(b.as_ref(), async { Ok(()) }).await;
    let err = refused.unwrap_err();
    assert!(err.to_string().contains("circuit 'model' is open"), "{err}");
    clock.advance(Duration::from_secs(30));
    call_guarded(b.as_ref(), async { Ok(()) }).await.unwrap();
    assert_eq!(b.state(), BreakerState::Closed);
}

#[tokio::test]
async fn caller_mistakes_do_not_trip_the_breaker() {
    let clock = ManualClock::default();
    let b = breaker(&clock, 1);
    let r: itops_core::Result<()> =
        call_guarded(b.as_ref(), async { Err(Error::invalid("args", "bad")) }).await;
    assert!(r.is_err());
    assert_eq!(b.state(), BreakerState::Closed);
}

#[tokio::test]
async fn a_cancelled_probe_counts_as_a_failure_and_is_not_lost() {
    let clock = ManualClock::default();
    let b = breaker(&clock, 1);
    let _ = call_guarded::<(), _>(b.as_ref(), async {
        Err(Error::Timeout {
            what: "x".into(),
            after: Duration::ZERO,
        })
    })
    .await;
    clock.advance(Duration::from_secs(30));
    {
        // Start the probe and drop it before it finishes.
        let fut = call_guarded::<(), _>(b.as_ref(), std::future::pending());
        let _ = tokio::time::timeout(Duration::from_millis(1), fut).await;
    }
    assert_eq!(
        b.state(),
        BreakerState::Open,
        "the abandoned probe must re-open the circuit"
    );
    clock.advance(Duration::from_secs(30));
    call_guarded(b.as_ref(), async { Ok(()) }).await.unwrap();
    assert_eq!(b.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn resilient_model_retries_transient_failures() {
    let clock = ManualClock::default();
    let inner = ScriptedModel::new(vec![
        ScriptedTurn::fail("throttled", true),
        ScriptedTurn::fail("throttled", true),
        ScriptedTurn::text("ok"),
    ]);
    let model = ResilientModel::new(
        inner,
        breaker(&clock, 5),
        RetryPolicy::default(),
        Duration::from_secs(5),
    );
    let out = model.converse(&ModelRequest::default()).await.unwrap();
    assert_eq!(out.message.text(), "ok");
}

#[tokio::test(start_paused = true)]
async fn resilient_model_times_out_slow_calls_and_opens_the_breaker() {
    let clock = ManualClock::default();
    let b = breaker(&clock, 2);
    let inner = ScriptedModel::new(
        (0..4)
            .map(|_| ScriptedTurn::text("late").with_delay(Duration::from_secs(60)))
            .collect::<Vec<_>>(),
    );
    let model = ResilientModel::new(
        inner,
        b.clone(),
        RetryPolicy {
            max_attempts: 2,
            ..RetryPolicy::default()
        },
        Duration::from_secs(5),
    );
    let err = model.converse(&ModelRequest::default()).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert_eq!(b.state(), BreakerState::Open);
    // While open, calls fail fast without reaching the model.
    let err = model.converse(&ModelRequest::default()).await.unwrap_err();
    assert!(matches!(err, Error::CircuitOpen { .. }), "{err}");
}

#[tokio::test(start_paused = true)]
async fn resilient_model_does_not_retry_permanent_failures() {
    let clock = ManualClock::default();
    let inner = Arc::new(ScriptedModel::new(vec![
        ScriptedTurn::fail("model not found", false),
        ScriptedTurn::text("never"),
    ]));
    let model = ResilientModel::new(
        inner.clone(),
        breaker(&clock, 5),
        RetryPolicy::default(),
        Duration::from_secs(5),
    );
    let err = model.converse(&ModelRequest::default()).await.unwrap_err();
    assert!(err.to_string().contains("model not found"));
    assert_eq!(
        inner.requests().len(),
        1,
        "a permanent failure must not be retried"
    );
}

#[test]
fn invalid_breaker_settings_are_refused() {
    let err = ConsecutiveFailureBreaker::new(
        "x",
        BreakerConfig {
            failure_threshold: 0,
            ..BreakerConfig::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err, Error::Invalid { field, .. } if field == "failure_threshold"));
}
