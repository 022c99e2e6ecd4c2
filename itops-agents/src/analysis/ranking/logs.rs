//! Log anomalies per service: error bursts, message templates never seen before the
//! incident, services that fall silent, and the services that error messages name.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use itops_core::telemetry::{LogLevel, LogRecord};

use crate::analysis::ranking::change_point;
use crate::analysis::ranking::cues;
use crate::analysis::ranking::window::{excess_z, Windows};
use crate::analysis::templates::{names_service, template};

/// What a service's logs did in the incident window.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct LogAnomaly {
    /// Compressed strength (0 for normal).
    pub(crate) score: f64,
    pub(crate) baseline_errors: u64,
    pub(crate) incident_errors: u64,
    /// Error lines the baseline rate predicts for the incident window.
    pub(crate) expected_errors: f64,
    /// Poisson z of the incident error count against the baseline rate.
    pub(crate) error_z: f64,
    /// Templates seen in the incident window and not in the baseline: (template, level, count, one line).
    pub(crate) new_templates: Vec<NewTemplate>,
    /// The service logged steadily before and (almost) nothing during the incident.
    pub(crate) stopped: bool,
    /// All its lines: baseline, incident.
    pub(crate) lines: (u64, u64),
    /// Lines the baseline rate predicts for the incident window.
    pub(crate) expected_lines: f64,
    /// Other services named in the service's new or erroring messages, with counts.
    pub(crate) mentions: BTreeMap<String, u64>,
    /// Of those, the lines that say the other service's answer came back and was rejected
    /// (an invalid or malformed response), with counts.
    pub(crate) rejected: BTreeMap<String, u64>,
    pub(crate) onset: Option<DateTime<Utc>>,
}

impl LogAnomaly {
    /// Share (0–1) of the service's extra failing lines (beyond its usual rate) that name
    /// `other`; 0 when fewer than three do.
    pub(crate) fn blames(&self, other: &str) -> f64 {
        let named = self.mentions.get(other).copied().unwrap_or(0);
        if named < 3 {
            return 0.0;
        }
        let excess = self
            .incident_errors
            .saturating_sub(self.expected_errors.round() as u64)
            .max(named)
            .max(1);
        (named as f64 / excess as f64).min(1.0)
    }

    /// Whether most of the lines that name `other` (at least three) say its answers came
    /// back wrong: invalid, malformed, not to be parsed. Such blame is believable even
    /// when `other` looks healthy, since it answered, and what it answered was wrong; a
    /// timeout or a refused connection can as well be the caller's own doing.
    pub(crate) fn rejects(&self, other: &str) -> bool {
        let named = self.mentions.get(other).copied().unwrap_or(0);
        let rejected = self.rejected.get(other).copied().unwrap_or(0);
        rejected >= 3 && 2 * rejected >= named
    }

    /// How strongly the service went quiet for the load it had (compressed, 0 when it did
    /// not): `load` is its incident request rate over its baseline rate. Fewer lines per
    /// request, with no failures logged in their place, means requests skip the work they
    /// used to log: a silently wrong path, or work that stopped. (A service whose requests
    /// fail logs the failures instead; one that gets fewer requests has a lower load.)
    /// Also returns the lines expected at that load.
    pub(crate) fn quieted(&self, load: f64) -> (f64, f64) {
        let expected = self.expected_lines * load.max(0.0);
        let observed = self.lines.1 as f64;
        let z = (expected - observed) / (expected + 1.0).sqrt();
        let strength = if expected >= 20.0 && observed < 0.7 * expected && z >= 5.0 {
            (z / 3.0).ln_1p()
        } else {
            0.0
        };
        (strength, expected)
    }

    /// The largest share of its extra failing lines the service blames on any one other
    /// service that `credible` accepts (0–1): that much of its trouble is reported as
    /// coming from elsewhere.
    pub(crate) fn blamed_share(&self, credible: impl Fn(&str) -> bool) -> f64 {
        self.mentions
            .keys()
            .filter(|other| credible(other))
            .map(|other| self.blames(other))
            .fold(0.0, f64::max)
    }
}

/// What a caller says when an answer came back and would not do: the other service
/// responded, so the fault is in what it sent. A value missing from it reads, in a line
/// that names the other service, as each runtime's null dereference.
const REJECTED_ANSWER: &[&str] = &[
    "invalid response",
    "invalid reply",
    "malformed",
    "unexpected response",
    "bad response",
    "parse response",
    "deserializ",
    "unmarshal",
    "cannot read propert",
    "nullpointerexception",
    "null pointer",
    "nil pointer",
    "nonetype",
];

/// Whether a message template says an answer was rejected (see [`REJECTED_ANSWER`]).
fn says_rejected(template: &str) -> bool {
    cues::says_any(&template.to_lowercase(), REJECTED_ANSWER)
}

/// A message template new in the incident window.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct NewTemplate {
    pub(crate) template: String,
    pub(crate) level: Option<LogLevel>,
    pub(crate) count: u64,
    pub(crate) sample: String,
}

const ERROR_WORDS: [&str; 8] = [
    "error",
    "exception",
    "fail",
    "failed",
    "fatal",
    "panic",
    "refused",
    "timeout",
];

/// Whether a record reports a failure: by level, or by its words when it has no level.
pub(crate) fn is_error(record: &LogRecord) -> bool {
    match record.level {
        Some(level) => level >= LogLevel::Error,
        None => {
            let lower = record.message.to_lowercase();
            ERROR_WORDS.iter().any(|w| lower.contains(w))
        }
    }
}

fn level_weight(level: Option<LogLevel>, error: bool) -> f64 {
    match level {
        Some(LogLevel::Fatal) | Some(LogLevel::Error) => 1.0,
        Some(LogLevel::Warn) => 0.5,
        Some(LogLevel::Info) | Some(LogLevel::Debug) => 0.15,
        None if error => 1.0,
        None => 0.3,
    }
}

/// Scores the logs of every service in `records` (which span both windows).
/// The short name messages use for a service named `<stem>-<role>` (`redis` for
/// `redis-cache`, `orders` for `orders-db`): its first word, when that word names no other
/// service, is at least four characters, and belongs to that service alone.
fn service_aliases(services: &[String]) -> HashMap<String, String> {
    let mut by_stem: HashMap<String, Vec<&String>> = HashMap::new();
    for service in services {
        if let Some((stem, _)) = service.split_once(['-', '_', '.']) {
            if stem.len() >= 4 {
                by_stem
                    .entry(stem.to_ascii_lowercase())
                    .or_default()
                    .push(service);
            }
        }
    }
    by_stem
        .into_iter()
        .filter(|(stem, owners)| {
            owners.len() == 1 && !services.iter().any(|s| s.eq_ignore_ascii_case(stem))
        })
        .filter_map(|(stem, owners)| owners.first().map(|s| ((*s).clone(), stem)))
        .collect()
}

pub(crate) fn score_logs(
    records: &[LogRecord],
    windows: &Windows,
    services: &[String],
) -> HashMap<String, LogAnomaly> {
    /// Level, whether the first line was an error, count, one line.
    type TemplateStats = (Option<LogLevel>, bool, u64, String);
    #[derive(Default)]
    struct Acc {
        baseline_total: u64,
        incident_total: u64,
        baseline_errors: u64,
        incident_errors: u64,
        baseline_templates: HashSet<String>,
        /// Each incident template's position in `stats`.
        incident_templates: HashMap<String, usize>,
        stats: Vec<TemplateStats>,
        /// Each incident line: when, its template, whether it reports a failure.
        lines: Vec<(DateTime<Utc>, usize, bool)>,
    }
    let mut per_service: HashMap<&str, Acc> = HashMap::new();
    for r in records {
        let in_baseline = windows.baseline.contains(r.at);
        if !in_baseline && !windows.incident.contains(r.at) {
            continue;
        }
        let acc = per_service.entry(r.service.as_str()).or_default();
        let error = is_error(r);
        let tpl = template(&r.message);
        if in_baseline {
            acc.baseline_total += 1;
            acc.baseline_errors += u64::from(error);
            acc.baseline_templates.insert(tpl);
        } else {
            acc.incident_total += 1;
            acc.incident_errors += u64::from(error);
            let next = acc.stats.len();
            let index = *acc.incident_templates.entry(tpl).or_insert(next);
            if index == next {
                acc.stats.push((r.level, error, 0, r.message.clone()));
            }
            acc.stats[index].2 += 1;
            acc.lines.push((r.at, index, error));
        }
    }

    let aliases = service_aliases(services);
    let mut out = HashMap::new();
    for (service, acc) in per_service {
        let expected = windows.expected_in_incident(acc.baseline_errors as usize);
        let error_z = excess_z(acc.incident_errors as usize, expected);
        let mut new_templates: Vec<NewTemplate> = Vec::new();
        let mut novelty = 0.0;
        let mut mentions: BTreeMap<String, u64> = BTreeMap::new();
        let mut rejected: BTreeMap<String, u64> = BTreeMap::new();
        let mut is_new = vec![false; acc.stats.len()];
        for (tpl, &index) in &acc.incident_templates {
            let (level, error, count, sample) = &acc.stats[index];
            is_new[index] = !acc.baseline_templates.contains(tpl);
            if is_new[index] {
                novelty += level_weight(*level, *error) * (*count as f64).ln_1p();
                new_templates.push(NewTemplate {
                    template: tpl.clone(),
                    level: *level,
                    count: *count,
                    sample: sample.clone(),
                });
            }
            if is_new[index] || *error {
                for other in services.iter().filter(|s| s.as_str() != service) {
                    let named = other.len() >= 3 && names_service(tpl, other);
                    let by_alias = aliases
                        .get(other)
                        .is_some_and(|alias| names_service(tpl, alias));
                    if named || by_alias {
                        *mentions.entry(other.clone()).or_default() += count;
                        if says_rejected(tpl) {
                            *rejected.entry(other.clone()).or_default() += count;
                        }
                    }
                }
            }
        }
        new_templates.sort_by(|a, b| {
            level_weight(b.level, false)
                .total_cmp(&level_weight(a.level, false))
                .then(b.count.cmp(&a.count))
                .then(a.template.cmp(&b.template))
        });
        // Where failing or never-seen lines began in earnest (not the first stray one).
        let mut anomalous: Vec<DateTime<Utc>> = acc
            .lines
            .iter()
            .filter(|(_, index, error)| *error || is_new[*index])
            .map(|(at, _, _)| *at)
            .collect();
        anomalous.sort();
        let onset = change_point::rate_onset(&anomalous, windows.incident);
        let stopped = windows.fell_silent(acc.baseline_total as usize, acc.incident_total as usize);
        let burst = if error_z >= 3.0 { error_z.ln_1p() } else { 0.0 };
        // Only new templates beyond a trickle matter: one odd line is not an incident.
        let novelty_score = if novelty >= 1.0 { novelty.ln_1p() } else { 0.0 };
        let silence = if stopped { 2.0 } else { 0.0 };
        out.insert(
            service.to_string(),
            LogAnomaly {
                score: burst.max(novelty_score).max(silence) + 0.25 * burst.min(novelty_score),
                baseline_errors: acc.baseline_errors,
                incident_errors: acc.incident_errors,
                expected_errors: expected,
                error_z,
                new_templates,
                stopped,
                lines: (acc.baseline_total, acc.incident_total),
                expected_lines: windows.expected_in_incident(acc.baseline_total as usize),
                mentions,
                rejected,
                onset,
            },
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::ranking::window::around;
    use chrono::{Duration, TimeZone};
    use itops_core::telemetry::TimeRange;

    fn t(i: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::minutes(i)
    }

    fn log(i: i64, service: &str, level: LogLevel, message: &str) -> LogRecord {
        LogRecord {
            at: t(i),
            service: service.into(),
            message: message.into(),
            level: Some(level),
            trace_id: None,
            span_id: None,
        }
    }

    #[test]
    fn a_service_is_known_by_its_short_name_only_when_that_is_unambiguous() {
        let names: Vec<String> = [
            "redis-cache",
            "orders-db",
            "order-worker",
            "cart",
            "cart-api",
            "api-gateway",
            "api-docs",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let aliases = service_aliases(&names);
        assert_eq!(
            aliases.get("redis-cache").map(String::as_str),
            Some("redis")
        );
        assert_eq!(aliases.get("orders-db").map(String::as_str), Some("orders"));
        // "cart" is a service of its own; "api" is too short and shared.
        assert_eq!(aliases.get("cart-api"), None);
        assert_eq!(aliases.get("api-gateway"), None);
        assert_eq!(
            aliases.get("order-worker").map(String::as_str),
            Some("order")
        );
    }

    #[test]
    fn bursts_new_templates_silence_and_mentions() {
        let mut records = Vec::new();
        for i in 0..60 {
            records.push(log(
                i,
                "checkout",
                LogLevel::Info,
                &format!("order {i} placed"),
            ));
            if i < 40 {
                records.push(log(
                    i,
                    "payments",
                    LogLevel::Info,
                    &format!("charged card {i}"),
                ));
            }
            if i >= 40 {
                records.push(log(
                    i,
                    "checkout",
                    LogLevel::Error,
                    &format!("call to payments failed after {i} ms"),
                ));
            }
        }
        let windows = around(
            t(40),
            TimeRange {
                start: t(0),
                end: t(60),
            },
        );
        let services = vec!["checkout".to_string(), "payments".to_string()];
        let scored = score_logs(&records, &windows, &services);
        let checkout = &scored["checkout"];
        assert!(checkout.score > 2.0, "{checkout:?}");
        assert_eq!(checkout.incident_errors, 20);
        assert_eq!(
            checkout.new_templates[0].template,
            "call to payments failed after <*> ms"
        );
        assert_eq!(checkout.mentions.get("payments"), Some(&20));
        assert_eq!(checkout.onset, Some(t(40)));
        let payments = &scored["payments"];
        assert!(payments.stopped, "{payments:?}");
    }

    #[test]
    fn a_caller_rejects_a_dependency_when_most_lines_naming_it_say_its_answer_was_bad() {
        assert!(says_rejected(
            "Invalid response from inventory: Cannot deserialize value"
        ));
        assert!(says_rejected("could not unmarshal the reply from pricing"));
        // A value missing from the answer, as each runtime's null dereference says it.
        assert!(says_rejected(
            "upstream auth failed: Cannot read properties of null (reading 'units')"
        ));
        assert!(says_rejected(
            "call to auth failed: java.lang.NullPointerException"
        ));
        assert!(says_rejected(
            "auth reply: 'NoneType' object has no attribute 'units'"
        ));
        assert!(!says_rejected("call to cart timed out after 2000 ms"));
        let log = |rejected: u64| LogAnomaly {
            mentions: BTreeMap::from([("payments".to_string(), 10)]),
            rejected: BTreeMap::from([("payments".to_string(), rejected)]),
            ..LogAnomaly::default()
        };
        assert!(log(6).rejects("payments"));
        assert!(!log(4).rejects("payments"));
        assert!(!log(6).rejects("cart"));
    }
}
