//! A committed write survives power loss: the SQLite store commits with `synchronous=FULL`
//! (in WAL mode, `NORMAL` may lose the last commits, an approval decision or an action's
//! start record among them, if the machine loses power).

use std::sync::Arc;

use itops_core::SystemClock;

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn the_sqlite_store_commits_with_synchronous_full() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("itops.sqlite3");
    let store = itops_core::store::SqliteStore::open(&path, Arc::new(SystemClock)).unwrap();
    assert_eq!(store.synchronous().await.unwrap(), "FULL");
    // Reopened, it is set again (the setting belongs to the connection, not the file).
    drop(store);
    let store = itops_core::store::SqliteStore::open(&path, Arc::new(SystemClock)).unwrap();
    assert_eq!(store.synchronous().await.unwrap(), "FULL");
}
