//! Broken call patterns (after Nezha, FSE'23): the calls a service makes for each request it
//! handles. A request of one kind (an operation) makes much the same calls every time, so
//! the calls per request hold steady whatever the load. When a service's code fails part
//! way through (an exception, a wrong value it then acts on), its requests stop making some
//! of the calls they used to: a pattern that stops appearing. A slow or overloaded service
//! still makes the same calls, only later, so its patterns hold. Also the coarser view of
//! the same idea: the mix of the services a service calls.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use itops_core::telemetry::{Span, SpanStatus};

use crate::analysis::ranking::traces::EdgeAnomaly;
use crate::analysis::ranking::window::Windows;
use crate::analysis::stats::ln_fewer_by_chance;

/// The strongest broken pattern of one service.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct BrokenPattern {
    /// Compressed strength (0 when nothing broke).
    pub(crate) strength: f64,
    /// The operation whose requests changed.
    pub(crate) operation: String,
    /// The call they make less often: `service operation`.
    pub(crate) call: String,
    /// Calls per request of the operation: baseline, incident.
    pub(crate) per_request: (f64, f64),
}

/// Fewest requests of an operation, in each window, its pattern is judged on.
const MIN_REQUESTS: usize = 10;
/// Share of the expected calls that must be missing.
const MIN_DROP: f64 = 0.5;
/// The chance, over all the calls of all the operations judged in one incident, that a
/// pattern reads as broken when nothing changed: each call is judged at this over the
/// number judged (Bonferroni).
const FAMILY_CHANCE: f64 = 0.01;

type Key<'a> = (&'a str, &'a str);

/// A count in the baseline and in the incident.
type Counts = (usize, usize);

/// One operation's requests and the calls made under them, in both windows.
#[derive(Default)]
struct Operation<'a> {
    requests: Counts,
    calls: BTreeMap<Key<'a>, Counts>,
}

/// Adds one to the baseline's or the incident's count.
fn tally(counts: &mut Counts, baseline: bool) {
    if baseline {
        counts.0 += 1;
    } else {
        counts.1 += 1;
    }
}

/// Each service's strongest broken pattern, judged on the spans of both windows (`children`
/// lists each span's child spans by index) over the requests that went through without an
/// error. A service one of whose callers broke its pattern as well is weakened by half: what
/// it was asked may have changed, so its own requests went other ways.
pub(crate) fn broken_patterns(
    spans: &[Span],
    children: &[Vec<usize>],
    windows: &Windows,
    callees: &BTreeMap<String, BTreeSet<String>>,
) -> HashMap<String, BrokenPattern> {
    let mut operations: BTreeMap<Key<'_>, Operation<'_>> = BTreeMap::new();
    for (p, span) in spans.iter().enumerate() {
        let baseline = windows.baseline.contains(span.start);
        if !baseline && !windows.incident.contains(span.start) {
            continue;
        }
        let kids = children.get(p).map(Vec::as_slice).unwrap_or_default();
        // A request that failed (itself or a call it made) stops early for that reason,
        // which its errors already tell: the pattern is that of the requests that went
        // through without an error.
        if span.status == SpanStatus::Error
            || kids.iter().any(|&k| spans[k].status == SpanStatus::Error)
        {
            continue;
        }
        let operation = operations
            .entry((span.service.as_str(), span.operation.as_str()))
            .or_default();
        tally(&mut operation.requests, baseline);
        for &k in kids {
            let call = (spans[k].service.as_str(), spans[k].operation.as_str());
            tally(operation.calls.entry(call).or_default(), baseline);
        }
    }
    // The operations with enough requests on both sides, and the calls they made before.
    let judged: Vec<(&Key<'_>, &Operation<'_>)> = operations
        .iter()
        .filter(|(_, o)| o.requests.0 >= MIN_REQUESTS && o.requests.1 >= MIN_REQUESTS)
        .collect();
    let tests = judged
        .iter()
        .flat_map(|(_, o)| o.calls.values())
        .filter(|(n0, _)| *n0 > 0)
        .count();
    let ln_bar = (FAMILY_CHANCE / tests.max(1) as f64).ln();
    let mut out: HashMap<String, BrokenPattern> = HashMap::new();
    for (name, operation) in judged {
        let (before, during) = operation.requests;
        // The incident's share of the requests that could have made the calls.
        let share = during as f64 / (before + during) as f64;
        for (call, &(n0, n1)) in &operation.calls {
            let rate0 = n0 as f64 / before as f64;
            let rate1 = n1 as f64 / during as f64;
            if n0 == 0 || rate1 > (1.0 - MIN_DROP) * rate0 {
                continue;
            }
            // How likely so few calls were by chance, the requests of each window given.
            let ln_p = ln_fewer_by_chance(n0 as u64, n1 as u64, share);
            if ln_p > ln_bar {
                continue;
            }
            // On the scale of standard deviations (the normal tail's), against the bar.
            let z = (-2.0 * ln_p).sqrt();
            let strength = (z / (-2.0 * ln_bar).sqrt()).min(1_000.0).ln_1p();
            let best = out.entry(name.0.to_string()).or_default();
            if strength > best.strength {
                *best = BrokenPattern {
                    strength,
                    operation: name.1.to_string(),
                    call: format!("{} {}", call.0, call.1),
                    per_request: (rate0, rate1),
                };
            }
        }
    }
    let broke: BTreeSet<String> = out.keys().cloned().collect();
    for (service, broken) in &mut out {
        let caller_broke = callees.iter().any(|(caller, called)| {
            caller != service && called.contains(service) && broke.contains(caller)
        });
        if caller_broke {
            broken.strength *= 0.5;
        }
    }
    out
}

/// How much the mix of `caller`'s outgoing calls changed between the windows: for each
/// callee, the Poisson z of its incident calls against what its baseline share of the
/// caller's calls predicts (the caller's own load cancels out). A service whose code or
/// configuration changed often calls other things, or the same things in other
/// proportions (Nezha's broken patterns); a slow or failing service keeps its mix. Judged
/// on at least 50 calls on each side and two callees; compressed, 0 below a z of 5.
pub(crate) fn call_mix(
    caller: &str,
    edges: &BTreeMap<(String, String), EdgeAnomaly>,
) -> (f64, Option<(String, f64, f64)>) {
    let calls: Vec<(&str, f64, f64)> = edges
        .iter()
        .filter(|((c, _), _)| c == caller)
        .map(|((_, d), e)| (d.as_str(), e.baseline_calls as f64, e.incident_calls as f64))
        .collect();
    let base: f64 = calls.iter().map(|c| c.1).sum();
    let inc: f64 = calls.iter().map(|c| c.2).sum();
    if calls.len() < 2 || base < 50.0 || inc < 50.0 {
        return (0.0, None);
    }
    let worst = calls
        .iter()
        .map(|(callee, b, n)| {
            let expected = inc * b / base;
            let z = (n - expected).abs() / (expected + 1.0).sqrt();
            (z, callee, b / base, n / inc)
        })
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match worst {
        Some((z, callee, before, after)) if z >= 5.0 => (
            (z / 5.0).min(1_000.0).ln_1p(),
            Some((callee.to_string(), before, after)),
        ),
        _ => (0.0, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::ranking::window::around;
    use chrono::{DateTime, Duration, TimeZone, Utc};
    use itops_core::telemetry::TimeRange;

    fn t(seconds: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::seconds(seconds)
    }

    struct Traces {
        spans: Vec<Span>,
    }

    impl Traces {
        /// One request of `service` `operation` at `at`, making `calls` (service, operation,
        /// failed); `failed` marks the request itself.
        fn request(
            &mut self,
            at: i64,
            (service, operation): (&str, &str),
            calls: &[(&str, &str, bool)],
            failed: bool,
        ) {
            let trace = format!("t{}", self.spans.len());
            let status = |failed: bool| {
                if failed {
                    SpanStatus::Error
                } else {
                    SpanStatus::Ok
                }
            };
            self.spans.push(Span {
                trace_id: trace.clone(),
                span_id: "root".into(),
                parent_span_id: None,
                service: service.into(),
                operation: operation.into(),
                start: t(at),
                duration_ns: 5_000_000,
                status: status(failed),
            });
            for (i, (callee, op, call_failed)) in calls.iter().enumerate() {
                self.spans.push(Span {
                    trace_id: trace.clone(),
                    span_id: format!("c{i}"),
                    parent_span_id: Some("root".into()),
                    service: (*callee).into(),
                    operation: (*op).into(),
                    start: t(at),
                    duration_ns: 1_000_000,
                    status: status(*call_failed),
                });
            }
        }

        fn judge(&self) -> HashMap<String, BrokenPattern> {
            let mut children = vec![Vec::new(); self.spans.len()];
            let mut callees: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            let mut root = 0;
            for (i, s) in self.spans.iter().enumerate() {
                if s.parent_span_id.is_none() {
                    root = i;
                } else {
                    children[root].push(i);
                    if s.service != self.spans[root].service {
                        callees
                            .entry(self.spans[root].service.clone())
                            .or_default()
                            .insert(s.service.clone());
                    }
                }
            }
            let windows = around(
                t(600),
                TimeRange {
                    start: t(0),
                    end: t(1_200),
                },
            );
            broken_patterns(&self.spans, &children, &windows, &callees)
        }
    }

    #[test]
    fn a_caller_s_load_changing_is_not_a_change_in_its_call_mix() {
        let edge = |b: usize, n: usize| EdgeAnomaly {
            baseline_calls: b,
            incident_calls: n,
            ..EdgeAnomaly::default()
        };
        let mut edges = BTreeMap::new();
        // Three times the traffic, the same proportions.
        edges.insert(("api".to_string(), "db".to_string()), edge(400, 1_200));
        edges.insert(("api".to_string(), "cache".to_string()), edge(100, 310));
        assert_eq!(call_mix("api", &edges).0, 0.0);
        // The cache is all but dropped.
        edges.insert(("api".to_string(), "cache".to_string()), edge(100, 10));
        let (strength, moved) = call_mix("api", &edges);
        assert!(strength > 1.0, "{strength}");
        assert_eq!(moved.map(|m| m.0), Some("cache".to_string()));
    }

    const CHECKOUT: (&str, &str) = ("checkout", "PlaceOrder");

    #[test]
    fn requests_that_stop_making_a_call_while_nothing_fails_break_the_pattern() {
        let mut traces = Traces { spans: Vec::new() };
        // Every order prices its items and then charges the card; from t = 600 s on, most
        // orders skip the charge, and none fails.
        for i in 0..1_200 {
            let charge = i < 600 || i % 5 == 0;
            let mut calls = vec![("currency", "Convert", false)];
            if charge {
                calls.push(("payment", "Charge", false));
            }
            traces.request(i, CHECKOUT, &calls, false);
        }
        let broken = traces.judge();
        let checkout = &broken["checkout"];
        assert!(checkout.strength > 1.0, "{checkout:?}");
        assert_eq!(checkout.call, "payment Charge");
        assert_eq!(checkout.operation, "PlaceOrder");
        assert!((checkout.per_request.0 - 1.0).abs() < 1e-9);
        assert!(checkout.per_request.1 < 0.25, "{checkout:?}");
    }

    #[test]
    fn a_call_every_one_of_a_few_requests_made_and_then_none_is_a_broken_pattern() {
        // Orders are rare: one every 40 s. Each of the 15 before t = 600 s shipped its
        // order; of the 15 since, one did. Few requests, but no chance explains it.
        let mut traces = Traces { spans: Vec::new() };
        for i in (0..1_200).step_by(40) {
            let mut calls = vec![("currency", "Convert", false)];
            if i < 600 || i == 640 {
                calls.push(("shipping", "ShipOrder", false));
            }
            traces.request(i, CHECKOUT, &calls, false);
        }
        let broken = traces.judge();
        assert_eq!(broken["checkout"].call, "shipping ShipOrder", "{broken:?}");
        // A call half of them make, seen in 3 of the 15 since: chance can do that.
        let mut traces = Traces { spans: Vec::new() };
        for (n, i) in (0..1_200).step_by(40).enumerate() {
            let mut calls = vec![("currency", "Convert", false)];
            let made = if i < 600 { n % 2 == 0 } else { n % 5 == 0 };
            if made {
                calls.push(("shipping", "ShipOrder", false));
            }
            traces.request(i, CHECKOUT, &calls, false);
        }
        assert!(traces.judge().is_empty(), "{:?}", traces.judge());
    }

    #[test]
    fn more_or_less_load_with_the_same_calls_per_request_is_no_broken_pattern() {
        let mut traces = Traces { spans: Vec::new() };
        // One order every 4 s, then three every second: the same two calls each.
        for i in 0..1_200 {
            let orders = if i < 600 { usize::from(i % 4 == 0) } else { 3 };
            for _ in 0..orders {
                traces.request(
                    i,
                    CHECKOUT,
                    &[("currency", "Convert", false), ("payment", "Charge", false)],
                    false,
                );
            }
        }
        assert!(traces.judge().is_empty());
    }

    #[test]
    fn requests_cut_short_by_a_failing_call_are_left_to_the_errors() {
        let mut traces = Traces { spans: Vec::new() };
        // From t = 600 s the currency call fails in most orders and they end there,
        // failed: the errors tell this, the missing charges do not point at checkout.
        for i in 0..1_200 {
            if i >= 600 && i % 5 != 0 {
                traces.request(i, CHECKOUT, &[("currency", "Convert", true)], true);
            } else {
                traces.request(
                    i,
                    CHECKOUT,
                    &[("currency", "Convert", false), ("payment", "Charge", false)],
                    false,
                );
            }
        }
        assert!(traces.judge().is_empty());
    }

    #[test]
    fn a_service_asked_other_things_by_a_broken_caller_is_weakened() {
        let mut traces = Traces { spans: Vec::new() };
        // The frontend stops asking for ads by category (its own broken pattern); the ad
        // service, asked without categories, stops looking them up.
        for i in 0..1_200 {
            let before = i < 600;
            let mut calls = vec![("catalog", "GetProduct", false)];
            if before || i % 5 == 0 {
                calls.push(("ads", "GetAds", false));
            }
            traces.request(i, ("frontend", "Home"), &calls, false);
            let lookup: &[(&str, &str, bool)] = if before {
                &[("ads", "ByCategory", false)]
            } else {
                &[("ads", "Random", false)]
            };
            traces.request(i, ("ads", "GetAds"), lookup, false);
        }
        let broken = traces.judge();
        let (frontend, ads) = (&broken["frontend"], &broken["ads"]);
        assert!(frontend.strength > ads.strength, "{frontend:?} {ads:?}");
    }
}
