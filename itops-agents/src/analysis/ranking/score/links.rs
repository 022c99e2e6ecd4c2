//! How a service's trouble points at a dependency: the links blame flows along.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::Duration;

use super::{peers, traces, Scored, ONSET_SLACK};
use crate::analysis::signal_kind::SignalKind;

/// The dependency whose calls from `caller` take longer in transit (delay on the way there
/// or back, which the dependency's own spans do not show), with how many ms longer. Time
/// around calls also grows when the caller itself is slow, so one dependency counts only
/// when its calls grew clearly more than the caller's other calls: half as much again, or,
/// when the caller's own resources changed (`resource`), four times as much.
pub(super) fn transit_culprit<'t>(
    caller: &str,
    resource: f64,
    traces: &'t traces::TraceAnalysis,
) -> Option<(&'t str, f64)> {
    let margin = if resource >= 1.0 { 4.0 } else { 1.5 };
    let grew = |e: &traces::EdgeAnomaly| (e.transit_ms.1 - e.transit_ms.0).max(0.0);
    let mut calls: Vec<(&str, f64, bool)> = traces
        .edges
        .iter()
        .filter(|((c, _), _)| c == caller)
        .map(|((_, d), e)| (d.as_str(), grew(e), e.transit > 0.0))
        .collect();
    if calls.len() < 2 {
        return None;
    }
    calls.sort_by(|a, b| b.1.total_cmp(&a.1));
    let (first, second) = (calls[0], calls[1]);
    (first.2 && first.1 >= margin * second.1).then_some((first.0, first.1))
}

/// How much longer calls to `service` take in transit, from its callers' side (compressed
/// strength): counted from a caller whose calls to it grew clearly more than its other
/// calls, or when two or more callers see them grow (then it is not one caller's doing).
pub(super) fn incoming_transit(
    service: &str,
    traces: &traces::TraceAnalysis,
    culprits: &HashMap<&str, &str>,
) -> f64 {
    let rising: Vec<(&str, f64)> = rising_into(service, traces)
        .map(|(caller, e)| (caller, e.transit))
        .collect();
    let singled_out = rising
        .iter()
        .filter(|(caller, _)| culprits.get(caller) == Some(&service))
        .map(|(_, t)| *t)
        .fold(0.0, f64::max);
    let shared = if rising.len() >= 2 {
        rising.iter().map(|(_, t)| *t).fold(0.0, f64::max)
    } else {
        0.0
    };
    singled_out.max(shared)
}

/// The callers whose calls to `service` take longer in transit, with their edges.
pub(super) fn rising_into<'t>(
    service: &'t str,
    traces: &'t traces::TraceAnalysis,
) -> impl Iterator<Item = (&'t str, &'t traces::EdgeAnomaly)> {
    traces
        .edges
        .iter()
        .filter(move |((_, callee), e)| callee == service && e.transit > 0.0)
        .map(|((caller, _), e)| (caller.as_str(), e))
}

/// How strongly `caller`'s trouble points at `dependency` (0–1), and why.
pub(super) fn link(
    caller: &Scored<'_>,
    dependency: &Scored<'_>,
    traces: &traces::TraceAnalysis,
    named: &BTreeMap<(String, String), f64>,
    named_calls: &BTreeSet<(String, String)>,
) -> (f64, &'static str) {
    let mut best = (0.0, "");
    let mut consider = |w: f64, why: &'static str| {
        if w > best.0 {
            best = (w, why);
        }
    };
    if let Some(share) = caller
        .profile
        .logs
        .map(|logs| logs.blames(dependency.service))
        .filter(|share| *share > 0.0)
    {
        consider(share.max(0.3), "its failing messages name it");
    }
    // Answers it rejects as invalid: the dependency answered, and what it sent was wrong
    // (unless the caller itself just changed, and with it what it accepts).
    let rejects = caller
        .profile
        .logs
        .is_some_and(|l| l.rejects(dependency.service));
    if rejects && caller.change_weight == 0.0 {
        consider(0.8, "its failing messages reject its answers as invalid");
    }
    let named_share = named
        .get(&(caller.service.to_string(), dependency.service.to_string()))
        .copied();
    if let Some(share) = named_share {
        consider(share.max(0.3), "its failing or slower calls to it name it");
    }
    if caller
        .transit
        .is_some_and(|(culprit, _)| culprit == dependency.service)
    {
        consider(
            1.0,
            "calls to it take longer in transit than its other calls",
        );
    }
    if let Some(edge) = traces
        .edges
        .get(&(caller.service.to_string(), dependency.service.to_string()))
    {
        if edge.stopped {
            // Calls stop when the dependency is gone, or when the caller fails before it
            // gets to make them. Its own failures tell which: they name the dependency in
            // the first case; a dependency that stopped altogether says so itself.
            let says_why = caller
                .profile
                .logs
                .is_none_or(|l| l.blames(dependency.service) > 0.0);
            let weight = if says_why || dependency.stopped {
                0.8
            } else {
                0.3
            };
            consider(weight, "calls to it stopped");
        }
        // Calls to the dependency take longer, and they account for much of the time the
        // caller's requests gained: that latency is the dependency's.
        if let Some(t) = caller.profile.traces.filter(|_| edge.call > 0.0) {
            let gained = t.span_counts.1 as f64 * (t.total_mean_ms.1 - t.total_mean_ms.0);
            let via = edge.incident_calls as f64 * (edge.call_mean_ms.1 - edge.call_mean_ms.0);
            if gained > 0.0 && via >= 0.3 * gained && caller.propagating > 0.0 {
                consider((via / gained).min(1.0), "its calls to it take longer");
            }
        }
    }
    // Calling a dependency whose own health changed: only its local evidence counts (a
    // dependency that merely gets fewer requests because its caller fails is not a cause).
    // A caller with no spans of its own while others have them is outside the traced
    // system (a client, a probe, a gateway): its requests enter where the traces begin.
    let enters =
        !traces.traced.contains(caller.service) && traces.entries.contains(dependency.service);
    let traced_call = traces
        .callees
        .get(caller.service)
        .is_some_and(|c| c.contains(dependency.service));
    let calls = enters || named_share.is_some() || traced_call;
    // A dependency whose trouble began clearly later cannot explain the caller's. The links
    // above see the calls or the messages themselves, so they stand unless it began much
    // later (onsets are estimates); this one only infers, so a little later is enough.
    let later_by = match (caller.onset, dependency.onset) {
        (Some(c), Some(d)) => d - c,
        _ => Duration::zero(),
    };
    if later_by > Duration::minutes(5) {
        return (0.0, "");
    }
    if calls && (dependency.local >= 1.0 || dependency.stopped) && later_by <= ONSET_SLACK * 2 {
        // A caller outside the traced system has no work of its own to fail at: all of
        // its trouble is where its requests enter, however much larger it looks.
        let relative = if enters {
            1.0
        } else {
            dependency.local / caller.propagating.max(1.0)
        };
        consider(
            0.5 * relative.clamp(0.3, 1.0),
            "it calls it and its own signals changed",
        );
    }
    // A failing caller that did not change itself, calling a dependency that changed just
    // before its failures began: a release that changed what the dependency answers breaks
    // its callers, not itself.
    let known_call = traced_call
        || named_calls.contains(&(caller.service.to_string(), dependency.service.to_string()));
    let failing = caller.parts.metric_propagating > 0.0 || caller.parts.log > 0.0;
    if known_call && failing && caller.change_weight == 0.0 && dependency.change_weight > 0.0 {
        consider(
            0.6 * dependency.change_weight,
            "it changed just before those failures began",
        );
    }
    // Without traces nothing says who calls whom: a service that went down as another
    // began to fail is the likeliest cause of its failures (its callers are refused).
    if traces.traced.is_empty() && dependency.down && failing && later_by <= ONSET_SLACK {
        consider(0.5, "it went down as those failures began");
    }
    // Without traces, while every service's traffic collapsed together (clients held up
    // somewhere): a service whose requests fell against the rest lost them to the one
    // whose requests rose against the rest, where they are held up (retried, resent).
    if traces.traced.is_empty()
        && caller.profile.shared.collapsed()
        && relative_rate(caller) < 0.0
        && relative_rate(dependency) > 0.0
    {
        consider(
            0.5,
            "its traffic held up there as every service's collapsed",
        );
    }
    best
}

/// The signed z of a service's request rate against its peers' (0 when it did not move).
fn relative_rate(service: &Scored<'_>) -> f64 {
    service
        .profile
        .series
        .iter()
        .filter(|s| s.kind == SignalKind::Throughput && s.metric.ends_with(peers::RELATIVE_SUFFIX))
        .map(|s| s.z)
        .fold(0.0, |a: f64, z| if z.abs() > a.abs() { z } else { a })
}
