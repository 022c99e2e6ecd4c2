//! Verification: did the fix work? Compares each implicated service's health signals
//! (latency, errors, saturation, resources, restarts) after the actions settled with the
//! baseline before the incident, looking only at the signals that were anomalous during it.

use std::sync::Arc;

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use itops_core::telemetry::{MetricQuery, MetricSeries, TimeRange};
use itops_core::workflow::VerificationReport;
use itops_core::{Result, TelemetrySource};
use serde::Serialize;

use crate::analysis::ranking::as_rate_if_counter;
use crate::analysis::signal_kind::{classify, SignalKind};
use crate::analysis::stats::{mad_sigma, median, round_sig};

/// How a verification compares the windows.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifyOptions {
    /// How long before the incident the baseline window ends (the fault usually starts
    /// a few minutes before anyone notices).
    pub onset_lead: ChronoDuration,
    /// Length of the baseline window.
    pub baseline: ChronoDuration,
    /// How far (in robust standard deviations) a signal must have moved during the
    /// incident to count as a symptom.
    pub symptom_z: f64,
    /// How close (in robust standard deviations of the baseline) a symptom must come back.
    pub recovered_z: f64,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            onset_lead: ChronoDuration::minutes(5),
            baseline: ChronoDuration::minutes(30),
            symptom_z: 4.0,
            recovered_z: 3.0,
        }
    }
}

/// One signal compared across the three windows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SignalCheck {
    /// The service.
    pub service: String,
    /// The metric (a counter is compared as its per-second rate).
    pub metric: String,
    /// Median before the incident.
    pub baseline: f64,
    /// Median during the incident, before the fix.
    pub during: f64,
    /// Median after the fix settled.
    pub after: f64,
    /// The level it should be back at: the baseline, or for a signal that follows load
    /// (cpu, saturation) the baseline scaled by the change in the service's request rate
    /// since (traffic that grew through the morning keeps the cpu up, fixed or not).
    pub expected: f64,
    /// Whether it came back to its baseline.
    pub recovered: bool,
}

/// Checks fixes against telemetry.
#[derive(Clone)]
pub struct Verifier {
    source: Arc<dyn TelemetrySource>,
    options: VerifyOptions,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier reading `source`, with the default options.
    pub fn new(source: Arc<dyn TelemetrySource>) -> Self {
        Self {
            source,
            options: VerifyOptions::default(),
        }
    }

    /// Uses `options` instead of the defaults.
    pub fn with_options(mut self, options: VerifyOptions) -> Self {
        self.options = options;
        self
    }

    /// Compares `services` before the incident (detected at `detected_at`), during it (until
    /// `fixed_at`) and after the fix settled (the last two thirds of `fixed_at..until`).
    /// Resolved when at least one signal was a symptom and every symptom came back.
    pub async fn verify(
        &self,
        services: &[String],
        detected_at: DateTime<Utc>,
        fixed_at: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<VerificationReport> {
        let o = &self.options;
        let baseline_end = detected_at - o.onset_lead;
        let baseline_start = baseline_end - o.baseline;
        let settle = until - fixed_at;
        let after_start = fixed_at + settle / 3;
        if until <= fixed_at {
            return Ok(VerificationReport {
                resolved: false,
                summary: "no time has passed since the fix; nothing to compare yet".to_string(),
                details: serde_json::Value::Null,
            });
        }
        let range = TimeRange::new(baseline_start, until)?;
        let mut checks = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for service in services {
            if !seen.insert(service.as_str()) {
                continue;
            }
            let series: Vec<(MetricSeries, SignalKind)> = self
                .source
                .metrics(&MetricQuery {
                    range,
                    service: Some(service.clone()),
                    metric: None,
                })
                .await?
                .into_iter()
                .map(|s| {
                    let kind = classify(&s.metric);
                    (as_rate_if_counter(s), kind)
                })
                .collect();
            let load = load_change(
                &series,
                (baseline_start, baseline_end),
                (after_start, until),
            );
            for (s, kind) in series.iter().filter(|(_, kind)| watched(*kind)) {
                if let Some(check) = self.compare(
                    s,
                    *kind,
                    (baseline_start, baseline_end),
                    (baseline_end, fixed_at),
                    (after_start, until),
                    load,
                ) {
                    checks.push(check);
                }
            }
        }
        Ok(report(checks, settle))
    }

    fn compare(
        &self,
        series: &MetricSeries,
        kind: SignalKind,
        baseline: (DateTime<Utc>, DateTime<Utc>),
        during: (DateTime<Utc>, DateTime<Utc>),
        after: (DateTime<Utc>, DateTime<Utc>),
        load: f64,
    ) -> Option<SignalCheck> {
        let (pb, pd, pa) = (
            points(series, baseline),
            points(series, during),
            points(series, after),
        );
        let values = |pts: &[(f64, f64)]| pts.iter().map(|p| p.1).collect::<Vec<f64>>();
        let (b, d, a) = (values(&pb), values(&pd), values(&pa));
        if b.len() < 3 || d.len() < 2 || a.len() < 2 {
            return None;
        }
        let (base, dur, aft) = (median(&b), median(&d), median(&a));
        // A flat baseline still has a scale: a fiftieth of its level, or a tiny absolute floor.
        let sigma = mad_sigma(&b).max(0.02 * base.abs()).max(1e-6);
        let shift = dur - base;
        if shift.abs() / sigma < self.options.symptom_z {
            return None;
        }
        // A utilisation kept as a fraction (0 to 1) that moved by less than a percentage
        // point or two did not hurt anyone, however quiet its baseline was.
        let fraction = matches!(
            kind,
            SignalKind::Saturation | SignalKind::Cpu | SignalKind::Memory | SignalKind::Disk
        ) && b
            .iter()
            .chain(&d)
            .chain(&a)
            .all(|v| (0.0..=1.0).contains(v));
        if fraction && shift.abs() < MATERIAL_FRACTION {
            return None;
        }
        // No longer displaced the way the symptom went (back within the baseline's spread,
        // or beyond it on the other side, as memory after a restart), or most of the way back.
        // Cpu and saturation follow load: they are back when they are where the baseline
        // would be at today's traffic.
        let expected = if matches!(kind, SignalKind::Cpu | SignalKind::Saturation) {
            base * load
        } else {
            base
        };
        let left = (aft - expected) * shift.signum();
        let level_back = left / sigma <= self.options.recovered_z || left <= 0.2 * shift.abs();
        // A symptom that grew steadily (a leak) must also have stopped growing: a level
        // that dropped only because the process was killed climbs again at the same pace.
        let growth = slope(&pd) * shift.signum();
        let span = pd.last().map_or(0.0, |p| p.0) - pd.first().map_or(0.0, |p| p.0);
        let trending = growth > 0.0 && growth * span >= 0.5 * shift.abs();
        let still_growing = trending && slope(&pa) * shift.signum() >= 0.5 * growth;
        let recovered = level_back && !still_growing;
        Some(SignalCheck {
            service: series.service.clone(),
            metric: series.metric.clone(),
            baseline: round_sig(base, 4),
            during: round_sig(dur, 4),
            after: round_sig(aft, 4),
            expected: round_sig(expected, 4),
            recovered,
        })
    }
}

/// The (seconds since `from`, value) points of `series` within `[from, to)`.
fn points(series: &MetricSeries, (from, to): (DateTime<Utc>, DateTime<Utc>)) -> Vec<(f64, f64)> {
    series
        .points
        .iter()
        .filter(|p| p.at >= from && p.at < to && p.value.is_finite())
        .map(|p| ((p.at - from).num_milliseconds() as f64 / 1000.0, p.value))
        .collect()
}

/// How the service's request rate after the fix compares with the baseline's (from its
/// throughput series; 1 when it has none, or they say nothing usable).
fn load_change(
    series: &[(MetricSeries, SignalKind)],
    baseline: (DateTime<Utc>, DateTime<Utc>),
    after: (DateTime<Utc>, DateTime<Utc>),
) -> f64 {
    let level = |s: &MetricSeries, window| {
        let values: Vec<f64> = points(s, window).into_iter().map(|p| p.1).collect();
        (values.len() >= 2).then(|| median(&values))
    };
    let (before, since) = series
        .iter()
        .filter(|(_, kind)| *kind == SignalKind::Throughput)
        .filter_map(|(s, _)| Some((level(s, baseline)?, level(s, after)?)))
        .fold((0.0, 0.0), |(b, a), (x, y)| (b + x, a + y));
    let ratio = since / before;
    if before > 0.0 && ratio.is_finite() && ratio > 0.0 {
        ratio
    } else {
        1.0
    }
}

/// The smallest move of a fraction-valued utilisation that counts as a symptom.
const MATERIAL_FRACTION: f64 = 0.02;

/// Least-squares slope of (seconds, value) points; 0 for fewer than two.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx <= 0.0 {
        0.0
    } else {
        sxy / sxx
    }
}

/// Signals a fix should bring back; traffic and network volume may stay changed.
fn watched(kind: SignalKind) -> bool {
    matches!(
        kind,
        SignalKind::Latency
            | SignalKind::Errors
            | SignalKind::Saturation
            | SignalKind::Cpu
            | SignalKind::Memory
            | SignalKind::Disk
            | SignalKind::Restarts
    )
}

fn report(checks: Vec<SignalCheck>, settle: ChronoDuration) -> VerificationReport {
    let minutes = settle.num_seconds() as f64 / 60.0;
    let symptoms = checks.len();
    let recovered = checks.iter().filter(|c| c.recovered).count();
    let describe = |c: &SignalCheck| {
        let at_load = if c.expected == c.baseline {
            String::new()
        } else {
            format!(", {} at the current traffic", c.expected)
        };
        format!(
            "{} {}: {} → {} (baseline {}{at_load})",
            c.service, c.metric, c.during, c.after, c.baseline
        )
    };
    let (resolved, summary) = if symptoms == 0 {
        (
            false,
            "no signal of the implicated services was anomalous during the incident, so the \
             fix cannot be confirmed from telemetry; a human should check"
                .to_string(),
        )
    } else if recovered == symptoms {
        let examples: Vec<String> = checks.iter().take(3).map(describe).collect();
        (
            true,
            format!(
                "all {symptoms} anomalous signals back to baseline {minutes:.0} min after the fix: {}",
                examples.join("; ")
            ),
        )
    } else {
        let still: Vec<String> = checks
            .iter()
            .filter(|c| !c.recovered)
            .take(3)
            .map(describe)
            .collect();
        (
            false,
            format!(
                "{} of {symptoms} anomalous signals still off baseline {minutes:.0} min after the fix: {}",
                symptoms - recovered,
                still.join("; ")
            ),
        )
    };
    VerificationReport {
        resolved,
        summary,
        details: serde_json::json!({
            "symptoms": symptoms,
            "recovered": recovered,
            "settle_seconds": settle.num_seconds(),
            "signals": checks,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use itops_core::catalogue::{ActionCatalogue, ActionParams, RestartService};
    use itops_core::sim::{FaultSpec, SimConfig, SimEnvironment};
    use itops_core::FaultKind;
    use std::time::Duration;

    async fn case(kind: FaultKind, fix: bool) -> VerificationReport {
        let start: DateTime<Utc> = "2026-02-01T08:00:00Z".parse().unwrap();
        let env = Arc::new(SimEnvironment::new(SimConfig::new(3).start(start)).unwrap());
        env.advance(Duration::from_secs(40 * 60));
        let at = env.now();
        env.inject(FaultSpec::new(kind, "catalog", at, 0.9))
            .unwrap();
        // Noticed a few minutes in; the fix comes ten minutes later.
        env.advance(Duration::from_secs(4 * 60));
        let detected = env.now();
        env.advance(Duration::from_secs(10 * 60));
        if fix {
            let action = ActionCatalogue::standard()
                .action(
                    ActionParams::RestartService(RestartService { rolling: false }),
                    "catalog",
                )
                .unwrap();
            env.execute_now(&action).unwrap();
        }
        let fixed = env.now();
        env.advance(Duration::from_secs(6 * 60));
        Verifier::new(env.clone())
            .verify(&["catalog".to_string()], detected, fixed, env.now())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_cured_fault_verifies_and_an_uncured_one_does_not() {
        let cured = case(FaultKind::MemoryLeak, true).await;
        assert!(cured.resolved, "{}", cured.summary);
        let uncured = case(FaultKind::CpuContention, false).await;
        assert!(!uncured.resolved, "{}", uncured.summary);
        assert!(
            uncured.summary.contains("still off baseline"),
            "{}",
            uncured.summary
        );
    }

    fn series(metric: &str, values: &[f64], start: DateTime<Utc>) -> MetricSeries {
        MetricSeries {
            service: "db".into(),
            metric: metric.into(),
            points: values
                .iter()
                .enumerate()
                .map(|(i, v)| itops_core::telemetry::MetricPoint {
                    at: start + ChronoDuration::minutes(i as i64),
                    value: *v,
                })
                .collect(),
        }
    }

    #[test]
    fn a_fraction_that_barely_moved_is_no_symptom_but_a_real_move_is() {
        let start: DateTime<Utc> = "2026-02-01T08:00:00Z".parse().unwrap();
        let verifier = Verifier::new(Arc::new(
            SimEnvironment::new(SimConfig::new(1).start(start)).unwrap(),
        ));
        let windows = (
            (start, start + ChronoDuration::minutes(10)),
            (
                start + ChronoDuration::minutes(10),
                start + ChronoDuration::minutes(20),
            ),
            (
                start + ChronoDuration::minutes(20),
                start + ChronoDuration::minutes(30),
            ),
        );
        let check = |values: Vec<f64>| {
            verifier.compare(
                &series("pool_utilization", &values, start),
                SignalKind::Saturation,
                windows.0,
                windows.1,
                windows.2,
                1.0,
            )
        };
        // 1.0 % to 1.5 % of a pool: not a symptom, whatever the baseline's quiet.
        let tiny: Vec<f64> = [vec![0.010; 10], vec![0.015; 10], vec![0.012; 10]].concat();
        assert!(check(tiny).is_none());
        // 10 % to 60 %, staying there: a symptom that did not recover.
        let real: Vec<f64> = [vec![0.10; 10], vec![0.60; 10], vec![0.58; 10]].concat();
        let c = check(real).unwrap();
        assert!(!c.recovered);
    }

    #[test]
    fn cpu_is_back_when_it_is_where_the_baseline_would_be_at_the_new_traffic() {
        let start: DateTime<Utc> = "2026-02-01T06:00:00Z".parse().unwrap();
        let minutes = |a: i64, b: i64| {
            (
                start + ChronoDuration::minutes(a),
                start + ChronoDuration::minutes(b),
            )
        };
        // A leak drove the cpu from 20 % to 35 %; after the restart it is at 24 %, while the
        // morning's traffic grew by a fifth.
        let wobble = |i: usize| 0.002 * (i % 3) as f64;
        let cpu: Vec<f64> = (0..30)
            .map(|i| match i {
                0..10 => 0.20,
                10..20 => 0.35,
                _ => 0.24,
            } + wobble(i))
            .collect();
        let requests: Vec<f64> = (0..30)
            .map(|i| if i < 10 { 100.0 } else { 120.0 } + (i % 4) as f64)
            .collect();
        let series = vec![
            (series("cpu_usage", &cpu, start), SignalKind::Cpu),
            (
                series("request_rate", &requests, start),
                SignalKind::Throughput,
            ),
        ];
        let load = load_change(&series, minutes(0, 10), minutes(20, 30));
        assert!((load - 1.2).abs() < 0.05, "{load}");
        let verifier = Verifier::new(Arc::new(
            SimEnvironment::new(SimConfig::new(1).start(start)).unwrap(),
        ));
        let check = |load| {
            verifier
                .compare(
                    &series[0].0,
                    SignalKind::Cpu,
                    minutes(0, 10),
                    minutes(10, 20),
                    minutes(20, 30),
                    load,
                )
                .unwrap()
        };
        assert!(check(load).recovered, "{:?}", check(load));
        // At the baseline's traffic, the same 24 % would still be off.
        assert!(!check(1.0).recovered);
    }
}
