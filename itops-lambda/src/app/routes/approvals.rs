//! `/api/approvals`: list, read (with a bearer token, or the one-time token of a
//! notification link), decide once.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::Json;
use itops_core::approval::MAX_APPROVAL_PAGE;
use itops_core::{
    Approval, ApprovalFilter, ApprovalId, ApprovalStatus, ApprovalToken, Decision, DecisionAuth,
    IncidentId, Verdict,
};
use serde::Deserialize;

use crate::app::auth::{MaybePrincipal, Principal, Role};
use crate::app::error::{ApiError, ApiResult};
use crate::app::extract::{approval_id, parse_opt, ApiJson, ApiPath, ApiQuery};
use crate::app::AppState;

/// The header carrying an approval's one-time token.
pub(crate) const APPROVAL_TOKEN_HEADER: &str = "x-approval-token";

/// Query of `GET /api/approvals`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct ApprovalParams {
    /// Only this status (pending, approved, rejected, expired).
    pub status: Option<String>,
    /// Only this incident's.
    pub incident_id: Option<String>,
    /// Page size (1 to 500, default 100).
    pub limit: Option<String>,
    /// The previous page's `X-Next-Cursor`.
    pub cursor: Option<String>,
}

/// The response header carrying the next page's cursor.
pub(crate) const NEXT_CURSOR_HEADER: &str = "x-next-cursor";

/// `GET /api/approvals`: a page of approvals, oldest first; the next page's cursor, when
/// there is one, is in the `X-Next-Cursor` header.
pub(crate) async fn list(
    State(state): State<AppState>,
    _who: Principal,
    ApiQuery(params): ApiQuery<ApprovalParams>,
) -> ApiResult<(HeaderMap, Json<Vec<Approval>>)> {
    let limit: Option<usize> = parse_opt("limit", params.limit.as_deref())?;
    if limit.is_some_and(|l| l == 0 || l > MAX_APPROVAL_PAGE) {
        return Err(ApiError::invalid(
            "limit",
            format!("must be 1 to {MAX_APPROVAL_PAGE}"),
        ));
    }
    let filter = ApprovalFilter {
        status: parse_opt::<ApprovalStatus>("status", params.status.as_deref())?,
        incident_id: parse_opt::<IncidentId>("incident_id", params.incident_id.as_deref())?,
        limit,
        cursor: parse_opt::<ApprovalId>("cursor", params.cursor.as_deref())?,
    };
    let page = state.gate.list_page(&filter).await?;
    let mut headers = HeaderMap::new();
    if let Some(next) = page.next_cursor {
        if let Ok(value) = HeaderValue::from_str(&next.to_string()) {
            headers.insert(NEXT_CURSOR_HEADER, value);
        }
    }
    Ok((headers, Json(page.items)))
}

fn one_time_token(headers: &HeaderMap) -> Option<ApprovalToken> {
    headers
        .get(APPROVAL_TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(ApprovalToken::from_secret)
}

/// `GET /api/approvals/{id}`.
pub(crate) async fn get(
    State(state): State<AppState>,
    MaybePrincipal(who): MaybePrincipal,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Approval>> {
    let id = approval_id(&id)?;
    match (who, one_time_token(&headers)) {
        (Some(_), _) => Ok(Json(state.gate.get(id).await?)),
        (None, Some(token)) => Ok(Json(state.gate.get_with_token(id, &token).await?)),
        (None, None) => Err(ApiError::unauthorized(format!(
            "send a bearer token, or the approval's one-time token in '{APPROVAL_TOKEN_HEADER}'"
        ))),
    }
}

/// Body of `POST /api/approvals/{id}/decision`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DecisionBody {
    /// `approve` or `reject`.
    pub decision: Verdict,
    /// Why (at most 2000 characters).
    #[serde(default)]
    pub comment: Option<String>,
    /// The one-time token from the notification link; not needed with an operator's bearer token.
    #[serde(default)]
    pub token: Option<String>,
    /// Who decides, when deciding with the one-time token alone: recorded as `link:<name>`
    /// (`link:anonymous` without one). Ignored with a bearer token, whose holder decides.
    #[serde(default)]
    pub decided_by: Option<String>,
}

/// `POST /api/approvals/{id}/decision`: decides once (a second decision is a 409).
pub(crate) async fn decide(
    State(state): State<AppState>,
    MaybePrincipal(who): MaybePrincipal,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<DecisionBody>,
) -> ApiResult<Json<Approval>> {
    let id = approval_id(&id)?;
    if body
        .comment
        .as_ref()
        .is_some_and(|c| c.chars().count() > 2000)
    {
        return Err(ApiError::invalid(
            "comment",
            "must be at most 2000 characters",
        ));
    }
    let token = body
        .token
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    // A bearer token is an identity: its holder decides, whatever the body says. A decision
    // made with the one-time link is recorded as such (`link:<name>`), the name being the
    // bearer token's holder when there is one, else the one the link's user gave.
    let (decided_by, auth) = match (&who, token) {
        (Some(p), None) => {
            p.require(Role::Operator)?;
            (p.name.clone(), DecisionAuth::Operator)
        }
        (Some(p), Some(_)) if p.role >= Role::Operator => (p.name.clone(), DecisionAuth::Operator),
        (_, Some(token)) => {
            let name = match &who {
                Some(p) => p.name.clone(),
                None => body
                    .decided_by
                    .as_deref()
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(|n| n.chars().take(100).collect::<String>())
                    .unwrap_or_else(|| "anonymous".to_string()),
            };
            (
                format!("link:{name}"),
                DecisionAuth::Token(ApprovalToken::from_secret(token)),
            )
        }
        (None, None) => {
            return Err(ApiError::unauthorized(
                "send an operator's bearer token, or the approval's one-time token as 'token'",
            ))
        }
    };
    let comment = body
        .comment
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    let decided = state
        .gate
        .decide(
            id,
            Decision {
                verdict: body.decision,
                decided_by,
                comment,
                auth,
            },
        )
        .await?;
    // The workflow records the decision on the timeline when it picks it up, now.
    state.workflows.wake(decided.incident_id);
    Ok(Json(decided))
}
