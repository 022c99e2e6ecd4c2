//! `count_incidents_by_status`: one query in the stores that can, the same answer as
//! listing every incident.

use std::sync::Arc;

use itops_core::store::{IncidentFilter, IncidentStore, MemoryStore};
use itops_core::{IncidentStatus, NewIncident, Severity, SystemClock};

/// Opens `n` incidents and moves every third to `investigating`, every fifth to `resolved`.
async fn seed(store: &dyn IncidentStore, n: usize) {
    let now = chrono::Utc::now();
    for i in 0..n {
        let incident = NewIncident::new(format!("incident {i}"), Severity::Low)
            .into_incident(now)
            .unwrap();
        let stored = store.create_incident(&incident).await.unwrap();
        let to = if i % 5 == 0 {
            IncidentStatus::Resolved
        } else if i % 3 == 0 {
            IncidentStatus::Investigating
        } else {
            continue;
        };
        store
            .update_incident(&stored.with_status(to, now))
            .await
            .unwrap();
    }
}

/// The counts by listing every incident.
async fn listed(store: &dyn IncidentStore) -> Vec<(IncidentStatus, u64)> {
    let mut counts = Vec::new();
    for status in IncidentStatus::ALL {
        let page = store
            .list_incidents(&IncidentFilter {
                status: Some(*status),
                limit: Some(500),
                ..IncidentFilter::default()
            })
            .await
            .unwrap();
        if !page.items.is_empty() {
            counts.push((*status, page.items.len() as u64));
        }
    }
    counts
}

async fn check(store: &dyn IncidentStore) {
    seed(store, 31).await;
    let mut counted = store.count_incidents_by_status().await.unwrap();
    counted.retain(|(_, n)| *n > 0);
    counted.sort_by_key(|(s, _)| s.as_str());
    let mut expected = listed(store).await;
    expected.sort_by_key(|(s, _)| s.as_str());
    assert_eq!(counted, expected);
    assert_eq!(counted.iter().map(|(_, n)| n).sum::<u64>(), 31);
}

#[tokio::test]
async fn the_memory_store_counts_incidents_by_status() {
    check(&MemoryStore::new(Arc::new(SystemClock))).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn the_sqlite_store_counts_incidents_by_status_in_one_query() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        itops_core::store::SqliteStore::open(dir.path().join("s.sqlite3"), Arc::new(SystemClock))
            .unwrap();
    check(&store).await;
}
