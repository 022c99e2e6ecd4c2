//! The evidence a ranked service carries, in words a person (or a model) reads.

use itops_core::Evidence;

use crate::analysis::ranking::{window, Profile};
use crate::analysis::stats::round_sig;

fn num(v: f64) -> String {
    let r = round_sig(v, 3);
    if r.fract() == 0.0 && r.abs() < 1e15 {
        format!("{}", r as i64)
    } else {
        format!("{r}")
    }
}

pub(super) fn evidence(
    service: &str,
    profile: &Profile<'_>,
    windows: &window::Windows,
) -> Vec<Evidence> {
    let mut out = Vec::new();
    for s in profile.series.iter().take(3) {
        let summary = if s.stopped {
            format!(
                "{} stopped reporting (baseline median {})",
                s.metric,
                num(s.baseline_median)
            )
        } else {
            let mut text = format!(
                "{}: baseline median {} → incident median {} (extreme {}), robust z {:+.1}",
                s.metric,
                num(s.baseline_median),
                num(s.incident_median),
                num(s.incident_extreme),
                s.z
            );
            if let Some(onset) = s.onset {
                text.push_str(&format!(", from {}", onset.format("%H:%M:%S")));
            }
            if s.resets > 0 {
                text.push_str(&format!(", {} sudden drop(s)", s.resets));
            }
            text
        };
        out.push(Evidence::Metric {
            service: service.to_string(),
            metric: s.metric.clone(),
            start: windows.baseline.start,
            end: windows.incident.end,
            summary,
        });
    }
    if let Some(l) = profile.logs {
        let mut summary = format!(
            "error lines {} before → {} during (Poisson z {:.1})",
            l.baseline_errors, l.incident_errors, l.error_z
        );
        if !l.new_templates.is_empty() {
            summary.push_str(&format!(
                "; {} new message template(s)",
                l.new_templates.len()
            ));
        }
        if l.stopped {
            summary.push_str("; the service stopped logging");
        } else if profile.quiet.0 > 0.0 {
            summary.push_str(&format!(
                "; it went quiet for its load: {} lines in the incident window, about {} \
                 expected at its usual lines per request, with no failures logged in their place",
                l.lines.1,
                num(profile.quiet.1)
            ));
        }
        if !l.mentions.is_empty() {
            let named: Vec<String> = l
                .mentions
                .iter()
                .map(|(s, n)| format!("{s} ×{n}"))
                .collect();
            summary.push_str(&format!("; failing messages name {}", named.join(", ")));
        }
        out.push(Evidence::Logs {
            service: service.to_string(),
            samples: l
                .new_templates
                .iter()
                .take(3)
                .map(|t| t.sample.chars().take(240).collect())
                .collect(),
            count: l.incident_errors,
            summary,
        });
    }
    let mut parts = Vec::new();
    if !profile.transit_from.is_empty() {
        let calls: Vec<String> = profile
            .transit_from
            .iter()
            .map(|(caller, (before, after))| {
                format!("from {caller} {} ms → {} ms", num(*before), num(*after))
            })
            .collect();
        parts.push(format!(
            "calls to it take longer on the way (the time around each call, outside its own \
             spans): {}",
            calls.join(", ")
        ));
    }
    let mut example = None;
    if let Some(t) = profile.traces {
        example = t.example_trace.clone();
        if t.self_latency > 0.0 {
            parts.push(format!(
                "own span time {} ms → {} ms",
                num(t.self_ms.0),
                num(t.self_ms.1)
            ));
        }
        if t.origin_errors > 0.0 {
            parts.push(format!(
                "errors starting here {} → {}",
                t.origin_error_counts.0, t.origin_error_counts.1
            ));
        }
        if t.stopped {
            parts.push("its spans stopped".to_string());
        }
        if let (true, Some((callee, before, after))) = (t.call_mix.0 > 0.0, &t.call_mix.1) {
            parts.push(format!(
                "the mix of its calls changed: calls to {callee} {:.0} % → {:.0} % of them",
                before * 100.0,
                after * 100.0
            ));
        }
        if t.pattern.strength > 0.0 {
            parts.push(format!(
                "its {} requests stopped calling {}: {} → {} calls a request",
                t.pattern.operation,
                t.pattern.call,
                num(t.pattern.per_request.0),
                num(t.pattern.per_request.1)
            ));
        }
    }
    if !parts.is_empty() {
        out.push(Evidence::Trace {
            trace_id: example.unwrap_or_default(),
            span_ids: Vec::new(),
            service: service.to_string(),
            summary: parts.join("; "),
        });
    }
    for c in &profile.changes {
        out.push(Evidence::Change {
            service: service.to_string(),
            kind: c.kind.clone(),
            at: c.at,
            summary: format!(
                "{} {}{}",
                c.kind,
                c.description,
                c.version
                    .as_ref()
                    .map(|v| format!(" (version {v})"))
                    .unwrap_or_default()
            ),
        });
    }
    out
}
