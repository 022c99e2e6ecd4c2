//! Which signals can be symptoms, which way is worse for each, and how far one must move
//! before anyone would call it a symptom.

use itops_core::FaultKind;
use serde::Serialize;

use crate::analysis::signal_kind::{classify, is_headroom_measure, SignalKind};

/// What a signal tells about a service, as verification reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Symptom {
    /// Response time, queueing delay, consumer lag.
    Latency,
    /// Errors, failures, 5xx.
    Errors,
    /// Success rate or availability (worse when lower).
    Success,
    /// How full a pool, worker set or queue is.
    Saturation,
    /// Cpu use.
    Cpu,
    /// Memory, heap, garbage collection.
    Memory,
    /// Disk use (or, for free-space metrics, what is left).
    Disk,
    /// Restarts, crashes, OOM kills (judged by how many happened in a window).
    Restarts,
}

impl Symptom {
    /// The symptom a metric can show, from its name; `None` for traffic and anything else
    /// a fix may leave changed.
    pub fn of(metric: &str) -> Option<Symptom> {
        let name = metric.to_ascii_lowercase();
        if ["success", "availability", "apdex", "uptime"]
            .iter()
            .any(|w| name.contains(w))
        {
            return Some(Symptom::Success);
        }
        let kind = match classify(metric) {
            // Measured on the service's node or host (`node_filesystem_avail_bytes`): what
            // it measures is in the rest of the name.
            SignalKind::Host => {
                let rest: Vec<&str> = metric
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| {
                        !w.is_empty()
                            && !["node", "host"].contains(&w.to_ascii_lowercase().as_str())
                    })
                    .collect();
                classify(&rest.join("_"))
            }
            kind => kind,
        };
        match kind {
            SignalKind::Latency => Some(Symptom::Latency),
            SignalKind::Errors => Some(Symptom::Errors),
            // How full a pool or worker set is, or how much waits: a saturation symptom.
            // A bare count of connections or busy threads is load, not trouble.
            SignalKind::Saturation => {
                let queueing = [
                    "util",
                    "saturation",
                    "percent",
                    "ratio",
                    "pending",
                    "wait",
                    "queue",
                    "backlog",
                ];
                queueing
                    .iter()
                    .any(|w| name.contains(w))
                    .then_some(Symptom::Saturation)
            }
            SignalKind::Cpu => Some(Symptom::Cpu),
            SignalKind::Memory => Some(Symptom::Memory),
            SignalKind::Disk => Some(Symptom::Disk),
            SignalKind::Restarts => Some(Symptom::Restarts),
            // Traffic, network volume, host-wide and other signals may stay changed.
            _ => None,
        }
    }

    /// Whether users feel it (judged on every implicated service): latency, errors,
    /// success, saturation, and crashes (a service restarting is not available); resource
    /// signals are judged only where they are the symptom of the fault found.
    pub fn user_facing(self) -> bool {
        matches!(
            self,
            Symptom::Latency
                | Symptom::Errors
                | Symptom::Success
                | Symptom::Saturation
                | Symptom::Restarts
        )
    }

    /// Which way `metric` gets worse: +1 when higher is worse, -1 when lower is (success
    /// rates, and what is left of a resource: free memory, free disk space, idle cpu).
    pub fn worse(self, metric: &str) -> f64 {
        let lower_is_worse = match self {
            Symptom::Success => true,
            Symptom::Cpu | Symptom::Memory | Symptom::Disk => is_headroom_measure(metric),
            _ => false,
        };
        if lower_is_worse {
            -1.0
        } else {
            1.0
        }
    }

    /// Whether its healthy level rises and falls with the service's traffic.
    pub fn follows_load(self) -> bool {
        matches!(self, Symptom::Cpu | Symptom::Saturation)
    }

    /// Whether it measures something that builds up (leaked memory or connections, a
    /// filling disk) rather than a rate.
    pub fn accumulates(self) -> bool {
        matches!(self, Symptom::Memory | Symptom::Disk | Symptom::Saturation)
    }

    /// The smallest move from `base` that matters, whatever the baseline's noise: a share
    /// of the level, or for a fraction (0 to 1) a number of percentage points.
    pub fn material(self, base: f64, fraction: bool) -> f64 {
        let level = base.abs();
        let (relative, points, absolute) = match self {
            // A quarter slower is felt; a few milliseconds on a fast call are not.
            Symptom::Latency => (0.25, 0.0, 1e-3),
            // Errors from next to nothing: a percent of requests, or one every ten seconds,
            // before anyone calls it an error problem (one failed request in a scrape of a
            // quiet service is already half a percent).
            Symptom::Errors => (0.5, 0.01, 0.1),
            Symptom::Success => (0.0, 0.005, 1e-6),
            Symptom::Saturation => (0.25, 0.05, 1.0),
            Symptom::Cpu => (0.25, 0.02, 1e-3),
            Symptom::Memory => (0.15, 0.02, 1e-3),
            Symptom::Disk => (0.1, 0.02, 1e-3),
            Symptom::Restarts => (0.0, 0.0, 1.0),
        };
        let floor = if fraction { points } else { absolute };
        (relative * level).max(floor).max(1e-9)
    }
}

/// The resource signals that are a symptom of a fault of `kind`, on the service it is in.
pub fn resource_symptoms(kind: FaultKind) -> &'static [Symptom] {
    match kind {
        FaultKind::MemoryLeak => &[Symptom::Memory],
        FaultKind::CpuContention | FaultKind::TrafficSpike => &[Symptom::Cpu],
        FaultKind::DiskFull => &[Symptom::Disk],
        FaultKind::ExceptionBurst
        | FaultKind::DependencyDown
        | FaultKind::WrongReturnValue
        | FaultKind::NetworkDelay
        | FaultKind::ConnectionPoolExhaustion
        | FaultKind::BadDeploy
        | FaultKind::ConfigError
        | FaultKind::Unknown => &[],
    }
}
