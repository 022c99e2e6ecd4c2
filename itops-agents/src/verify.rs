//! Verification: did the fix work? Judged as an SRE would, by the symptoms that made the
//! incident:
//!
//! - **which signals**: the user-facing ones (latency, errors, success or availability,
//!   saturation, crashes) of every implicated service (with the finding's candidates, via
//!   [`Verifier::verify_incident`]), and resource signals only where
//!   they are the symptom of the fault found, on its service (memory for a leak, cpu for
//!   contention or a spike, disk for a full disk);
//! - **which way**: only a move in the worse direction is a symptom, and a signal now
//!   better than its baseline is healthy (memory lower after a rollback, latency lower);
//! - **how far**: beyond a tolerance from the baseline's own variability (median and
//!   IQR/MAD of the window before the incident) with a floor relative to its level, judged
//!   on the window after the fix settled; cpu and saturation are expected where the
//!   baseline would be at the service's current traffic;
//! - **for how long**: a fix known to be temporary (a restart for a leak), a symptom that
//!   climbs again at the pace it climbed during the incident, or cpu still above what the
//!   traffic explains once users feel nothing (capacity holding the cause off) is reported
//!   as mitigated, with the lasting fix proposed.
//!
//! A verdict needs evidence: symptoms that all barely crossed their bar (noise, most
//! likely) cannot confirm a fix, and neither can no symptom at all.

mod follow_up;
mod judge;
mod report;
mod signals;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use itops_core::telemetry::{MetricQuery, MetricSeries, TimeRange};
use itops_core::workflow::{ActionRecord, ActionState, VerificationReport};
use itops_core::{FaultKind, IncidentContext, Result, TelemetrySource};

use crate::analysis::ranking::as_rate_if_counter;
use judge::{Thresholds, Window, Windows};
use report::Findings;

pub use judge::SignalCheck;
pub use signals::{resource_symptoms, Symptom};

/// How a verification compares the windows.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifyOptions {
    /// How long before the incident the baseline window ends (a fault often begins up to
    /// ten minutes before anyone notices).
    pub onset_lead: ChronoDuration,
    /// Length of the baseline window.
    pub baseline: ChronoDuration,
    /// When the telemetry before `onset_lead` ahead of detection holds less than half a
    /// `baseline`, end the baseline where the telemetry shows the incident began instead
    /// (its onset, as the ranking finds it in the `onset_lead` before detection): a system
    /// watched for only a quarter of an hour still has a baseline. Without a clear onset,
    /// `onset_lead` before detection.
    pub baseline_to_onset: bool,
    /// How far (in robust standard deviations of the baseline) a signal must have moved
    /// the worse way during the incident to count as a symptom.
    pub symptom_z: f64,
    /// How close (in robust standard deviations of the baseline) a symptom must come back.
    pub recovered_z: f64,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            onset_lead: ChronoDuration::minutes(10),
            baseline: ChronoDuration::minutes(30),
            baseline_to_onset: true,
            symptom_z: 4.0,
            recovered_z: 3.0,
        }
    }
}

/// What was found and done: where the fault is believed to be, of which kind, and which
/// actions ran.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Diagnosis {
    /// The service the finding blames first, and the kind of fault.
    pub root: Option<(String, FaultKind)>,
    /// The actions that ran (or may have: interrupted ones), as (catalogue id, target).
    pub executed: Vec<(String, String)>,
}

impl Diagnosis {
    /// The diagnosis in `context` (its finding and plan) with the actions `records` say ran.
    pub fn of(context: &IncidentContext, records: &[ActionRecord]) -> Self {
        let root = context
            .finding
            .as_ref()
            .and_then(|f| f.top())
            .map(|c| (c.service.clone(), c.fault));
        let executed = context
            .plan
            .iter()
            .flat_map(|p| &p.actions)
            .filter(|a| {
                records.iter().any(|r| {
                    r.action_id == a.id
                        && matches!(r.state, ActionState::Succeeded | ActionState::Interrupted)
                })
            })
            .map(|a| (a.catalogue_id.clone(), a.target.clone()))
            .collect();
        Self { root, executed }
    }
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

    /// Verifies the fix of the incident in `context` (detected when it was created), made
    /// by the actions `records` describe and finished at `fixed_at`, with telemetry up to
    /// `until`.
    pub async fn verify_incident(
        &self,
        context: &IncidentContext,
        records: &[ActionRecord],
        fixed_at: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<VerificationReport> {
        // The finding's other candidates too: where the investigation saw the trouble (a
        // slow network shows on the callers, not on the service behind it).
        let mut services = context.implicated_services();
        services.extend(
            context
                .finding
                .iter()
                .flat_map(|f| &f.candidates)
                .map(|c| c.service.clone()),
        );
        self.verify_with(
            &services,
            &Diagnosis::of(context, records),
            context.incident.created_at,
            fixed_at,
            until,
        )
        .await
    }

    /// Compares the user-facing signals of `services` before the incident (detected at
    /// `detected_at`), during it (until `fixed_at`) and after the fix settled, without
    /// knowing the fault or the fix (see [`Verifier::verify_with`]).
    pub async fn verify(
        &self,
        services: &[String],
        detected_at: DateTime<Utc>,
        fixed_at: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<VerificationReport> {
        self.verify_with(
            services,
            &Diagnosis::default(),
            detected_at,
            fixed_at,
            until,
        )
        .await
    }

    /// Compares `services` before the incident (detected at `detected_at`), during it
    /// (until `fixed_at`) and after the fix settled (the last two thirds of
    /// `fixed_at..until`). Resolved when at least one signal was a symptom and every
    /// symptom is healthy again; mitigated when, besides, the fix is known to be temporary
    /// for the fault in `diagnosis` or a symptom climbs again.
    pub async fn verify_with(
        &self,
        services: &[String],
        diagnosis: &Diagnosis,
        detected_at: DateTime<Utc>,
        fixed_at: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<VerificationReport> {
        let o = &self.options;
        if until <= fixed_at {
            return Ok(VerificationReport::new(
                false,
                "no time has passed since the fix; nothing to compare yet",
                serde_json::Value::Null,
            ));
        }
        let lead_end = detected_at - o.onset_lead;
        // Each service's series, read from where the usual baseline would begin (a later,
        // onset-based baseline lies within it).
        let range = TimeRange::new(lead_end - o.baseline, until)?;
        let mut read: Vec<(&String, Vec<MetricSeries>)> = Vec::new();
        let mut seen = BTreeSet::new();
        for service in services {
            if !seen.insert(service.as_str()) {
                continue;
            }
            let series = self
                .source
                .metrics(&MetricQuery {
                    range,
                    service: Some(service.clone()),
                    metric: None,
                })
                .await?;
            read.push((service, series));
        }
        // Little history before the usual baseline's end (a system watched for minutes;
        // a live source has no bounds, so its first sample tells): the baseline ends at
        // the onset the telemetry shows instead, when it shows one.
        let first = read
            .iter()
            .flat_map(|(_, series)| series.iter().filter_map(|s| s.points.first()))
            .map(|p| p.at)
            .min();
        let short_history = first.is_some_and(|first| lead_end - first < o.baseline / 2);
        let onset = if o.baseline_to_onset && short_history {
            crate::analysis::ranking::detected_onset(self.source.as_ref(), detected_at)
                .await
                .ok()
                .flatten()
                .filter(|t| *t >= lead_end && *t < detected_at)
        } else {
            None
        };
        let baseline_end = onset.unwrap_or(lead_end);
        let baseline_start = baseline_end - o.baseline;
        let settle = until - fixed_at;
        let windows = Windows {
            baseline: (baseline_start, baseline_end),
            during: (baseline_end, fixed_at),
            after: (fixed_at + settle / 3, until),
        };
        let thresholds = Thresholds {
            symptom_z: o.symptom_z,
            recovered_z: o.recovered_z,
        };
        let mut symptoms = Vec::new();
        for (service, series) in read {
            let resources = match &diagnosis.root {
                Some((root, kind)) if root == service => resource_symptoms(*kind),
                _ => &[],
            };
            let load = load_change(&series, windows.baseline, windows.after);
            let judged: Vec<(MetricSeries, Symptom)> = series
                .into_iter()
                .filter_map(|s| {
                    let symptom = Symptom::of(&s.metric)?;
                    (symptom.user_facing() || resources.contains(&symptom)).then_some((s, symptom))
                })
                .collect();
            for (raw, symptom) in judged {
                if symptom == Symptom::Restarts {
                    symptoms.extend(judge::judge_restarts(&raw, &windows));
                    continue;
                }
                let s = as_rate_if_counter(raw);
                symptoms.extend(judge::judge(&s, symptom, &windows, load, thresholds));
            }
        }
        let temporary = match &diagnosis.root {
            Some((root, kind)) => {
                let changes = self
                    .source
                    .changes(
                        TimeRange::new(detected_at - ChronoDuration::days(7), detected_at)?,
                        Some(root),
                    )
                    .await
                    .unwrap_or_default();
                follow_up::temporary(
                    *kind,
                    root,
                    &diagnosis.executed,
                    follow_up::last_deploy(&changes, root, detected_at),
                )
            }
            None => None,
        };
        Ok(report::verdict(Findings {
            symptoms,
            temporary,
            settle,
        }))
    }
}

/// How the request rate in `after` compares with `baseline`'s, from the throughput
/// series among `series` (1 when there is none, or they say nothing usable).
pub(crate) fn load_change(series: &[MetricSeries], baseline: Window, after: Window) -> f64 {
    use crate::analysis::signal_kind::{classify, SignalKind};
    let level = |s: &MetricSeries, window| {
        let values: Vec<f64> = judge::points(s, window).into_iter().map(|p| p.1).collect();
        (values.len() >= 2).then(|| judge::median(&values))
    };
    let (before, since) = series
        .iter()
        .filter(|s| classify(&s.metric) == SignalKind::Throughput)
        .map(|s| as_rate_if_counter(s.clone()))
        .filter_map(|s| Some((level(&s, baseline)?, level(&s, after)?)))
        .fold((0.0, 0.0), |(b, a), (x, y)| (b + x, a + y));
    let ratio = since / before;
    if before > 0.0 && ratio.is_finite() && ratio > 0.0 {
        ratio
    } else {
        1.0
    }
}
