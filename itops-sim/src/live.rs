//! The simulated system running live, for the local server: time moves forward as the caller
//! says (with the wall clock, or jumping ahead to let a fault develop or a fix settle), and
//! a monitor watches every service with the alert rules most teams run, reporting an
//! incident the way a pager would (two minutes after the first alert, naming the symptoms).
//!
//! A server runs for weeks: the telemetry is kept for a retention window (8 hours unless
//! [`LiveSim::with_retention`] says otherwise: the charts' six hours before an incident
//! plus a margin) and older samples, log lines, spans and changes are dropped, every
//! eighth of the window.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Duration as ChronoDuration, Utc};

use super::faults::FaultSpec;
use super::reports::{write_report, Detector, IncidentReport};
use super::rng::SimRng;
use super::scenarios::recent_change;
use super::simulator::{ServiceHealth, SimConfig, SimEnvironment};
use super::topology::Topology;
use itops_core::error::Result;

/// How long alerts gather after the first one fires before the incident is reported.
const GROUPING: ChronoDuration = ChronoDuration::minutes(2);
/// How long the system must be free of faults before monitoring re-arms after a report.
const REARM_AFTER: ChronoDuration = ChronoDuration::minutes(5);
/// How much history a live system starts with at least (the monitor learns its baseline
/// from the last part of it).
const MIN_HISTORY: Duration = Duration::from_secs(20 * 60);

/// How long telemetry is kept unless [`LiveSim::with_retention`] says otherwise.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(8 * 3600);

/// A [`SimEnvironment`] running live with a monitor that reports incidents.
pub struct LiveSim {
    env: Arc<SimEnvironment>,
    monitor: Mutex<Monitor>,
    retention: ChronoDuration,
}

impl std::fmt::Debug for LiveSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSim")
            .field("env", &self.env)
            .finish_non_exhaustive()
    }
}

struct Monitor {
    detector: Detector,
    topology: Topology,
    names: Vec<String>,
    /// When the first alert of the current group fired.
    first_alert: Option<DateTime<Utc>>,
    /// The entry service's health before the alerts began.
    entry_before: Option<ServiceHealth>,
    /// Whether the current group was reported (no more reports until re-armed).
    reported: bool,
    /// Since when no fault has been active.
    quiet_since: Option<DateTime<Utc>>,
    rng: SimRng,
    /// When telemetry older than the retention window is dropped next.
    next_prune: Option<DateTime<Utc>>,
}

impl LiveSim {
    /// Builds the system at `config.start` and runs it for `history` (at least 20 minutes),
    /// learning what normal looks like; it then stands at `config.start + history`.
    pub fn start(config: SimConfig, history: Duration) -> Result<Self> {
        let history = history.max(MIN_HISTORY);
        let seed = config.seed;
        let topology = config.topology.clone();
        let env = SimEnvironment::new(config)?;
        let names: Vec<String> = topology.names().into_iter().map(str::to_string).collect();
        let live = Self {
            env: Arc::new(env),
            monitor: Mutex::new(Monitor {
                detector: Detector::new(&topology),
                topology,
                names,
                first_alert: None,
                entry_before: None,
                reported: false,
                quiet_since: None,
                rng: SimRng::derive(seed, "live-reports"),
                next_prune: None,
            }),
            retention: to_chrono(DEFAULT_RETENTION),
        };
        live.advance(history)?;
        Ok(live)
    }

    /// Keeps telemetry for `window` (at least the 20 minutes the monitor learns from)
    /// instead of [`DEFAULT_RETENTION`]; older telemetry is dropped.
    pub fn with_retention(mut self, window: Duration) -> Self {
        self.retention = to_chrono(window.max(MIN_HISTORY));
        self.lock().next_prune = None;
        self.prune(&mut self.lock());
        self
    }

    /// How long telemetry is kept.
    pub fn retention(&self) -> Duration {
        self.retention.to_std().unwrap_or(DEFAULT_RETENTION)
    }

    /// Drops the telemetry older than the retention window when it is time to: every
    /// eighth of the window, so at most an eighth more than the window is ever kept.
    fn prune(&self, monitor: &mut Monitor) {
        let now = self.env.now();
        if monitor.next_prune.is_some_and(|at| now < at) {
            return;
        }
        let since = now - self.retention;
        self.env.retain_telemetry(|index| index.retain_since(since));
        monitor.next_prune = Some(now + self.retention / 8);
    }

    /// The simulated system (telemetry source, action executor and clock).
    pub fn environment(&self) -> &Arc<SimEnvironment> {
        &self.env
    }

    /// Schedules a fault (starting now when its time is not in the future) and re-arms
    /// monitoring, so that the symptoms it causes are reported as a new incident.
    pub fn inject(&self, mut fault: FaultSpec) -> Result<usize> {
        let now = self.env.now();
        if fault.at < now {
            fault.at = now;
        }
        let id = self.env.inject(fault)?;
        let mut monitor = self.lock();
        monitor.rearm();
        Ok(id)
    }

    /// Runs the system forward by `by`, tick by tick, watching it; returns the incidents
    /// monitoring reported meanwhile.
    pub fn advance(&self, by: Duration) -> Result<Vec<IncidentReport>> {
        let until = self.env.now() + ChronoDuration::from_std(by).unwrap_or(ChronoDuration::MAX);
        self.advance_to(until)
    }

    /// Runs the system forward until `at`, watching it; returns the incidents reported.
    pub fn advance_to(&self, at: DateTime<Utc>) -> Result<Vec<IncidentReport>> {
        let tick = Duration::from_secs_f64(self.env.tick_seconds());
        let mut reports = Vec::new();
        let mut monitor = self.lock();
        while self.env.now() < at {
            let left = itops_core::clock::elapsed_between(self.env.now(), at);
            self.env.advance(left.min(tick));
            if let Some(report) = monitor.watch(&self.env)? {
                reports.push(report);
            }
            self.prune(&mut monitor);
        }
        Ok(reports)
    }

    /// Runs the system forward (at most `max`) until monitoring reports an incident, and
    /// returns it; `None` when nothing was reported in time.
    pub fn advance_until_reported(&self, max: Duration) -> Result<Option<IncidentReport>> {
        let tick = Duration::from_secs_f64(self.env.tick_seconds());
        let until = self.env.now() + ChronoDuration::from_std(max).unwrap_or(ChronoDuration::MAX);
        let mut monitor = self.lock();
        while self.env.now() < until {
            self.env.advance(tick);
            self.prune(&mut monitor);
            if let Some(report) = monitor.watch(&self.env)? {
                return Ok(Some(report));
            }
        }
        Ok(None)
    }

    fn lock(&self) -> MutexGuard<'_, Monitor> {
        // The monitor is consistent after every tick; a poisoned lock still holds a valid one.
        self.monitor.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn to_chrono(duration: Duration) -> ChronoDuration {
    ChronoDuration::from_std(duration).unwrap_or(ChronoDuration::MAX)
}

impl Monitor {
    fn rearm(&mut self) {
        self.detector.fired.clear();
        self.first_alert = None;
        self.reported = false;
        self.quiet_since = None;
    }

    /// Looks at the system after one tick; returns a report when one is due.
    fn watch(&mut self, env: &SimEnvironment) -> Result<Option<IncidentReport>> {
        let now = env.now();
        let healths = self
            .names
            .iter()
            .map(|n| env.health(n))
            .collect::<Result<Vec<_>>>()?;
        let entry = &healths[self.topology.entry];
        let faults = env.active_faults();
        if faults == 0 && self.first_alert.is_none() {
            // Only a quiet system teaches the baseline.
            self.detector.learn(&healths);
        }
        if self.first_alert.is_none() {
            self.entry_before = Some(entry.clone());
        }
        let fired = self.detector.observe(now, &healths);
        if !fired.is_empty() && self.first_alert.is_none() {
            self.first_alert = Some(now);
        }
        if faults == 0 {
            let since = *self.quiet_since.get_or_insert(now);
            if self.reported && now - since >= REARM_AFTER {
                self.rearm();
            }
        } else {
            self.quiet_since = None;
        }
        match self.first_alert {
            Some(first) if !self.reported && now >= first + GROUPING => {
                self.reported = true;
                let before = self.entry_before.clone().unwrap_or_else(|| entry.clone());
                let security = env.ground_truth().iter().any(|f| {
                    f.ended_at.is_none() && f.variant.as_deref() == Some("credential_stuffing")
                });
                Ok(Some(write_report(
                    &self.topology,
                    &self.detector.fired,
                    now,
                    entry,
                    &before,
                    recent_change(env, now),
                    security,
                    &mut self.rng,
                )))
            }
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use itops_core::domain::FaultKind;

    #[test]
    fn a_fault_is_reported_once_and_a_healthy_system_is_not() {
        let start: DateTime<Utc> = "2026-03-01T10:00:00Z".parse().unwrap();
        let live = LiveSim::start(SimConfig::new(7).start(start), MIN_HISTORY).unwrap();
        assert_eq!(
            live.environment().now(),
            start + ChronoDuration::minutes(20)
        );
        // Nothing wrong: nothing reported.
        assert!(live.advance(Duration::from_secs(600)).unwrap().is_empty());

        let now = live.environment().now();
        live.inject(FaultSpec::new(
            FaultKind::DependencyDown,
            "payments",
            now,
            0.9,
        ))
        .unwrap();
        let report = live
            .advance_until_reported(Duration::from_secs(15 * 60))
            .unwrap()
            .expect("a downed dependency is reported");
        assert!(report.detected_at > now);
        assert!(!report.affected_services.is_empty());
        // Still broken, but already reported: no second incident.
        assert!(live.advance(Duration::from_secs(600)).unwrap().is_empty());
    }
}
