//! Which of itops's fault kinds a dataset's fault label corresponds to.

use itops_core::FaultKind;

/// Dataset fault labels (lower case, `-` and spaces read as `_`) and the kind itops should
/// name for them. A label that is not here, and is not one of itops's own kind names, has no
/// corresponding kind and is not scored for kind. Left out on purpose:
/// `network_loss` (partial loss looks like a slow network, total loss like an unreachable
/// service; the label does not say which) and the code faults with no kind of their own
/// (`misscall`, `misspara`, `paraorder`, `wrongsql`, `inconsistent`, `access`, `redis`,
/// `scaledown`).
const LABELS: &[(&[&str], FaultKind)] = &[
    (
        &[
            "cpu",
            "cpu_contention",
            "cpu_consumed",
            "cpu_load",
            "cpu_hog",
            "cpu_stress",
        ],
        FaultKind::CpuContention,
    ),
    (
        &[
            "mem",
            "memory",
            "memory_load",
            "memoryleak",
            "mem_hog",
            "memory_stress",
        ],
        FaultKind::MemoryLeak,
    ),
    (
        &["network_delay", "istio_delay", "delay", "latency"],
        FaultKind::NetworkDelay,
    ),
    (&["exception"], FaultKind::ExceptionBurst),
    (
        &["return", "wrongvalue", "wrong_value"],
        FaultKind::WrongReturnValue,
    ),
    (&["config"], FaultKind::ConfigError),
    // A paused container answers nothing: to its callers, an unreachable dependency.
    (
        &["container_pause", "pod_failure"],
        FaultKind::DependencyDown,
    ),
    (&["disk", "disk_fill"], FaultKind::DiskFull),
];

/// The kind `label` corresponds to, if any.
pub(super) fn kind_of(label: &str) -> Option<FaultKind> {
    let wanted = label.trim().to_ascii_lowercase().replace(['-', ' '], "_");
    LABELS
        .iter()
        .find(|(labels, _)| labels.contains(&wanted.as_str()))
        .map(|(_, kind)| *kind)
        .or_else(|| {
            wanted
                .parse::<FaultKind>()
                .ok()
                .filter(|k| *k != FaultKind::Unknown)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_datasets_labels_map_where_a_kind_corresponds() {
        assert_eq!(kind_of("cpu_consumed"), Some(FaultKind::CpuContention));
        assert_eq!(kind_of("CPU"), Some(FaultKind::CpuContention));
        assert_eq!(kind_of("memoryleak"), Some(FaultKind::MemoryLeak));
        assert_eq!(kind_of("istio_delay"), Some(FaultKind::NetworkDelay));
        assert_eq!(kind_of("return"), Some(FaultKind::WrongReturnValue));
        assert_eq!(kind_of("container-pause"), Some(FaultKind::DependencyDown));
        assert_eq!(kind_of("traffic_spike"), Some(FaultKind::TrafficSpike));
        assert_eq!(kind_of("network_loss"), None);
        assert_eq!(kind_of("wrongsql"), None);
        assert_eq!(kind_of("unknown"), None);
    }
}
