//! Which kind of fault a service's evidence points to: every signal casts weighted votes.

use std::collections::BTreeMap;

use itops_core::FaultKind;

use crate::analysis::ranking::Profile;
use crate::analysis::signal_kind::SignalKind;

/// Words in new or failing log messages, and the fault each suggests.
const LOG_CUES: &[(&[&str], FaultKind, f64)] = &[
    (
        &[
            "out of memory",
            "outofmemory",
            "oom",
            "heap space",
            "memory limit",
            "cannot allocate",
        ],
        FaultKind::MemoryLeak,
        2.5,
    ),
    (
        &[
            "no space left",
            "disk full",
            "enospc",
            "disk quota",
            "filesystem full",
            "no space",
        ],
        FaultKind::DiskFull,
        3.0,
    ),
    (
        &[
            "pool exhausted",
            "too many connections",
            "connection limit",
            "pool",
            "could not obtain connection",
            "max connections",
        ],
        FaultKind::ConnectionPoolExhaustion,
        2.0,
    ),
    (
        &[
            "connection refused",
            "unreachable",
            "unavailable",
            "no route to host",
            "unknown host",
            "name resolution",
            "econnrefused",
            "503",
        ],
        FaultKind::DependencyDown,
        1.5,
    ),
    (
        &["timeout", "timed out", "deadline exceeded", "slow response"],
        FaultKind::NetworkDelay,
        1.0,
    ),
    (
        &[
            "exception",
            "traceback",
            "panic",
            "nullpointer",
            "null pointer",
            "stack trace",
            "unhandled",
        ],
        FaultKind::ExceptionBurst,
        1.5,
    ),
    (
        &[
            "config",
            "configuration",
            "invalid setting",
            "property",
            "missing key",
            "parse error",
        ],
        FaultKind::ConfigError,
        1.5,
    ),
    (
        &[
            "invalid response",
            "unexpected value",
            "validation failed",
            "mismatch",
            "corrupt",
            "checksum",
        ],
        FaultKind::WrongReturnValue,
        1.5,
    ),
];

/// The most likely fault kind of `profile`, and the share of the votes it got (0–1).
pub(crate) fn infer(profile: &Profile<'_>) -> (FaultKind, f64) {
    let mut votes: BTreeMap<FaultKind, f64> = BTreeMap::new();
    let mut vote = |kind: FaultKind, weight: f64| {
        if weight > 0.0 && weight.is_finite() {
            *votes.entry(kind).or_default() += weight;
        }
    };

    for s in &profile.series {
        let up = s.z > 0.0;
        match (s.kind, up) {
            (SignalKind::Cpu, true) => vote(FaultKind::CpuContention, s.score),
            (SignalKind::Memory, true) => {
                let leak_shape =
                    1.0 + f64::from(u8::from(s.trend > 0.05)) + f64::from(u8::from(s.resets > 0));
                vote(FaultKind::MemoryLeak, s.score * leak_shape);
            }
            (SignalKind::Disk, true) => vote(FaultKind::DiskFull, s.score),
            (SignalKind::Network, _) => vote(FaultKind::NetworkDelay, s.score * 0.8),
            (SignalKind::Saturation, true) => vote(FaultKind::ConnectionPoolExhaustion, s.score),
            (SignalKind::Throughput, true) => vote(FaultKind::TrafficSpike, s.score),
            (SignalKind::Throughput, false) => vote(FaultKind::DependencyDown, s.score * 0.5),
            (SignalKind::Errors, true) => vote(FaultKind::ExceptionBurst, s.score * 0.6),
            (SignalKind::Latency, true) => vote(FaultKind::NetworkDelay, s.score * 0.4),
            (SignalKind::Restarts, true) => {
                vote(FaultKind::MemoryLeak, s.score * 0.6);
                vote(FaultKind::ExceptionBurst, s.score * 0.3);
            }
            _ => {}
        }
        if s.stopped {
            vote(FaultKind::DependencyDown, 0.5);
        }
    }

    if let Some(logs) = profile.logs {
        vote(FaultKind::ExceptionBurst, 0.4 * logs.score);
        if logs.stopped {
            vote(FaultKind::DependencyDown, 2.0);
        }
        let texts: Vec<String> = logs
            .new_templates
            .iter()
            .take(10)
            .map(|t| t.sample.to_lowercase())
            .collect();
        for (words, kind, weight) in LOG_CUES {
            if texts.iter().any(|t| words.iter().any(|w| t.contains(w))) {
                vote(*kind, *weight);
            }
        }
    }

    if let Some(traces) = profile.traces {
        vote(FaultKind::ExceptionBurst, traces.origin_errors);
        vote(FaultKind::NetworkDelay, 0.5 * traces.self_latency);
        if traces.stopped {
            vote(FaultKind::DependencyDown, 2.0);
        }
    }

    for change in &profile.changes {
        match change.kind.to_lowercase().as_str() {
            "deploy" | "deployment" | "release" | "rollout" => vote(FaultKind::BadDeploy, 3.0),
            "config" | "configuration" | "flag" | "feature_flag" => {
                vote(FaultKind::ConfigError, 3.0)
            }
            "scale" | "scaling" => vote(FaultKind::CpuContention, 0.5),
            _ => {}
        }
    }

    let total: f64 = votes.values().sum();
    match votes.into_iter().max_by(|a, b| a.1.total_cmp(&b.1)) {
        Some((kind, weight)) if total > 0.5 => (kind, weight / total),
        _ => (FaultKind::Unknown, 0.0),
    }
}
