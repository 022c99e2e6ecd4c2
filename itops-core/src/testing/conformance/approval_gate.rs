//! The `ApprovalGate` suite.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::{t0, CaseResult, ConformanceReport, Context, RACERS};
use crate::approval::{
    ApprovalFilter, ApprovalGate, ApprovalRequest, ApprovalStatus, ApprovalToken, Decision,
    DecisionAuth, Verdict,
};
use crate::clock::{Clock, ManualClock};
use crate::domain::Actor;
use crate::error::Error;
use crate::id::{ApprovalId, IncidentId};

/// Runs every [`ApprovalGate`] case. `make` must return a fresh, empty gate that reads
/// time from the given clock (the suite moves it to test expiry).
pub async fn approval_gate_conformance<F, Fut, G>(make: F) -> ConformanceReport
where
    F: Fn(ManualClock) -> Fut,
    Fut: Future<Output = G>,
    G: ApprovalGate + 'static,
{
    let mut report = ConformanceReport::new("ApprovalGate");
    macro_rules! case {
        ($name:literal, $case:ident) => {
            let clock = ManualClock::new(t0());
            report
                .run($name, $case(Arc::new(make(clock.clone()).await), clock))
                .await;
        };
    }
    case!(
        "request returns a pending approval and a token",
        approval_request
    );
    case!("unknown approval is NotFound", approval_unknown);
    case!("approve with the token", approval_approve_with_token);
    case!("reject with the token", approval_reject_with_token);
    case!("wrong token is ApprovalTokenInvalid", approval_wrong_token);
    case!(
        "second decision is ApprovalAlreadyDecided",
        approval_second_decision
    );
    case!(
        "decision after expiry is ApprovalExpired",
        approval_decide_after_expiry
    );
    case!(
        "get reports a pending approval past expiry as expired",
        approval_get_reports_expiry
    );
    case!("expire_due marks only due approvals", approval_expire_due);
    case!("operator decides without a token", approval_operator);
    case!(
        "duplicate request id is AlreadyExists",
        approval_duplicate_request
    );
    case!(
        "invalid requests and decisions are Invalid",
        approval_invalid
    );
    case!(
        "list and list_page filter by incident and status, oldest first, page by page",
        approval_list
    );
    case!(
        "concurrent decisions: exactly one wins",
        approval_concurrent_decisions
    );
    report
}

fn request(incident_id: IncidentId, summary: &str, ttl_secs: u64) -> ApprovalRequest {
    let mut request = ApprovalRequest::new(incident_id, summary, Duration::from_secs(ttl_secs));
    request.payload = serde_json::json!({
        "actions": [{"kind": "restart_service", "service": "api", "risk": "medium"}],
        "note": "it's \"quoted\" ✓",
    });
    request.requested_by = Actor::Agent("remediation".to_string());
    request
}

fn with_token(verdict: Verdict, token: &ApprovalToken) -> Decision {
    Decision {
        verdict,
        decided_by: "alice".to_string(),
        comment: Some("looks right".to_string()),
        auth: DecisionAuth::Token(token.clone()),
    }
}

fn as_operator(verdict: Verdict, who: &str) -> Decision {
    Decision {
        verdict,
        decided_by: who.to_string(),
        comment: None,
        auth: DecisionAuth::Operator,
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

async fn approval_request<G: ApprovalGate>(gate: Arc<G>, clock: ManualClock) -> CaseResult {
    let req = request(IncidentId::new(), "Restart api", 900);
    let ticket = gate.request(req.clone()).await.ctx("request")?;
    let a = &ticket.approval;
    ensure_eq!(a.id, req.id, "approval id");
    ensure_eq!(a.incident_id, req.incident_id, "incident id");
    ensure_eq!(a.summary, req.summary, "summary");
    ensure_eq!(a.payload, req.payload, "payload");
    ensure_eq!(a.requested_by, req.requested_by, "requested_by");
    ensure_eq!(a.status, ApprovalStatus::Pending, "status");
    ensure_eq!(a.version, 1, "version");
    ensure_eq!(a.requested_at, clock.now(), "requested_at");
    ensure_eq!(
        a.expires_at,
        clock.now() + chrono::Duration::seconds(900),
        "expires_at"
    );
    ensure!(
        a.decided_by.is_none() && a.decided_at.is_none() && a.comment.is_none(),
        "a new approval already has a decision: {a:?}"
    );
    ensure!(
        ticket.token.expose().len() >= 32,
        "the token is too short to be a secret"
    );
    let other = gate
        .request(request(req.incident_id, "Restart db", 900))
        .await
        .ctx("second request")?;
    ensure!(
        other.token != ticket.token,
        "two approvals got the same token"
    );
    let got = gate.get(req.id).await.ctx("get")?;
    ensure_eq!(got, ticket.approval, "get after request");
    Ok(())
}

async fn approval_unknown<G: ApprovalGate>(gate: Arc<G>, _clock: ManualClock) -> CaseResult {
    let id = ApprovalId::new();
    ensure_err!(
        gate.get(id).await,
        Error::NotFound { .. },
        "get of an unknown id"
    );
    ensure_err!(
        gate.decide(id, as_operator(Verdict::Approve, "alice"))
            .await,
        Error::NotFound { .. },
        "decide of an unknown id"
    );
    Ok(())
}

async fn approval_approve_with_token<G: ApprovalGate>(
    gate: Arc<G>,
    clock: ManualClock,
) -> CaseResult {
    let ticket = gate
        .request(request(IncidentId::new(), "Restart api", 900))
        .await
        .ctx("request")?;
    clock.advance(secs(30));
    let decided = gate
        .decide(
            ticket.approval.id,
            with_token(Verdict::Approve, &ticket.token),
        )
        .await
        .ctx("decide")?;
    ensure_eq!(decided.status, ApprovalStatus::Approved, "status");
    ensure_eq!(decided.decided_by.as_deref(), Some("alice"), "decided_by");
    ensure_eq!(decided.decided_at, Some(clock.now()), "decided_at");
    ensure_eq!(decided.comment.as_deref(), Some("looks right"), "comment");
    ensure_eq!(decided.version, 2, "version");
    ensure_eq!(
        decided.requested_at,
        ticket.approval.requested_at,
        "requested_at"
    );
    ensure_eq!(
        gate.get(ticket.approval.id).await.ctx("get")?,
        decided,
        "get after the decision"
    );
    // A decided approval stays decided after its expiry time.
    clock.advance(secs(3600));
    ensure_eq!(
        gate.get(ticket.approval.id).await.ctx("get")?.status,
        ApprovalStatus::Approved,
        "status of an approved approval after its expiry time"
    );
    Ok(())
}

async fn approval_reject_with_token<G: ApprovalGate>(
    gate: Arc<G>,
    _clock: ManualClock,
) -> CaseResult {
    let ticket = gate
        .request(request(IncidentId::new(), "Drop cache", 900))
        .await
        .ctx("request")?;
    let decided = gate
        .decide(
            ticket.approval.id,
            with_token(Verdict::Reject, &ticket.token),
        )
        .await
        .ctx("decide")?;
    ensure_eq!(decided.status, ApprovalStatus::Rejected, "status");
    ensure_eq!(
        gate.get(ticket.approval.id).await.ctx("get")?.status,
        ApprovalStatus::Rejected,
        "status after get"
    );
    Ok(())
}

async fn approval_wrong_token<G: ApprovalGate>(gate: Arc<G>, _clock: ManualClock) -> CaseResult {
    let incident = IncidentId::new();
    let ticket = gate
        .request(request(incident, "Restart api", 900))
        .await
        .ctx("request")?;
    let other = gate
        .request(request(incident, "Restart db", 900))
        .await
        .ctx("second request")?;
    ensure_err!(
        gate.decide(
            ticket.approval.id,
            with_token(Verdict::Approve, &ApprovalToken::from_secret("guess"))
        )
        .await,
        Error::ApprovalTokenInvalid { .. },
        "decide with a made-up token"
    );
    ensure_err!(
        gate.decide(
            ticket.approval.id,
            with_token(Verdict::Approve, &other.token)
        )
        .await,
        Error::ApprovalTokenInvalid { .. },
        "decide with another approval's token"
    );
    ensure_err!(
        gate.decide(
            ticket.approval.id,
            with_token(
                Verdict::Approve,
                &ApprovalToken::from_secret(ticket.token.hash())
            )
        )
        .await,
        Error::ApprovalTokenInvalid { .. },
        "decide with the token's hash as the token"
    );
    let got = gate.get(ticket.approval.id).await.ctx("get")?;
    ensure_eq!(got, ticket.approval, "approval after refused decisions");
    gate.decide(
        ticket.approval.id,
        with_token(Verdict::Approve, &ticket.token),
    )
    .await
    .ctx("decide with the right token after wrong ones")?;
    Ok(())
}

async fn approval_second_decision<G: ApprovalGate>(
    gate: Arc<G>,
    _clock: ManualClock,
) -> CaseResult {
    let ticket = gate
        .request(request(IncidentId::new(), "Restart api", 900))
        .await
        .ctx("request")?;
    let first = gate
        .decide(
            ticket.approval.id,
            with_token(Verdict::Approve, &ticket.token),
        )
        .await
        .ctx("first decide")?;
    ensure_err!(
        gate.decide(
            ticket.approval.id,
            with_token(Verdict::Reject, &ticket.token)
        )
        .await,
        Error::ApprovalAlreadyDecided { .. },
        "second decide with the token"
    );
    ensure_err!(
        gate.decide(ticket.approval.id, as_operator(Verdict::Reject, "bob"))
            .await,
        Error::ApprovalAlreadyDecided { .. },
        "second decide as operator"
    );
    ensure_eq!(
        gate.get(ticket.approval.id).await.ctx("get")?,
        first,
        "approval after refused decisions"
    );
    Ok(())
}

async fn approval_decide_after_expiry<G: ApprovalGate>(
    gate: Arc<G>,
    clock: ManualClock,
) -> CaseResult {
    let ticket = gate
        .request(request(IncidentId::new(), "Restart api", 60))
        .await
        .ctx("request")?;
    clock.advance(secs(60));
    ensure_err!(
        gate.decide(
            ticket.approval.id,
            with_token(Verdict::Approve, &ticket.token)
        )
        .await,
        Error::ApprovalExpired { .. },
        "decide with the token at the expiry time"
    );
    ensure_err!(
        gate.decide(ticket.approval.id, as_operator(Verdict::Approve, "bob"))
            .await,
        Error::ApprovalExpired { .. },
        "decide as operator after expiry"
    );
    ensure_eq!(
        gate.get(ticket.approval.id).await.ctx("get")?.status,
        ApprovalStatus::Expired,
        "status after refused decisions"
    );
    Ok(())
}

async fn approval_get_reports_expiry<G: ApprovalGate>(
    gate: Arc<G>,
    clock: ManualClock,
) -> CaseResult {
    let ticket = gate
        .request(request(IncidentId::new(), "Restart api", 60))
        .await
        .ctx("request")?;
    clock.advance(secs(59));
    ensure_eq!(
        gate.get(ticket.approval.id).await.ctx("get")?.status,
        ApprovalStatus::Pending,
        "status one second before expiry"
    );
    clock.advance(secs(1));
    ensure_eq!(
        gate.get(ticket.approval.id).await.ctx("get")?.status,
        ApprovalStatus::Expired,
        "status at the expiry time"
    );
    Ok(())
}

async fn approval_expire_due<G: ApprovalGate>(gate: Arc<G>, clock: ManualClock) -> CaseResult {
    let incident = IncidentId::new();
    let due = gate
        .request(request(incident, "due", 60))
        .await
        .ctx("request due")?;
    let later = gate
        .request(request(incident, "later", 600))
        .await
        .ctx("request later")?;
    let decided = gate
        .request(request(incident, "decided", 60))
        .await
        .ctx("request decided")?;
    gate.decide(decided.approval.id, as_operator(Verdict::Approve, "alice"))
        .await
        .ctx("decide")?;
    ensure_eq!(
        gate.expire_due()
            .await
            .ctx("expire_due before any expiry")?
            .len(),
        0,
        "expired before any expiry"
    );

    clock.advance(secs(120));
    let expired = gate.expire_due().await.ctx("expire_due")?;
    ensure_eq!(
        expired.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![due.approval.id],
        "ids marked expired"
    );
    let marked = &expired[0];
    ensure_eq!(
        marked.status,
        ApprovalStatus::Expired,
        "status of the expired approval"
    );
    ensure_eq!(
        marked.decided_at,
        Some(clock.now()),
        "decided_at of the expired approval"
    );
    ensure_eq!(marked.version, 2, "version of the expired approval");
    ensure_eq!(
        gate.get(due.approval.id).await.ctx("get due")?,
        *marked,
        "get of the expired approval"
    );
    ensure_eq!(
        gate.expire_due().await.ctx("second expire_due")?.len(),
        0,
        "expired by a second call"
    );
    ensure_eq!(
        gate.get(later.approval.id).await.ctx("get later")?.status,
        ApprovalStatus::Pending,
        "status of the approval not yet due"
    );
    ensure_eq!(
        gate.get(decided.approval.id)
            .await
            .ctx("get decided")?
            .status,
        ApprovalStatus::Approved,
        "status of the decided approval"
    );
    ensure_err!(
        gate.decide(due.approval.id, with_token(Verdict::Approve, &due.token))
            .await,
        Error::ApprovalExpired { .. },
        "decide after expire_due"
    );
    Ok(())
}

async fn approval_operator<G: ApprovalGate>(gate: Arc<G>, clock: ManualClock) -> CaseResult {
    let ticket = gate
        .request(request(IncidentId::new(), "Restart api", 900))
        .await
        .ctx("request")?;
    clock.advance(secs(10));
    let decided = gate
        .decide(
            ticket.approval.id,
            as_operator(Verdict::Approve, "  ops-oncall  "),
        )
        .await
        .ctx("decide as operator")?;
    ensure_eq!(decided.status, ApprovalStatus::Approved, "status");
    ensure_eq!(
        decided.decided_by.as_deref(),
        Some("ops-oncall"),
        "decided_by (trimmed)"
    );
    ensure_eq!(decided.decided_at, Some(clock.now()), "decided_at");
    Ok(())
}

async fn approval_duplicate_request<G: ApprovalGate>(
    gate: Arc<G>,
    _clock: ManualClock,
) -> CaseResult {
    let req = request(IncidentId::new(), "Restart api", 900);
    let ticket = gate.request(req.clone()).await.ctx("request")?;
    let mut again = req.clone();
    again.summary = "something else".to_string();
    ensure_err!(
        gate.request(again).await,
        Error::AlreadyExists { .. },
        "second request with the same id"
    );
    ensure_eq!(
        gate.get(req.id).await.ctx("get")?,
        ticket.approval,
        "approval after the refused request"
    );
    gate.decide(req.id, with_token(Verdict::Approve, &ticket.token))
        .await
        .ctx("decide with the first token")?;
    Ok(())
}

async fn approval_invalid<G: ApprovalGate>(gate: Arc<G>, _clock: ManualClock) -> CaseResult {
    let blank = request(IncidentId::new(), "   ", 900);
    ensure_err!(
        gate.request(blank.clone()).await,
        Error::Invalid { .. },
        "request with a blank summary"
    );
    ensure_err!(
        gate.get(blank.id).await,
        Error::NotFound { .. },
        "get of a refused request"
    );
    let zero = request(IncidentId::new(), "Restart api", 0);
    ensure_err!(
        gate.request(zero).await,
        Error::Invalid { .. },
        "request with a zero ttl"
    );
    let ticket = gate
        .request(request(IncidentId::new(), "Restart api", 900))
        .await
        .ctx("request")?;
    let mut nobody = with_token(Verdict::Approve, &ticket.token);
    nobody.decided_by = " ".to_string();
    ensure_err!(
        gate.decide(ticket.approval.id, nobody).await,
        Error::Invalid { .. },
        "decide with a blank decided_by"
    );
    ensure_eq!(
        gate.get(ticket.approval.id).await.ctx("get")?.status,
        ApprovalStatus::Pending,
        "status after the refused decision"
    );
    Ok(())
}

async fn approval_list<G: ApprovalGate>(gate: Arc<G>, clock: ManualClock) -> CaseResult {
    let (x, y) = (IncidentId::new(), IncidentId::new());
    let x1 = gate
        .request(request(x, "x1", 3600))
        .await
        .ctx("request x1")?
        .approval
        .id;
    clock.advance(secs(1));
    let y1 = gate
        .request(request(y, "y1", 5))
        .await
        .ctx("request y1")?
        .approval
        .id;
    clock.advance(secs(1));
    let x2 = gate
        .request(request(x, "x2", 3600))
        .await
        .ctx("request x2")?
        .approval
        .id;
    clock.advance(secs(1));
    let x3 = gate
        .request(request(x, "x3", 3600))
        .await
        .ctx("request x3")?
        .approval
        .id;
    gate.decide(x2, as_operator(Verdict::Approve, "alice"))
        .await
        .ctx("approve x2")?;
    gate.decide(x3, as_operator(Verdict::Reject, "alice"))
        .await
        .ctx("reject x3")?;
    clock.advance(secs(10));

    let cases = [
        ("no filter", ApprovalFilter::default(), vec![x1, y1, x2, x3]),
        (
            "incident x",
            ApprovalFilter {
                incident_id: Some(x),
                ..ApprovalFilter::default()
            },
            vec![x1, x2, x3],
        ),
        (
            "pending",
            ApprovalFilter {
                status: Some(ApprovalStatus::Pending),
                ..ApprovalFilter::default()
            },
            vec![x1],
        ),
        (
            "expired (pending past expiry)",
            ApprovalFilter {
                status: Some(ApprovalStatus::Expired),
                ..ApprovalFilter::default()
            },
            vec![y1],
        ),
        (
            "approved",
            ApprovalFilter {
                status: Some(ApprovalStatus::Approved),
                ..ApprovalFilter::default()
            },
            vec![x2],
        ),
        (
            "rejected on incident x",
            ApprovalFilter {
                status: Some(ApprovalStatus::Rejected),
                incident_id: Some(x),
                ..ApprovalFilter::default()
            },
            vec![x3],
        ),
        (
            "pending on incident y",
            ApprovalFilter {
                status: Some(ApprovalStatus::Pending),
                incident_id: Some(y),
                ..ApprovalFilter::default()
            },
            vec![],
        ),
    ];
    for (what, filter, expected) in cases {
        super::approval_paging::pages_match(gate.as_ref(), what, &filter, &expected).await?;
        let listed = gate.list(&filter).await.ctx(&format!("list {what}"))?;
        ensure_eq!(
            listed.iter().map(|a| a.id).collect::<Vec<_>>(),
            expected,
            format!("list {what}")
        );
        if let Some(status) = filter.status {
            ensure!(
                listed.iter().all(|a| a.status == status),
                "list {what}: reported statuses {:?}",
                listed.iter().map(|a| a.status).collect::<Vec<_>>()
            );
        }
    }
    super::approval_paging::unknown_cursor(gate.as_ref()).await?;
    let all = gate.list(&ApprovalFilter::default()).await.ctx("list")?;
    let expired = all
        .iter()
        .find(|a| a.id == y1)
        .ok_or("y1 missing from the list")?;
    ensure_eq!(
        expired.status,
        ApprovalStatus::Expired,
        "status of y1 in an unfiltered list"
    );
    Ok(())
}

async fn approval_concurrent_decisions<G: ApprovalGate + 'static>(
    gate: Arc<G>,
    _clock: ManualClock,
) -> CaseResult {
    let ticket = gate
        .request(request(IncidentId::new(), "Restart api", 900))
        .await
        .ctx("request")?;
    let mut tasks = Vec::with_capacity(RACERS);
    for n in 0..RACERS {
        let gate = Arc::clone(&gate);
        let verdict = if n % 2 == 0 {
            Verdict::Approve
        } else {
            Verdict::Reject
        };
        let decision = if n % 3 == 0 {
            with_token(verdict, &ticket.token)
        } else {
            as_operator(verdict, &format!("operator {n}"))
        };
        let id = ticket.approval.id;
        tasks.push(tokio::spawn(async move { gate.decide(id, decision).await }));
    }
    let mut winners = Vec::new();
    for (n, task) in tasks.into_iter().enumerate() {
        match task.await.ctx("decide task")? {
            Ok(decided) => winners.push(decided),
            Err(Error::ApprovalAlreadyDecided { .. }) => {}
            Err(other) => {
                return Err(format!(
                    "decider {n}: expected Ok or ApprovalAlreadyDecided, got {other:?}"
                ))
            }
        }
    }
    ensure!(
        winners.len() == 1,
        "{} of {RACERS} concurrent decisions succeeded; exactly one must",
        winners.len()
    );
    let got = gate.get(ticket.approval.id).await.ctx("get")?;
    ensure_eq!(got, winners[0], "stored approval is the winning decision");
    Ok(())
}
