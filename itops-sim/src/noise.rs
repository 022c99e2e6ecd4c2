//! Things that happen in every real system and are not the incident: harmless deploys and
//! config changes, autoscaling, noisy neighbours, short error blips, a nightly batch job.
//!
//! They are part of the ground truth (so an evaluation can tell a distraction from a
//! miss) but never of the fault list.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::faults::Effects;
use itops_core::word_enum;

word_enum! {
    /// A kind of unrelated activity.
    pub enum DistractionKind as "distraction kind" {
        /// A deploy of a new version that changes nothing that matters (rolling restart).
        HarmlessDeploy = "harmless_deploy",
        /// A configuration change with no effect (log level, a TTL).
        ConfigChange = "config_change",
        /// A feature flag flipped, with no effect.
        FlagFlip = "flag_flip",
        /// The autoscaler adds a replica.
        ScaleUp = "scale_up",
        /// Something else on the node takes CPU: jittery latency, a little more CPU.
        NoisyNeighbour = "noisy_neighbour",
        /// A minute or two of errors that go away by themselves.
        TransientErrors = "transient_errors",
        /// A recurring heavy job: CPU and latency bumps every 15 minutes.
        BatchJob = "batch_job",
    }
}

/// One piece of unrelated activity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Distraction {
    /// What happens.
    pub kind: DistractionKind,
    /// Where.
    pub service: String,
    /// When it starts.
    pub at: DateTime<Utc>,
    /// How long it lasts, in seconds (for the kinds that last).
    #[serde(default)]
    pub duration_s: Option<u64>,
}

impl Distraction {
    /// A distraction of `kind` on `service` at `at`.
    pub fn new(kind: DistractionKind, service: impl Into<String>, at: DateTime<Utc>) -> Self {
        Self {
            kind,
            service: service.into(),
            at,
            duration_s: None,
        }
    }

    /// Sets how long it lasts.
    pub fn lasting(mut self, seconds: u64) -> Self {
        self.duration_s = Some(seconds);
        self
    }

    fn default_duration(&self) -> f64 {
        match self.kind {
            DistractionKind::NoisyNeighbour => 3600.0 * 6.0,
            DistractionKind::TransientErrors => 90.0,
            DistractionKind::BatchJob => 3600.0 * 24.0,
            _ => 0.0,
        }
    }

    /// Adds its effect at `at` to `e` (the instantaneous kinds act through change events).
    pub(crate) fn apply(&self, at: DateTime<Utc>, seed: u64, cpu_limit: f64, e: &mut Effects) {
        let since = (at - self.at).num_milliseconds() as f64 / 1000.0;
        let duration = self
            .duration_s
            .map_or(self.default_duration(), |d| d as f64);
        if since < 0.0 || since >= duration {
            return;
        }
        let phase = (seed % 997) as f64;
        match self.kind {
            DistractionKind::NoisyNeighbour => {
                // Comes and goes in waves of a few minutes.
                let wave = ((since + phase) / 140.0).sin() * ((since + phase) / 53.0).cos();
                let level = wave.max(0.0);
                e.latency_factor *= 1.0 + 0.45 * level;
                e.extra_cpu += cpu_limit * 0.12 * level;
            }
            DistractionKind::TransientErrors => {
                e.code_errors += 0.03 + 0.05 * ((phase / 997.0) - 0.5).abs();
            }
            DistractionKind::BatchJob => {
                let cycle = (since + phase) % 900.0;
                if cycle < 150.0 {
                    e.extra_cpu += cpu_limit * 0.3;
                    e.latency_factor *= 1.35;
                }
            }
            DistractionKind::HarmlessDeploy
            | DistractionKind::ConfigChange
            | DistractionKind::FlagFlip
            | DistractionKind::ScaleUp => {}
        }
    }
}
