//! The verdict and its words: resolved, mitigated (with the lasting fix), or not resolved.

use chrono::Duration as ChronoDuration;
use itops_core::workflow::VerificationReport;

use super::follow_up::Temporary;
use super::judge::SignalCheck;
use super::signals::Symptom;

/// What was judged: the symptoms and how they came out, and whether the fix is known to
/// be temporary.
pub(crate) struct Findings {
    pub(crate) symptoms: Vec<SignalCheck>,
    pub(crate) temporary: Option<Temporary>,
    pub(crate) settle: ChronoDuration,
}

/// How many times its bar at least one symptom must have moved for its recovery to
/// confirm a fix.
const CLEAR: f64 = 2.0;

fn describe(c: &SignalCheck) -> String {
    let at_load = if c.expected == c.baseline {
        String::new()
    } else {
        format!(", {} at the current traffic", c.expected)
    };
    format!(
        "{} {}: {} → {} (baseline {}{at_load}, tolerance {})",
        c.service, c.metric, c.during, c.after, c.baseline, c.tolerance
    )
}

fn listed(checks: &[&SignalCheck]) -> String {
    checks
        .iter()
        .take(3)
        .map(|c| describe(c))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The verdict on `f`.
pub(crate) fn verdict(f: Findings) -> VerificationReport {
    let minutes = f.settle.num_seconds() as f64 / 60.0;
    let symptoms = f.symptoms.len();
    let recovered = f.symptoms.iter().filter(|c| c.recovered).count();
    let still: Vec<&SignalCheck> = f.symptoms.iter().filter(|c| !c.recovered).collect();
    let regrowing = f.symptoms.iter().find(|c| c.regrowing);
    let details = serde_json::json!({
        "symptoms": symptoms,
        "recovered": recovered,
        "settle_seconds": f.settle.num_seconds(),
        "signals": f.symptoms,
    });
    if symptoms == 0 {
        return VerificationReport::new(
            false,
            "no signal of the implicated services was a symptom during the incident (none \
             moved the worse way beyond its baseline's range), so the fix cannot be confirmed \
             from telemetry; a human should check",
            details,
        );
    }
    // Users no longer feel it and the fix took most of the cpu's excess away, but each
    // request still costs more than before: the cause is held off by capacity, not gone.
    let held_off = !still.is_empty()
        && still.iter().all(|c| {
            c.symptom == Symptom::Cpu && (c.during - c.after) >= 0.5 * (c.during - c.expected)
        });
    if held_off {
        let all: Vec<&SignalCheck> = f.symptoms.iter().collect();
        let follow_up = super::follow_up::held_off(still[0]);
        return VerificationReport::mitigated(
            format!(
                "every user-facing symptom back within its baseline's range {minutes:.0} min                  after the fix ({}), but {}. Lasting fix: {}",
                listed(&all),
                follow_up.why,
                follow_up.follow_up
            ),
            follow_up.follow_up,
            details,
        );
    }
    if !still.is_empty() {
        return VerificationReport::new(
            false,
            format!(
                "{} of {symptoms} symptoms still off baseline {minutes:.0} min after the fix: {}",
                still.len(),
                listed(&still)
            ),
            details,
        );
    }
    // Symptoms that all barely crossed their bar may have been noise, and restarts too rare
    // to have recurred in the window yet: their going away says nothing about the fix.
    if f.symptoms.iter().all(|c| c.strength < CLEAR) {
        let all: Vec<&SignalCheck> = f.symptoms.iter().collect();
        return VerificationReport::new(
            false,
            format!(
                "the only symptoms were faint or too rare to judge in the settling window ({}), \
                 so their absence does not confirm the fix; a human should check",
                listed(&all)
            ),
            details,
        );
    }
    let all: Vec<&SignalCheck> = f.symptoms.iter().collect();
    let gone = format!(
        "all {symptoms} symptoms back within their baseline's range {minutes:.0} min after the fix: {}",
        listed(&all)
    );
    let temporary = f
        .temporary
        .or_else(|| regrowing.map(super::follow_up::regrowth));
    match temporary {
        Some(t) => VerificationReport::mitigated(
            format!("{gone}; but {}. Lasting fix: {}", t.why, t.follow_up),
            t.follow_up,
            details,
        ),
        None => VerificationReport::new(true, gone, details),
    }
}
