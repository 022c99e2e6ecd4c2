//! The offline plan of the root-cause agent: rank → inspect the leading candidates' logs,
//! traces and changes → look up the knowledge base → conclude, revising the ranking when the
//! inspected evidence points elsewhere.

use std::collections::BTreeSet;

use itops_core::{Evidence, RootCauseCandidate, RootCauseFinding};
use serde_json::{json, Value};

use crate::analysis::ranking::{AnomalyRanking, RankedService};
use crate::analysis::templates::contains_word;
use crate::planner::{Conversation, Move};

/// A candidate close enough to the leader to be worth inspecting too.
const CLOSE: f64 = 0.6;
/// Most candidates inspected.
const MAX_FOCUS: usize = 3;

pub(crate) fn next(conv: &Conversation<'_>) -> Move {
    let at = conv.context.get("at").cloned().unwrap_or(Value::Null);
    if !conv.called("rank_anomalies", |_| true) {
        if !conv.has_tool("rank_anomalies") {
            return Move::Answer(unknown_finding(
                "the rank_anomalies tool is not available, so no telemetry could be compared",
            ));
        }
        let mut input = json!({"max_candidates": 5});
        if !at.is_null() {
            input["at"] = at;
        }
        return Move::Call(
            vec![("rank_anomalies".into(), input)],
            "Hypothesis: one service changed first and the others suffer from it. Rank every service's \
             anomalies against the baseline to find candidates."
                .into(),
        );
    }
    let ranking: Option<AnomalyRanking> = conv
        .result("rank_anomalies", |_| true)
        .and_then(|v| serde_json::from_value(v.clone()).ok());
    let Some(ranking) = ranking else {
        return Move::Answer(unknown_finding(
            "the anomaly ranking failed, so no telemetry could be compared",
        ));
    };
    if ranking.candidates.is_empty() {
        return Move::Answer(unknown_finding(&format!(
            "no service changed significantly around {} ({})",
            ranking.at,
            ranking.notes.join("; ")
        )));
    }

    let window = json!({"start": ranking.incident.start, "end": ranking.incident.end});
    let leader = ranking.candidates[0].score.max(1e-9);
    let focus: Vec<&RankedService> = ranking
        .candidates
        .iter()
        .take(MAX_FOCUS)
        .enumerate()
        .filter(|(i, c)| *i == 0 || c.score >= CLOSE * leader)
        .map(|(_, c)| c)
        .collect();

    // Inspect each focused candidate: its warnings and errors, and its failing spans.
    for candidate in &focus {
        let service = candidate.service.as_str();
        let mut calls = Vec::new();
        let same_service =
            |input: &Value| input.get("service").and_then(Value::as_str) == Some(service);
        if conv.has_tool("search_logs")
            && ranking.coverage.log_records > 0
            && !conv.called("search_logs", same_service)
        {
            let mut input = json!({"service": service, "min_level": "warn", "limit": 5});
            merge(&mut input, &window);
            calls.push(("search_logs".to_string(), input));
        }
        if conv.has_tool("get_traces")
            && ranking.coverage.spans > 0
            && !conv.called("get_traces", same_service)
        {
            let mut input = json!({"service": service, "errors_only": true, "limit": 5});
            merge(&mut input, &window);
            calls.push(("get_traces".to_string(), input));
        }
        if !calls.is_empty() {
            let thought = if candidate.service == focus[0].service {
                format!(
                    "Leading hypothesis: {service} is the origin ({} suspected, score {}). Test it against its logs and traces.",
                    candidate.fault, candidate.score
                )
            } else {
                format!(
                    "{service} scores close to the leader ({} vs {}); inspect it too before concluding.",
                    candidate.score, focus[0].score
                )
            };
            return Move::Call(calls, thought);
        }
    }
    if conv.has_tool("list_changes")
        && ranking.coverage.changes > 0
        && !conv.called("list_changes", |_| true)
    {
        let window = json!({"start": ranking.baseline.start, "end": ranking.incident.end});
        return Move::Call(
            vec![("list_changes".into(), window)],
            "Check what changed before the incident began.".into(),
        );
    }

    let (order, revision) = revise(conv, &focus);
    let top = order.first().copied().unwrap_or(focus[0]);
    if conv.has_tool("search_knowledge") && !conv.called("search_knowledge", |_| true) {
        let query = knowledge_query(conv, top);
        return Move::Call(
            vec![(
                "search_knowledge".into(),
                json!({"query": query, "limit": 3}),
            )],
            format!(
                "Look for runbooks and past incidents about {} at {}.",
                top.fault, top.service
            ),
        );
    }
    Move::Answer(conclude(conv, &ranking, &order, revision))
}

fn merge(target: &mut Value, extra: &Value) {
    if let (Some(t), Some(e)) = (target.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            t.insert(k.clone(), v.clone());
        }
    }
}

fn logs_of<'c>(conv: &'c Conversation<'_>, service: &str) -> Option<&'c Value> {
    conv.result("search_logs", |i| {
        i.get("service").and_then(Value::as_str) == Some(service)
    })
}

/// Log groups of `service` at error level or above.
fn error_templates(conv: &Conversation<'_>, service: &str) -> Vec<String> {
    logs_of(conv, service)
        .and_then(|v| v.get("groups"))
        .and_then(Value::as_array)
        .map(|groups| {
            groups
                .iter()
                .filter(|g| {
                    matches!(
                        g.get("level").and_then(Value::as_str),
                        Some("error" | "fatal")
                    )
                })
                .filter_map(|g| {
                    g.get("template")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The inspected evidence can move a candidate down: when a focused candidate's own error
/// messages name another focused candidate, it is waiting on that one, which moves ahead
/// (unless the first changed just before its trouble). Returns the order and what the
/// inspection concluded.
fn revise<'r>(
    conv: &Conversation<'_>,
    focus: &[&'r RankedService],
) -> (Vec<&'r RankedService>, Option<String>) {
    let mut order: Vec<&RankedService> = focus.to_vec();
    let mut revision = None;
    if let Some(first) = order.first().copied() {
        let templates = error_templates(conv, &first.service)
            .join(" ")
            .to_lowercase();
        let blamed = order
            .iter()
            .skip(1)
            .find(|other| contains_word(&templates, &other.service))
            .copied();
        if let Some(blamed) = blamed {
            let own = error_templates(conv, &blamed.service)
                .join(" ")
                .to_lowercase();
            // Only if the blamed service does not in turn blame the first, and the first did
            // not change just before its trouble (then its own change, say a timeout set too
            // low, explains why its calls to the other fail).
            if first.breakdown.change_bonus > 0.0 {
                revision = Some(format!(
                    "{}'s error messages name {}, but {} changed just before its trouble began, \
                     which explains them as well",
                    first.service, blamed.service, first.service
                ));
            } else if !contains_word(&own, &first.service) {
                order.retain(|c| c.service != blamed.service);
                order.insert(0, blamed);
                revision = Some(format!(
                    "{}'s error messages name {}; {} is more likely the origin",
                    first.service, blamed.service, blamed.service
                ));
            }
        }
    }
    (order, revision)
}

fn knowledge_query(conv: &Conversation<'_>, top: &RankedService) -> String {
    let mut words = vec![top.fault.to_string().replace('_', " ")];
    words.extend(
        error_templates(conv, &top.service)
            .into_iter()
            .take(2)
            .map(|t| t.replace("<*>", " ")),
    );
    words.join(" ")
}

/// Probability-like confidences from scores: a softmax with a temperature that makes a
/// clear leader (twice the runner-up) confident and a close race uncertain.
fn confidences(scores: &[f64]) -> Vec<f64> {
    let max = scores.iter().copied().fold(f64::MIN, f64::max);
    let temperature = (max * 0.25).max(0.5);
    let exps: Vec<f64> = scores
        .iter()
        .map(|s| ((s - max) / temperature).exp())
        .collect();
    // One extra unit of weight for "none of these": a lone weak candidate is not certain.
    let total: f64 = exps.iter().sum::<f64>() + (-(max / temperature)).exp().max(0.05);
    exps.iter()
        .map(|e| (e / total * 100.0).round() / 100.0)
        .collect()
}

fn conclude(
    conv: &Conversation<'_>,
    ranking: &AnomalyRanking,
    order: &[&RankedService],
    revision: Option<String>,
) -> String {
    // The inspected candidates in their revised order, then the rest of the ranking.
    let mut ranked: Vec<&RankedService> = order.to_vec();
    for c in &ranking.candidates {
        if !ranked.iter().any(|r| r.service == c.service) {
            ranked.push(c);
        }
    }
    let mut scores: Vec<f64> = ranked.iter().map(|c| c.score).collect();
    let promoted = ranking
        .candidates
        .first()
        .is_some_and(|leader| ranked[0].service != leader.service);
    if promoted && scores.len() > 1 {
        // The promoted candidate takes the leader's score.
        let leader = scores.iter().copied().fold(f64::MIN, f64::max);
        scores[0] = leader * 1.05;
    }
    let confidence = confidences(&scores);
    let knowledge: Vec<Evidence> = conv
        .result("search_knowledge", |_| true)
        .and_then(Value::as_array)
        .map(|hits| {
            hits.iter()
                .take(2)
                .filter_map(|h| {
                    Some(Evidence::Knowledge {
                        document_id: h.get("id")?.as_str()?.to_string(),
                        summary: format!(
                            "related: {}",
                            h.get("title").and_then(Value::as_str).unwrap_or_default()
                        ),
                    })
                })
                .collect()
        })
        .unwrap_or_default();

    let candidates: Vec<RootCauseCandidate> = ranked
        .iter()
        .zip(confidence.iter())
        .enumerate()
        .map(|(i, (c, conf))| {
            let mut evidence = c.evidence.clone();
            if let Some(logs) = logs_of(conv, &c.service) {
                let samples: Vec<String> = logs
                    .get("samples")
                    .and_then(Value::as_array)
                    .map(|s| {
                        s.iter()
                            .take(2)
                            .filter_map(|x| {
                                x.get("message").and_then(Value::as_str).map(str::to_string)
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let matched = logs.get("matched").and_then(Value::as_u64).unwrap_or(0);
                if matched > 0 && !evidence.iter().any(|e| matches!(e, Evidence::Logs { .. })) {
                    evidence.push(Evidence::Logs {
                        service: c.service.clone(),
                        samples,
                        count: matched,
                        summary: format!("{matched} warning or error lines in the incident window"),
                    });
                }
            }
            if i == 0 {
                evidence.extend(knowledge.iter().cloned());
            }
            RootCauseCandidate {
                service: c.service.clone(),
                fault: c.fault,
                confidence: *conf,
                evidence,
            }
        })
        .collect();

    let mut factors: Vec<String> = Vec::new();
    if let Some(revision) = &revision {
        factors.push(revision.clone());
    }
    let victims: BTreeSet<String> = ranking
        .candidates
        .iter()
        .filter(|c| c.breakdown.explained_by_dependency >= 0.5)
        .map(|c| {
            format!(
                "{} (explained by {})",
                c.service,
                c.breakdown.explained_by.clone().unwrap_or_default()
            )
        })
        .collect();
    if !victims.is_empty() {
        factors.push(format!(
            "affected callers: {}",
            victims.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    if let Some(changes) = conv
        .result("list_changes", |_| true)
        .and_then(|v| v.get("changes"))
        .and_then(Value::as_array)
    {
        for change in changes.iter().take(3) {
            factors.push(format!(
                "change before the incident: {} {} at {} ({})",
                change
                    .get("kind")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
                change
                    .get("service")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
                change.get("at").and_then(Value::as_str).unwrap_or_default(),
                change
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            ));
        }
    }
    factors.extend(ranking.notes.iter().cloned());

    let top = &candidates[0];
    let first_evidence = top
        .evidence
        .first()
        .map(|e| e.summary().to_string())
        .unwrap_or_default();
    let summary = format!(
        "Most likely origin: {} ({}, confidence {:.2}), anomalous from {}. {}{}",
        top.service,
        top.fault,
        top.confidence,
        ranked[0]
            .onset
            .map(|t| t.to_rfc3339())
            .unwrap_or_else(|| ranking.at.to_rfc3339()),
        first_evidence,
        candidates
            .get(1)
            .map(|c| format!(
                " Next most likely: {} ({}, {:.2}).",
                c.service, c.fault, c.confidence
            ))
            .unwrap_or_default()
    );
    let finding = RootCauseFinding {
        candidates,
        contributing_factors: factors,
        summary,
    };
    serde_json::to_string(&finding).unwrap_or_default()
}

fn unknown_finding(reason: &str) -> String {
    let finding = RootCauseFinding {
        candidates: Vec::new(),
        contributing_factors: vec![reason.to_string()],
        summary: format!("No root cause could be established: {reason}."),
    };
    serde_json::to_string(&finding).unwrap_or_default()
}
