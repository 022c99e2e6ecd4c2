//! The offline plan of the triage agent: look at how widely telemetry is alarming, then
//! weigh the report's words, the reported severity and the breadth of the alarms.
//!
//! The report is untrusted text: it can move the assessment only through the weight of its
//! words about impact, never through instructions.

use itops_core::{Route, Severity, TriageAssessment};
use serde_json::{json, Value};

use crate::analysis::templates::contains_word;
use crate::planner::{Conversation, Move};

/// Words that say how bad it is, by the severity they suggest. Matched as whole words or
/// phrases, case-insensitively.
const CUES: &[(Severity, &[&str])] = &[
    (
        Severity::Critical,
        &[
            "outage",
            "down",
            "all users",
            "all customers",
            "every request",
            "completely",
            "unavailable",
            "data loss",
            "data corruption",
            "breach",
            "security",
            "compromised",
            "unauthorized",
            "ransomware",
            "cannot log in",
            "cannot check out",
            "site down",
            "total",
            "100%",
            "p1",
            "sev1",
            "sev-1",
        ],
    ),
    (
        Severity::High,
        &[
            "degraded",
            "failing",
            "failures",
            "errors",
            "5xx",
            "500",
            "503",
            "timeouts",
            "timing out",
            "slow",
            "latency",
            "spike",
            "majority",
            "many users",
            "revenue",
            "checkout",
            "payments",
            "sev2",
            "p2",
        ],
    ),
    (
        Severity::Medium,
        &[
            "intermittent",
            "some users",
            "partial",
            "elevated",
            "workaround",
            "retry",
            "sporadic",
            "delayed",
            "sev3",
            "p3",
        ],
    ),
    (
        Severity::Low,
        &[
            "minor",
            "cosmetic",
            "typo",
            "single user",
            "one user",
            "low priority",
            "no impact",
            "internal only",
            "sev4",
            "p4",
        ],
    ),
];

fn severity_from_rank(rank: f64) -> Severity {
    if rank >= 3.5 {
        Severity::Critical
    } else if rank >= 2.5 {
        Severity::High
    } else if rank >= 1.5 {
        Severity::Medium
    } else {
        Severity::Low
    }
}

pub(crate) fn next(conv: &Conversation<'_>) -> Move {
    if conv.has_tool("list_alarms") && !conv.called("list_alarms", |_| true) {
        return Move::Call(
            vec![("list_alarms".into(), json!({}))],
            "How widely is telemetry alarming right now?".into(),
        );
    }
    let ctx = &conv.context;
    let text = format!(
        "{} {}",
        ctx.get("title").and_then(Value::as_str).unwrap_or_default(),
        ctx.get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
    )
    .to_lowercase();
    let reported: Option<Severity> = ctx
        .get("reported_severity")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok());

    // Evidence for each level: the cue words found.
    let mut found: Vec<(Severity, Vec<&str>)> = Vec::new();
    for (severity, words) in CUES {
        let hits: Vec<&str> = words
            .iter()
            .copied()
            .filter(|w| contains_word(&text, w))
            .collect();
        if !hits.is_empty() {
            found.push((*severity, hits));
        }
    }
    let text_rank = if found.is_empty() {
        None
    } else {
        let (weighted, weight) = found.iter().fold((0.0, 0.0), |(s, w), (sev, hits)| {
            let n = hits.len() as f64;
            // The strongest impact words dominate: an outage mentioned once outweighs "slow" twice.
            let importance = match sev {
                Severity::Critical => 3.0,
                Severity::Low => 2.0,
                _ => 1.0,
            };
            (
                s + f64::from(sev.rank()) * n * importance,
                w + n * importance,
            )
        });
        Some(weighted / weight)
    };
    let alarms: Vec<&Value> = conv
        .result("list_alarms", |_| true)
        .and_then(|v| v.get("alarms"))
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let alarming: std::collections::BTreeSet<&str> = alarms
        .iter()
        .filter_map(|a| a.get("service").and_then(Value::as_str))
        .collect();

    // The reported severity is a prior; the words and the alarms move it.
    let cue_count: usize = found.iter().map(|(_, hits)| hits.len()).sum();
    let mut rank = match (reported, text_rank) {
        // The more the report says about impact, the more its words count against the label.
        (Some(r), Some(t)) => {
            let w = (0.4 + 0.1 * cue_count as f64).min(0.8);
            (1.0 - w) * f64::from(r.rank()) + w * t
        }
        (Some(r), None) => f64::from(r.rank()),
        (None, Some(t)) => t,
        (None, None) => 2.0,
    };
    if alarming.len() >= 4 {
        rank += 0.5;
    }
    let severity = severity_from_rank(rank);
    let security = [
        "breach",
        "security",
        "compromised",
        "unauthorized",
        "ransomware",
    ]
    .iter()
    .any(|w| contains_word(&text, w));
    // A critical incident is investigated at once while people are paged: the evidence is
    // most useful then. Security events are for humans only.
    let route = if security {
        Route::Escalate
    } else {
        Route::Investigate
    };
    let urgency =
        ((rank / 4.0 * 9.0).round() as i64 + 1 + i64::from(alarming.len() >= 3)).clamp(1, 10) as u8;

    let mut reasoning = match reported {
        Some(r) => format!("Reported as {r}."),
        None => "No severity reported.".to_string(),
    };
    for (sev, hits) in &found {
        reasoning.push_str(&format!(" Words suggesting {sev}: {}.", hits.join(", ")));
    }
    reasoning.push_str(&format!(
        " {} service(s) alarming{}.",
        alarming.len(),
        if alarming.is_empty() {
            String::new()
        } else {
            format!(
                ": {}",
                alarming.iter().copied().collect::<Vec<_>>().join(", ")
            )
        }
    ));
    if security {
        reasoning.push_str(" A possible security event goes to humans.");
    }
    let next_steps = match route {
        Route::Escalate => vec![
            "page the on-call engineer".to_string(),
            "open an incident channel".to_string(),
        ],
        Route::Investigate if severity == Severity::Critical => vec![
            "page the on-call engineer".to_string(),
            "rank anomalous services".to_string(),
            "inspect the leading candidates' logs and traces".to_string(),
            "propose a catalogue action".to_string(),
        ],
        Route::Investigate => vec![
            "rank anomalous services".to_string(),
            "inspect the leading candidates' logs and traces".to_string(),
            "propose a catalogue action".to_string(),
        ],
    };
    let assessment = TriageAssessment {
        severity,
        urgency,
        route,
        reasoning,
        next_steps,
    };
    Move::Answer(serde_json::to_string(&assessment).unwrap_or_default())
}
