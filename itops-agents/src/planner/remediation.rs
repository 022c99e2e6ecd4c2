//! The offline plan of the remediation agent: read the runbooks for the suspected fault,
//! propose the first catalogue action they (and the catalogue) recommend for the most
//! likely origin, fall back to the next option when the policy refuses one, then explain.

use itops_core::catalogue::ActionCatalogue;
use itops_core::FaultKind;
use serde_json::{json, Value};

use crate::planner::{Conversation, Move};
use crate::policy::PROPOSE_ACTION;

/// Below this confidence the planner proposes nothing: acting on a guess is worse than
/// handing the incident to a human.
const MIN_CONFIDENCE: f64 = 0.2;
/// How far back the service's flag changes are read when the finding names none.
const FLAG_LOOKBACK_MINUTES: u32 = 24 * 60;

pub(crate) fn next(conv: &Conversation<'_>) -> Move {
    let candidates = conv
        .context
        .get("candidates")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let Some(top) = candidates.first() else {
        return answer("No root-cause candidate: nothing to act on safely; escalate to a human.");
    };
    let service = top
        .get("service")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let fault: FaultKind = top
        .get("fault")
        .and_then(Value::as_str)
        .and_then(|f| f.parse().ok())
        .unwrap_or(FaultKind::Unknown);
    let confidence = top.get("confidence").and_then(Value::as_f64).unwrap_or(0.0);
    let targets: Option<Vec<&str>> = conv
        .context
        .get("targets")
        .and_then(Value::as_array)
        .map(|t| t.iter().filter_map(Value::as_str).collect());
    if targets.is_some_and(|t| !t.contains(&service.as_str())) {
        return answer(&format!(
            "The finding points at {service}, which the telemetry does not implicate; nothing \
             to act on safely: escalate to a human."
        ));
    }
    if fault == FaultKind::Unknown || confidence < MIN_CONFIDENCE {
        return answer(&format!(
            "The finding is not firm enough to act on ({service}: {fault}, confidence {confidence:.2}); escalate to a human."
        ));
    }

    if conv.has_tool("search_knowledge") && !conv.called("search_knowledge", |_| true) {
        let query = format!("{} {}", fault.as_str().replace('_', " "), service);
        return Move::Call(
            vec![(
                "search_knowledge".into(),
                json!({"query": query, "kind": "runbook", "limit": 3}),
            )],
            format!("Look up the runbooks for {fault} before choosing an action."),
        );
    }

    // Options: the runbooks' actions for this fault, then the catalogue's.
    let catalogue = ActionCatalogue::standard();
    let mut options: Vec<String> = Vec::new();
    if let Some(hits) = conv
        .result("search_knowledge", |_| true)
        .and_then(Value::as_array)
    {
        for hit in hits {
            let tags: Vec<&str> = hit
                .get("tags")
                .and_then(Value::as_array)
                .map(|t| t.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if !tags.contains(&fault.as_str()) {
                continue;
            }
            for tag in tags {
                if let Some(id) = tag.strip_prefix("action:") {
                    if !options.iter().any(|o| o == id) {
                        options.push(id.to_string());
                    }
                }
            }
        }
    }
    for entry in catalogue.for_fault(fault) {
        if !options.iter().any(|o| o == entry.id) {
            options.push(entry.id.to_string());
        }
    }
    // A flag to turn off: one changed just before the fault (in the finding), else the
    // service's latest flag turned on in the last day (a code path can fail long after
    // its flag went on).
    let mut flag = flag_from_changes(top);
    // A flag flipped just before the fault is undone by flipping it back: narrower and
    // quicker than rolling a deployment back.
    if flag.is_some() {
        if let Some(i) = options.iter().position(|id| id == "toggle_feature_flag") {
            let toggle = options.remove(i);
            options.insert(0, toggle);
        }
    }
    // Only when turning a flag off is the action the plan would propose first.
    if flag.is_none()
        && options
            .first()
            .is_some_and(|id| id == "toggle_feature_flag")
    {
        if conv.has_tool("list_changes") && !conv.called("list_changes", |_| true) {
            return Move::Call(
                vec![(
                    "list_changes".into(),
                    json!({"service": service, "minutes": FLAG_LOOKBACK_MINUTES}),
                )],
                format!("A {fault} can come from a code path behind a feature flag: which flags did {service} turn on lately?"),
            );
        }
        flag = conv
            .result("list_changes", |_| true)
            .and_then(|r| latest_flag_on(r, &service));
    }
    options.retain(|id| id != "toggle_feature_flag" || flag.is_some());

    let proposals: Vec<(&str, bool)> = conv
        .calls
        .iter()
        .filter(|c| c.call.name == PROPOSE_ACTION)
        .map(|c| {
            let id = c
                .call
                .input
                .get("catalogue_id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let accepted = !c.is_error
                && c.output
                    .as_ref()
                    .and_then(|o| o.get("accepted"))
                    .and_then(Value::as_bool)
                    == Some(true);
            (id, accepted)
        })
        .collect();
    if let Some((id, _)) = proposals.iter().find(|(_, accepted)| *accepted) {
        return answer(&format!(
            "{service} most likely has a {fault} (confidence {confidence:.2}). {id} on {service} addresses it; \
             verify that {service}'s error rate and latency return to their baseline."
        ));
    }
    let next = options
        .iter()
        .find(|id| !proposals.iter().any(|(p, _)| p == id));
    // Scaling out needs today's replica count: read it from the service's metrics first.
    if next.is_some_and(|id| id == "scale_out")
        && conv.has_tool("query_metrics")
        && !conv.called("query_metrics", |_| true)
    {
        return Move::Call(
            vec![("query_metrics".into(), json!({"service": service}))],
            format!("Scaling out {service}: first read how many replicas it runs."),
        );
    }
    match next {
        Some(id) => {
            let parameters = match id.as_str() {
                "scale_out" => json!({"replicas": scale_target(conv)}),
                "raise_pool_limit" => json!({"max_connections": 200}),
                "toggle_feature_flag" => {
                    json!({"flag": flag.clone().unwrap_or_default(), "enabled": false})
                }
                _ => json!({}),
            };
            let thought = if proposals.is_empty() {
                format!("{service} shows a {fault}; the first recommended action is {id}.")
            } else {
                format!("The previous proposal was refused; try the next option, {id}.")
            };
            Move::Call(
                vec![(
                    PROPOSE_ACTION.into(),
                    json!({"catalogue_id": id, "target": service, "parameters": parameters, "phase": "immediate"}),
                )],
                thought,
            )
        }
        None => answer(&format!(
            "No catalogue action fits {fault} at {service}; escalate to a human."
        )),
    }
}

/// Replicas to scale out to: twice what the service's replica metric (any metric named
/// like `replicas`) showed at most, at least two more, at most 100; 10 when unknown.
fn scale_target(conv: &Conversation<'_>) -> u64 {
    let current = conv
        .result("query_metrics", |_| true)
        .and_then(|r| r.get("series"))
        .and_then(Value::as_array)
        .and_then(|series| {
            series
                .iter()
                .filter(|s| {
                    s.get("metric")
                        .and_then(Value::as_str)
                        .is_some_and(|m| m.to_ascii_lowercase().contains("replica"))
                })
                .filter_map(|s| s.pointer("/summary/max").and_then(Value::as_f64))
                .reduce(f64::max)
        });
    match current {
        Some(n) if n.is_finite() && n >= 1.0 => {
            let n = n.round() as u64;
            (n * 2).max(n + 2).min(100)
        }
        _ => 10,
    }
}

/// A feature-flag key named in the candidate's change evidence: the summary of a flag
/// change (`flag Feature flag 'checkout.new_flow' enabled ...`, `flag checkout.new_flow on`).
fn flag_from_changes(candidate: &Value) -> Option<String> {
    candidate
        .get("changes")?
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .find_map(|summary| {
            let rest = summary.strip_prefix("flag ")?;
            flag_key(rest)
        })
}

/// The flag the latest change of `service` in a `list_changes` result turned on (a flag
/// change that does not say it disabled or turned off something).
fn latest_flag_on(result: &Value, service: &str) -> Option<String> {
    let mut changes: Vec<&Value> = result
        .get("changes")?
        .as_array()?
        .iter()
        .filter(|c| c.get("service").and_then(Value::as_str) == Some(service))
        .filter(|c| {
            c.get("kind")
                .and_then(Value::as_str)
                .is_some_and(|k| matches!(k, "flag" | "feature_flag"))
        })
        .collect();
    changes.sort_by_key(|c| c.get("at").and_then(Value::as_str).unwrap_or_default());
    changes.iter().rev().find_map(|c| {
        let text = c.get("description").and_then(Value::as_str)?;
        let lower = text.to_ascii_lowercase();
        let off = [" disabled", " off", "rollout set to 0%", "rolled back"];
        if off.iter().any(|w| lower.contains(w)) {
            return None;
        }
        flag_key(text)
    })
}

/// The flag key in a change's text: the first quoted name (`'a.b'`, `"a.b"`, `` `a.b` ``),
/// else the first word after the word "flag", else the first word.
fn flag_key(text: &str) -> Option<String> {
    for quote in ['\'', '"', '`'] {
        let mut parts = text.split(quote);
        if let (Some(_), Some(inner), Some(_)) = (parts.next(), parts.next(), parts.next()) {
            if is_key(inner) {
                return Some(inner.to_string());
            }
        }
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let after_flag = words
        .iter()
        .position(|w| w.eq_ignore_ascii_case("flag"))
        .and_then(|i| words.get(i + 1));
    after_flag
        .or(words.first())
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric() && !matches!(c, '.' | '_' | '-')))
        .filter(|w| is_key(w))
        .map(str::to_string)
}

/// Whether `s` reads as a flag key: one word of letters, digits, `.`, `_`, `-` and `:`.
fn is_key(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && s.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '/'))
}

fn answer(rationale: &str) -> Move {
    Move::Answer(json!({ "rationale": rationale }).to_string())
}
