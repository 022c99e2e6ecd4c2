//! Fixes known to be temporary, and the lasting fix to propose after them.

use chrono::{DateTime, Utc};
use itops_core::telemetry::ChangeEvent;
use itops_core::FaultKind;

use super::judge::SignalCheck;

/// An executed action that only holds the fault off, and what would end it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Temporary {
    /// Why the fix does not last.
    pub(crate) why: String,
    /// The lasting fix to make.
    pub(crate) follow_up: String,
}

/// Whether running `action` on the service with a fault of `kind` only holds it off (a
/// restart frees leaked memory or connections; the leak goes on). `None` when the fix
/// lasts, or a lasting fix (a rollback of the same service) ran too.
pub(crate) fn temporary(
    kind: FaultKind,
    service: &str,
    executed: &[(String, String)],
    last_deploy: Option<&ChangeEvent>,
) -> Option<Temporary> {
    let ran = |id: &str| executed.iter().any(|(a, t)| a == id && t == service);
    if !ran("restart_service") || ran("rollback_deployment") {
        return None;
    }
    let what = match kind {
        FaultKind::MemoryLeak => "memory",
        FaultKind::ConnectionPoolExhaustion => "connections",
        _ => return None,
    };
    let rollback = match last_deploy {
        Some(change) => format!(
            "roll {service} back from {} (deployed {}) with rollback_deployment if the leak came \
             with that release",
            change.version.as_deref().unwrap_or("its current release"),
            change.at.format("%Y-%m-%d %H:%M UTC")
        ),
        None => format!(
            "roll {service} back with rollback_deployment if the leak came with its latest release"
        ),
    };
    Some(Temporary {
        why: format!(
            "restart_service only frees the leaked {what} on {service}; the leak goes on and \
             {what} will climb back"
        ),
        follow_up: format!(
            "{rollback}, or find and fix the leak (a heap or connection profile from one \
             replica, the change that began it); until then expect {service} to need \
             restarting again"
        ),
    })
}

/// The follow-up for a symptom that climbs again after the fix, as it did during the
/// incident: the cause is still there.
pub(crate) fn regrowth(check: &SignalCheck) -> Temporary {
    Temporary {
        why: format!(
            "{} {} climbs again since the fix ({} now, {} before the incident), as it did \
             during it",
            check.service, check.metric, check.after, check.baseline
        ),
        follow_up: format!(
            "find what keeps growing {} on {} (a leak: the change that began it, a profile) \
             and roll it back or fix it before it reaches {} again",
            check.metric, check.service, check.during
        ),
    }
}

/// The follow-up for cpu still above what the current traffic explains once users no
/// longer feel it (more replicas absorb costlier requests): the cause is still there.
pub(crate) fn held_off(check: &SignalCheck) -> Temporary {
    Temporary {
        why: format!(
            "{} {} is still {} where {} would be expected at the current traffic (it was {}):              the added capacity holds the cause off",
            check.service, check.metric, check.after, check.expected, check.during
        ),
        follow_up: format!(
            "find what makes each request to {} costlier than before (a hot code path, a noisy              neighbour, abusive traffic such as credential stuffing) and remove it, then scale              back",
            check.service
        ),
    }
}

/// The latest deploy of `service` at or before `before`, from `changes`.
pub(crate) fn last_deploy<'a>(
    changes: &'a [ChangeEvent],
    service: &str,
    before: DateTime<Utc>,
) -> Option<&'a ChangeEvent> {
    changes
        .iter()
        .filter(|c| c.service == service && c.kind == "deploy" && c.at <= before)
        .max_by_key(|c| c.at)
}
