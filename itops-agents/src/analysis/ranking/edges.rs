//! Calls seen in metric names. A caller often measures its calls to each dependency in a
//! series of its own that names it (`calls_to_payments_errors`, `redis_client_latency`,
//! `call_to_cart_success_rate`): when such a series fails or slows down, the caller's
//! trouble points at the service it names, as a failing log line that names a dependency
//! does. A series that names the *caller* of the service it belongs to (`from`, `source`,
//! `client`) is the service's own view of the requests it serves, and is left as it is.

use std::collections::{BTreeMap, BTreeSet};

use crate::analysis::ranking::metrics::SeriesAnomaly;
use crate::analysis::signal_kind::{words, SignalKind};

/// Words before a service's name that make it the caller rather than the callee.
const FROM_WORDS: &[&str] = &["from", "source", "src", "caller", "client", "downstream"];

/// The services' names as words, split once.
struct Names<'a> {
    names: Vec<(&'a str, Vec<String>)>,
}

impl<'a> Names<'a> {
    fn new(services: &'a [String]) -> Self {
        Self {
            names: services
                .iter()
                .map(|s| (s.as_str(), words(s)))
                .filter(|(_, w)| !w.is_empty())
                .collect(),
        }
    }

    /// The service (other than `own`) that `metric` names as the one `own` calls, if any:
    /// the longest name found as a run of the metric's words, unless a word before it
    /// makes it the caller.
    fn callee(&self, own: &str, metric: &str) -> Option<&'a str> {
        let metric_words = words(metric);
        let mut best: Option<(&'a str, usize, usize)> = None;
        for (service, name) in self.names.iter().filter(|(s, _)| *s != own) {
            if name.len() > metric_words.len() || best.is_some_and(|(_, len, _)| name.len() <= len)
            {
                continue;
            }
            if let Some(at) = metric_words
                .windows(name.len())
                .position(|w| w == name.as_slice())
            {
                best = Some((service, name.len(), at));
            }
        }
        let (service, _, at) = best?;
        let before = at.checked_sub(1).map(|i| metric_words[i].as_str());
        if before.is_some_and(|w| FROM_WORDS.contains(&w)) {
            return None;
        }
        Some(service)
    }
}

/// For each caller and the service it calls, the share (0–1) of the caller's inherited
/// trouble (its strongest failing or slower series) that its series naming that service
/// carry. Only failing and slower series count: a rate that names a dependency moves with
/// the caller's own traffic.
pub(crate) fn from_metrics(
    series: &[SeriesAnomaly],
    services: &[String],
) -> BTreeMap<(String, String), f64> {
    let symptom = |s: &SeriesAnomaly| {
        matches!(s.kind, SignalKind::Errors | SignalKind::Latency) && s.score > 0.0
    };
    let names = Names::new(services);
    let mut strongest: BTreeMap<&str, f64> = BTreeMap::new();
    let mut named: BTreeMap<(String, String), f64> = BTreeMap::new();
    for s in series.iter().filter(|s| symptom(s)) {
        let top = strongest.entry(s.service.as_str()).or_default();
        *top = top.max(s.score);
        if let Some(callee) = names.callee(&s.service, &s.metric) {
            let edge = named
                .entry((s.service.clone(), callee.to_string()))
                .or_default();
            *edge = edge.max(s.score);
        }
    }
    named
        .into_iter()
        .filter_map(|((caller, callee), score)| {
            let top = strongest.get(caller.as_str()).copied().unwrap_or(0.0);
            (top > 0.0).then(|| ((caller, callee), (score / top).min(1.0)))
        })
        .collect()
}

/// Every (caller, callee) pair that some series' name says is a call, whatever the series
/// did (`call_to_cart_success_rate` on checkout: checkout calls cart).
pub(crate) fn named_calls<'a>(
    series: impl IntoIterator<Item = (&'a str, &'a str)>,
    services: &[String],
) -> BTreeSet<(String, String)> {
    let names = Names::new(services);
    series
        .into_iter()
        .filter_map(|(service, metric)| {
            names
                .callee(service, metric)
                .map(|callee| (service.to_string(), callee.to_string()))
        })
        .collect()
}

/// Words that name a measure of whether a service is up and serving: ready or available
/// replicas or pods, a scrape target's `up`, a load balancer's healthy targets.
const READINESS_WORDS: &[&str] = &["ready", "available", "up", "healthy"];

/// Whether a service went down in the incident, from its own series: it restarted over and
/// over, or a measure of its readiness fell to half or less. Such a service is a cause for
/// the failures of others that begin with it even where no call graph says who calls it:
/// its callers' requests are refused. (Its traffic falling is not enough: a service whose
/// callers fail before they reach it gets fewer requests too.)
pub(super) fn went_down(series: &[&SeriesAnomaly]) -> bool {
    series.iter().any(|s| restarted(s) || unready(s))
}

/// The series counts restarts, and they rose clearly.
pub(super) fn restarted(s: &SeriesAnomaly) -> bool {
    s.kind == SignalKind::Restarts && s.z > 0.0 && s.score >= 1.0
}

/// The series measures readiness (ready or available replicas, `up`), and it fell to half
/// or less.
pub(super) fn unready(s: &SeriesAnomaly) -> bool {
    s.kind == SignalKind::Other
        && s.score >= 1.0
        && s.baseline_median > 0.0
        && s.incident_median <= 0.5 * s.baseline_median
        && words(&s.metric)
            .iter()
            .any(|w| READINESS_WORDS.contains(&w.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn failing(service: &str, metric: &str, kind: SignalKind, score: f64) -> SeriesAnomaly {
        SeriesAnomaly {
            service: service.into(),
            metric: metric.into(),
            kind,
            score,
            z: score,
            baseline_median: 1.0,
            incident_median: 2.0,
            incident_extreme: 2.0,
            onset: None,
            trend: 0.0,
            resets: 0,
            stopped: false,
        }
    }

    #[test]
    fn a_metric_names_the_service_its_calls_go_to() {
        let services = names(&["cart", "cart-db", "checkout", "frontend"]);
        let known = Names::new(&services);
        let named_callee = |own: &str, metric: &str, _: &[String]| known.callee(own, metric);
        assert_eq!(
            named_callee("checkout", "call_to_cart_success_rate", &services),
            Some("cart")
        );
        // The longest name wins: cart-db, not cart.
        assert_eq!(
            named_callee("cart", "cart_db_client_latency_seconds", &services),
            Some("cart-db")
        );
        // Its own name, and its callers' names, are not calls it makes.
        assert_eq!(
            named_callee("checkout", "checkout_errors_total", &services),
            None
        );
        assert_eq!(
            named_callee("checkout", "call_from_frontend_success_rate", &services),
            None
        );
        // A name inside another word is not a mention.
        assert_eq!(
            named_callee("frontend", "shopping_cartography_latency", &services),
            None
        );
    }

    #[test]
    fn failing_calls_that_name_a_dependency_point_at_it() {
        let services = names(&["checkout", "catalog", "frontend"]);
        let series = vec![
            failing("checkout", "errors_total", SignalKind::Errors, 4.0),
            failing(
                "checkout",
                "call_to_catalog_success_rate",
                SignalKind::Errors,
                3.0,
            ),
            // Its calls to the frontend are not failing (throughput only moved).
            failing(
                "checkout",
                "call_to_frontend_rate",
                SignalKind::Throughput,
                5.0,
            ),
        ];
        let edges = from_metrics(&series, &services);
        let share = edges
            .get(&("checkout".to_string(), "catalog".to_string()))
            .copied();
        assert_eq!(share, Some(0.75));
        assert_eq!(edges.len(), 1);
    }

    #[test]
    fn a_service_is_down_when_it_keeps_restarting_or_its_readiness_falls_not_its_traffic() {
        let fell = |metric: &str, kind: SignalKind| SeriesAnomaly {
            baseline_median: 3.0,
            incident_median: 0.0,
            z: -6.0,
            ..failing("store", metric, kind, 2.0)
        };
        let restarts = failing("store", "container_restarts", SignalKind::Restarts, 2.0);
        assert!(went_down(&[&restarts]));
        assert!(went_down(&[&fell("ready_pods", SignalKind::Other)]));
        assert!(went_down(&[&fell("up", SignalKind::Other)]));
        // A load balancer's healthy targets, read as they are classified.
        assert!(went_down(&[&fell(
            "HealthyHostCount",
            crate::analysis::signal_kind::classify("HealthyHostCount")
        )]));
        // Fewer requests, or less memory free, is not being down.
        assert!(!went_down(&[&fell("request_rate", SignalKind::Throughput)]));
        assert!(!went_down(&[&fell(
            "memory_available_bytes",
            SignalKind::Memory
        )]));
        // Readiness that dipped by a third (one replica of three) is not down either.
        let dipped = SeriesAnomaly {
            incident_median: 2.0,
            ..fell("ready_replicas", SignalKind::Other)
        };
        assert!(!went_down(&[&dipped]));
    }

    #[test]
    fn every_series_that_names_a_callee_tells_of_a_call_whatever_it_did() {
        let services = names(&["cart", "checkout", "frontend"]);
        let calls = named_calls(
            [
                ("checkout", "calls_to_cart_success_rate_percent"),
                ("checkout", "success_rate_percent"),
                ("cart", "call_from_frontend_success_rate_percent"),
            ],
            &services,
        );
        let expected: BTreeSet<(String, String)> =
            [("checkout".to_string(), "cart".to_string())].into();
        assert_eq!(calls, expected);
    }
}
