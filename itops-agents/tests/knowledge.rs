//! The built-in runbooks: they parse, cover every fault kind, name only catalogue actions,
//! are found by realistic symptom queries, and seed a store idempotently.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeSet;

use chrono::{DateTime, TimeZone, Utc};
use itops_agents::knowledge::{
    actions_of, builtin_runbooks, parse_runbook, search_documents, seed_knowledge, Runbook,
};
use itops_core::catalogue::ActionCatalogue;
use itops_core::store::MemoryStore;
use itops_core::{DocumentKind, Error, FaultKind, KnowledgeDocument, KnowledgeStore};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap()
}

fn runbooks() -> Vec<Runbook> {
    builtin_runbooks().unwrap_or_else(|e| panic!("a built-in runbook does not parse: {e}"))
}

fn documents() -> Vec<KnowledgeDocument> {
    runbooks().iter().map(|r| r.to_document(now())).collect()
}

// ---------------------------------------------------------------- the built-in set

#[test]
fn every_builtin_runbook_parses_with_a_unique_id() {
    let runbooks = runbooks();
    assert!(runbooks.len() >= 20, "only {} runbooks", runbooks.len());
    let ids: BTreeSet<&str> = runbooks.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), runbooks.len(), "duplicate ids");
    for r in &runbooks {
        assert!(r.id.starts_with("runbook/"), "{}", r.id);
        assert!(!r.title.trim().is_empty(), "{}", r.id);
        assert!(!r.faults.is_empty(), "{} lists no fault kind", r.id);
        assert!(!r.actions.is_empty(), "{} lists no action", r.id);
        assert!(!r.tags.is_empty(), "{} has no tags", r.id);
    }
}

#[test]
fn every_fault_kind_but_unknown_has_a_runbook() {
    let runbooks = runbooks();
    for kind in FaultKind::ALL {
        if *kind == FaultKind::Unknown {
            continue;
        }
        assert!(
            runbooks.iter().any(|r| r.faults.contains(kind)),
            "no runbook for {kind}"
        );
    }
}

#[test]
fn every_listed_action_is_in_the_catalogue_and_described_in_the_body() {
    let catalogue = ActionCatalogue::standard();
    for r in runbooks() {
        for action in &r.actions {
            assert!(catalogue.get(action).is_ok(), "{}: {action}", r.id);
            assert!(
                r.body.contains(&format!("`{action}`")),
                "{}: the body does not explain `{action}`",
                r.id
            );
        }
    }
}

#[test]
fn every_runbook_has_symptoms_checks_actions_and_verification() {
    for r in runbooks() {
        let headings: Vec<&str> = r
            .body
            .lines()
            .filter_map(|l| l.strip_prefix("## "))
            .map(str::trim)
            .collect();
        assert_eq!(
            headings,
            ["Symptoms", "Checks", "Actions", "Verify"],
            "{}",
            r.id
        );
    }
}

#[test]
fn the_document_carries_faults_tags_and_actions() {
    let runbooks = runbooks();
    let r = runbooks
        .iter()
        .find(|r| r.id == "runbook/memory-leak")
        .unwrap();
    let doc = r.to_document(now());
    doc.validate().unwrap();
    assert_eq!(doc.kind, DocumentKind::Runbook);
    assert_eq!(doc.version, 0);
    assert_eq!(doc.updated_at, now());
    assert_eq!(doc.title, r.title);
    assert_eq!(doc.body, r.body);
    assert_eq!(doc.tags.first().map(String::as_str), Some("memory_leak"));
    for tag in &r.tags {
        assert!(doc.tags.contains(tag), "{tag}");
    }
    let actions: Vec<&str> = doc
        .tags
        .iter()
        .filter_map(|t| t.strip_prefix("action:"))
        .collect();
    assert_eq!(
        actions,
        ["restart_service", "rollback_deployment", "scale_out"]
    );
}

// ---------------------------------------------------------------- parsing

const GOOD: &str = "---
id: runbook/memory-leak
title: Memory leak and OOM restarts
faults: [memory_leak]
actions: [restart_service, scale_out]
tags: [oom, heap, restarts, gc]
---
## Symptoms
Memory grows.
";

#[test]
fn parses_the_documented_format() {
    let r = parse_runbook(GOOD).unwrap();
    assert_eq!(r.id, "runbook/memory-leak");
    assert_eq!(r.title, "Memory leak and OOM restarts");
    assert_eq!(r.faults, [FaultKind::MemoryLeak]);
    assert_eq!(r.actions, ["restart_service", "scale_out"]);
    assert_eq!(r.tags, ["oom", "heap", "restarts", "gc"]);
    assert_eq!(r.body, "## Symptoms\nMemory grows.");

    // Windows line endings, quotes, a comment and absent optional lists.
    let r = parse_runbook(
        "\r\n---\r\n# a comment\r\nid: \"runbook/x\"\r\ntitle: 'A: title'\r\n---\r\nBody\r\n",
    )
    .unwrap();
    assert_eq!(r.id, "runbook/x");
    assert_eq!(r.title, "A: title");
    assert!(r.faults.is_empty() && r.actions.is_empty() && r.tags.is_empty());
    assert_eq!(r.body, "Body");
}

/// The field and message of an `Invalid` error; anything else fails the test.
fn invalid(text: &str) -> (String, String) {
    match parse_runbook(text) {
        Err(Error::Invalid { field, message }) => (field, message),
        other => panic!("expected an Invalid error, got {other:?}"),
    }
}

#[test]
fn parse_errors_name_the_field_and_the_problem() {
    let (field, message) = invalid("## Symptoms\nno front matter\n");
    assert_eq!(field, "front_matter");
    assert!(message.contains("missing"), "{message}");

    let (field, message) = invalid("---\nid: runbook/x\ntitle: X\n## Symptoms\n");
    assert_eq!(field, "front_matter");
    assert!(message.contains("not closed"), "{message}");

    let (field, message) = invalid(&GOOD.replace("[memory_leak]", "[memory_leak, heap_bloat]"));
    assert_eq!(field, "faults");
    assert!(message.contains("'heap_bloat'"), "{message}");
    assert!(
        message.contains("memory_leak, exception_burst"),
        "{message}"
    );

    let (field, message) = invalid(&GOOD.replace("scale_out]", "page_the_dba]"));
    assert_eq!(field, "actions");
    assert!(message.contains("'page_the_dba'"), "{message}");
    assert!(message.contains("raise_pool_limit"), "{message}");

    let (field, message) = invalid(&GOOD.replace("title: Memory leak and OOM restarts\n", ""));
    assert_eq!(field, "title");
    assert!(message.contains("missing"), "{message}");

    let (field, message) = invalid(&GOOD.replace("title: Memory leak and OOM restarts", "title:"));
    assert_eq!(field, "title");
    assert!(message.contains("missing"), "{message}");

    let (field, message) = invalid(&GOOD.replace("id: runbook/memory-leak\n", ""));
    assert_eq!(field, "id");
    assert!(message.contains("missing"), "{message}");

    let (field, message) = invalid(&GOOD.replace("runbook/memory-leak", "Memory Leak"));
    assert_eq!(field, "id");
    assert!(message.contains("'Memory Leak'"), "{message}");

    let (field, message) = invalid(&GOOD.replace("tags:", "labels:"));
    assert_eq!(field, "front_matter");
    assert!(
        message.contains("line 6") && message.contains("'labels'"),
        "{message}"
    );

    let (field, message) = invalid(&GOOD.replace("faults: [memory_leak]", "just some words"));
    assert_eq!(field, "front_matter");
    assert!(message.contains("line 4"), "{message}");

    let (field, message) = invalid(&GOOD.replace("tags:", "title: Again\ntags:"));
    assert_eq!(field, "title");
    assert!(message.contains("twice"), "{message}");

    let (field, message) = invalid(&GOOD.replace("scale_out]", "scale_out, restart_service]"));
    assert_eq!(field, "actions");
    assert!(message.contains("twice"), "{message}");

    let (field, message) = invalid(&GOOD.replace("[oom,", "[action:clear_cache, oom,"));
    assert_eq!(field, "tags");
    assert!(message.contains("reserved"), "{message}");

    let (field, message) = invalid(&GOOD.replace("gc]", "gc"));
    assert_eq!(field, "tags");
    assert!(message.contains("must be a list"), "{message}");

    let (field, message) = invalid(&GOOD.replace("[oom, heap,", "[oom, heap"));
    assert_eq!(field, "tags");
    assert!(message.contains("'heap restarts'"), "{message}");

    let (field, message) = invalid(&GOOD.replace("## Symptoms\nMemory grows.\n", "\n  \n"));
    assert_eq!(field, "body");
    assert!(message.contains("empty"), "{message}");

    let (field, _) = invalid("");
    assert_eq!(field, "front_matter");
}

// ---------------------------------------------------------------- retrieval

/// Searches the built-in runbooks and checks `expected` comes first.
fn assert_first(docs: &[KnowledgeDocument], query: &str, expected: &str) {
    let hits = search_documents(docs, query, 3);
    let top: Vec<(&str, f32)> = hits.iter().map(|h| (h.id.as_str(), h.score)).collect();
    assert_eq!(
        hits.first().map(|h| h.id.as_str()),
        Some(expected),
        "query {query:?} ranked {top:?}"
    );
}

#[test]
fn symptom_queries_find_the_runbook_for_each_fault_kind() {
    let docs = documents();
    let cases: &[(FaultKind, &str, &str)] = &[
        (
            FaultKind::MemoryLeak,
            "OutOfMemoryError heap keeps growing pods restarting",
            "runbook/memory-leak",
        ),
        (
            FaultKind::CpuContention,
            "container pegged at 100% of its cpu limit, cfs throttled periods climbing, traffic flat",
            "runbook/cpu-contention",
        ),
        (
            FaultKind::ExceptionBurst,
            "NullPointerException stack traces flooding the logs since 10:05, 500s on one endpoint",
            "runbook/exception-burst",
        ),
        (
            FaultKind::WrongReturnValue,
            "we return 200 but downstream rejects the payload: schema validation failed, unexpected null in price",
            "runbook/wrong-return-value",
        ),
        (
            FaultKind::NetworkDelay,
            "Read timed out calling across zones, tcp retransmits up, callee server-side time unchanged",
            "runbook/network-delay",
        ),
        (
            FaultKind::DependencyDown,
            "ECONNREFUSED to upstream, CircuitBreaker is OPEN, every caller failing at once",
            "runbook/dependency-down",
        ),
        (
            FaultKind::ConnectionPoolExhaustion,
            "HikariPool-1 - Connection is not available, request timed out after 30000ms",
            "runbook/connection-pool-exhaustion",
        ),
        (
            FaultKind::DiskFull,
            "write failed: No space left on device, /var/log at 100%",
            "runbook/disk-full",
        ),
        (
            FaultKind::BadDeploy,
            "errors began minutes after v2.14 rolled out, only the new build's pods are failing",
            "runbook/bad-deploy",
        ),
        (
            FaultKind::ConfigError,
            "someone pushed a settings change, now failed to parse config and 401 Unauthorized from dependencies",
            "runbook/config-error",
        ),
        (
            FaultKind::TrafficSpike,
            "requests per second tripled after the campaign email, 429 Too Many Requests, autoscaler at max",
            "runbook/traffic-spike",
        ),
    ];
    let covered: BTreeSet<FaultKind> = cases.iter().map(|(k, _, _)| *k).collect();
    assert_eq!(
        covered.len(),
        FaultKind::ALL.len() - 1,
        "one query per fault kind"
    );
    let runbooks = runbooks();
    for (kind, query, expected) in cases {
        let runbook = runbooks.iter().find(|r| r.id == *expected).unwrap();
        assert!(
            runbook.faults.contains(kind),
            "{expected} is not for {kind}"
        );
        assert_first(&docs, query, expected);
    }
}

#[test]
fn symptom_queries_find_the_general_runbooks() {
    let docs = documents();
    let cases: &[(&str, &str)] = &[
        (
            "502 Bad Gateway and 504 Gateway Timeout from the load balancer",
            "runbook/elevated-5xx-errors",
        ),
        (
            "p99 above objective, burn rate alert firing, error budget draining",
            "runbook/high-latency-slo-burn",
        ),
        (
            "consumer group lag keeps growing, oldest message is an hour old",
            "runbook/queue-backlog-consumer-lag",
        ),
        (
            "hit ratio fell to zero after the cache cluster restarted, database reads up 10x",
            "runbook/cache-stampede-cold-cache",
        ),
        (
            "getaddrinfo ENOTFOUND api.internal, Temporary failure in name resolution",
            "runbook/dns-resolution-failures",
        ),
        (
            "x509: certificate has expired or is not yet valid",
            "runbook/tls-certificate-expiry",
        ),
        (
            "Lock wait timeout exceeded; try restarting transaction",
            "runbook/slow-database-queries",
        ),
        (
            "RejectedExecutionException, all workers busy but cpu is idle",
            "runbook/thread-pool-saturation",
        ),
        (
            "multi-second stop-the-world pauses, GC overhead limit exceeded",
            "runbook/gc-pauses",
        ),
        (
            "high steal time on one host, only replicas scheduled there are slow",
            "runbook/noisy-neighbour",
        ),
        (
            "CrashLoopBackOff: Back-off restarting failed container, liveness probe failed",
            "runbook/crash-loop-health-checks",
        ),
    ];
    for (query, expected) in cases {
        assert_first(&docs, query, expected);
    }
}

#[test]
fn a_fault_word_query_finds_a_runbook_for_that_fault() {
    // The offline planner queries with the fault kind's words first.
    let docs = documents();
    let runbooks = runbooks();
    for kind in FaultKind::ALL {
        if *kind == FaultKind::Unknown {
            continue;
        }
        let hits = search_documents(&docs, &kind.as_str().replace('_', " "), 1);
        let top = hits.first().unwrap_or_else(|| panic!("nothing for {kind}"));
        let runbook = runbooks.iter().find(|r| r.id == top.id).unwrap();
        assert!(runbook.faults.contains(kind), "{kind} found {}", top.id);
    }
}

#[test]
fn hits_expose_the_runbook_actions() {
    let docs = documents();
    let hits = search_documents(&docs, "No space left on device", 1);
    assert_eq!(actions_of(&hits[0]), ["clear_cache", "restart_service"]);
    let hits = search_documents(&docs, "OutOfMemoryError heap keeps growing", 1);
    assert_eq!(
        actions_of(&hits[0]),
        ["restart_service", "rollback_deployment", "scale_out"]
    );
}

// ---------------------------------------------------------------- seeding

#[tokio::test]
async fn seeding_is_idempotent_and_updates_changed_documents() {
    let store = MemoryStore::default();
    let count = runbooks().len();

    assert_eq!(seed_knowledge(&store, now()).await.unwrap(), count);
    let stored = store
        .list_documents(Some(DocumentKind::Runbook))
        .await
        .unwrap();
    assert_eq!(stored.len(), count);
    assert!(stored.iter().all(|d| d.version == 1));

    let later = now() + chrono::Duration::hours(1);
    assert_eq!(seed_knowledge(&store, later).await.unwrap(), 0);
    let leak = store.get_document("runbook/memory-leak").await.unwrap();
    assert_eq!((leak.version, leak.updated_at), (1, now()));

    // Someone edits a stored runbook; seeding restores the shipped text.
    let mut edited = leak.clone();
    edited.body = "Restart it.".into();
    edited.tags.push("local".into());
    let edited = store.put_document(&edited).await.unwrap();
    assert_eq!(edited.version, 2);
    assert_eq!(seed_knowledge(&store, later).await.unwrap(), 1);
    let restored = store.get_document("runbook/memory-leak").await.unwrap();
    assert_eq!(restored.version, 3);
    assert_eq!(restored.updated_at, later);
    assert_eq!(restored.body, leak.body);
    assert_eq!(restored.tags, leak.tags);

    // A missing one is created again; documents of other ids are left alone.
    store.delete_document("runbook/disk-full").await.unwrap();
    let note = KnowledgeDocument {
        id: "note/on-call".into(),
        kind: DocumentKind::Note,
        title: "On-call rota".into(),
        body: "Weekly.".into(),
        tags: vec![],
        services: vec![],
        updated_at: now(),
        version: 0,
    };
    store.put_document(&note).await.unwrap();
    assert_eq!(seed_knowledge(&store, later).await.unwrap(), 1);
    assert_eq!(seed_knowledge(&store, later).await.unwrap(), 0);
    assert_eq!(store.get_document("note/on-call").await.unwrap().version, 1);
    assert_eq!(store.list_documents(None).await.unwrap().len(), count + 1);

    // Seeded documents are searchable as the store returns them.
    let docs = store
        .list_documents(Some(DocumentKind::Runbook))
        .await
        .unwrap();
    let hits = search_documents(&docs, "No space left on device", 1);
    assert_eq!(hits[0].id, "runbook/disk-full");
}
