//! `ApprovalGate::list_page` against `list`: every filter, paged with small pages, gives
//! the same approvals in the same order, each page within its size, the last without a
//! cursor; and a cursor naming no approval is `NotFound`.

use super::{CaseResult, Context};
use crate::approval::{ApprovalFilter, ApprovalGate};
use crate::error::Error;
use crate::id::{ApprovalId, IncidentId};

/// Pages through `filter` with pages of 1, 2 and 3 and compares with `expected`.
pub(super) async fn pages_match<G: ApprovalGate>(
    gate: &G,
    what: &str,
    filter: &ApprovalFilter,
    expected: &[ApprovalId],
) -> CaseResult {
    for size in 1..=3 {
        let mut seen = Vec::new();
        let mut cursor = None;
        for page_number in 0.. {
            ensure!(
                page_number <= expected.len(),
                "list_page {what} (pages of {size}): more pages than approvals"
            );
            let page = gate
                .list_page(&ApprovalFilter {
                    limit: Some(size),
                    cursor,
                    ..filter.clone()
                })
                .await
                .ctx(&format!("list_page {what} (pages of {size})"))?;
            ensure!(
                page.items.len() <= size,
                "list_page {what}: a page of {} for a limit of {size}",
                page.items.len()
            );
            if let Some(status) = filter.status {
                ensure!(
                    page.items.iter().all(|a| a.status == status),
                    "list_page {what}: reported statuses {:?}",
                    page.items.iter().map(|a| a.status).collect::<Vec<_>>()
                );
            }
            seen.extend(page.items.iter().map(|a| a.id));
            match page.next_cursor {
                Some(next) => {
                    ensure!(
                        page.items.last().map(|a| a.id) == Some(next),
                        "list_page {what}: the cursor is not the page's last approval"
                    );
                    cursor = Some(next);
                }
                None => break,
            }
        }
        ensure_eq!(
            seen,
            expected.to_vec(),
            format!("list_page {what} (pages of {size})")
        );
    }
    Ok(())
}

/// A cursor naming no approval is `NotFound`.
pub(super) async fn unknown_cursor<G: ApprovalGate>(gate: &G) -> CaseResult {
    let result = gate
        .list_page(&ApprovalFilter {
            cursor: Some(ApprovalId::new()),
            incident_id: Some(IncidentId::new()),
            ..ApprovalFilter::default()
        })
        .await;
    ensure!(
        matches!(result, Err(Error::NotFound { .. })),
        "list_page with an unknown cursor: expected NotFound, got {result:?}"
    );
    Ok(())
}
