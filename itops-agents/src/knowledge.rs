//! Knowledge-base retrieval: BM25 over runbooks and past incidents, and the built-in
//! runbooks ([`runbooks`]).

use bm25::{Document, Language, SearchEngineBuilder};
use itops_core::{DocumentKind, KnowledgeDocument};
use serde::Serialize;

pub mod past;
pub mod runbooks;

pub use past::{learn_from_incident, past_incident_document, past_incident_id};
pub use runbooks::{
    actions_of, builtin_runbooks, parse_runbook, seed_knowledge, upsert_runbooks, Runbook,
};

/// One retrieved document.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KnowledgeHit {
    /// Document id.
    pub id: String,
    /// What it is.
    pub kind: DocumentKind,
    /// Title.
    pub title: String,
    /// BM25 score (higher is more relevant).
    pub score: f32,
    /// The start of the body.
    pub snippet: String,
    /// Services it is about.
    pub services: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
}

/// The text BM25 indexes for a document: title and tags weigh more by repetition. The
/// `action:<id>` tags are left out: they say what to do, not what the problem looks like.
fn indexed_text(doc: &KnowledgeDocument) -> String {
    let tags = doc
        .tags
        .iter()
        .filter(|t| !t.starts_with(runbooks::ACTION_TAG_PREFIX))
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ")
        .replace(['_', '-'], " ");
    let services = doc.services.join(" ");
    format!(
        "{title} {title} {tags} {tags} {services} {body}",
        title = doc.title,
        body = doc.body
    )
}

/// The `limit` documents most relevant to `query`, best first; documents that share no term
/// with the query are left out.
pub fn search_documents(
    documents: &[KnowledgeDocument],
    query: &str,
    limit: usize,
) -> Vec<KnowledgeHit> {
    if documents.is_empty() || query.trim().is_empty() || limit == 0 {
        return Vec::new();
    }
    let corpus: Vec<Document<usize>> = documents
        .iter()
        .enumerate()
        .map(|(i, d)| Document::new(i, indexed_text(d)))
        .collect();
    let engine = SearchEngineBuilder::<usize>::with_documents(Language::English, corpus).build();
    engine
        .search(&query.replace('_', " "), limit)
        .into_iter()
        .filter(|hit| hit.score > 0.0)
        .filter_map(|hit| documents.get(hit.document.id).map(|d| (d, hit.score)))
        .map(|(d, score)| KnowledgeHit {
            id: d.id.clone(),
            kind: d.kind,
            title: d.title.clone(),
            score,
            snippet: d.body.chars().take(400).collect(),
            services: d.services.clone(),
            tags: d.tags.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: &str, title: &str, body: &str, tags: &[&str]) -> KnowledgeDocument {
        KnowledgeDocument {
            id: id.into(),
            kind: DocumentKind::Runbook,
            title: title.into(),
            body: body.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            services: vec![],
            updated_at: chrono::DateTime::UNIX_EPOCH,
            version: 1,
        }
    }

    #[test]
    fn finds_the_relevant_runbook_first() {
        let docs = vec![
            doc(
                "rb/leak",
                "Memory leak",
                "Memory grows until the process is OOM killed. Restart the service.",
                &["memory_leak"],
            ),
            doc(
                "rb/pool",
                "Connection pool exhausted",
                "Requests wait for a database connection; raise the pool limit.",
                &["connection_pool_exhaustion"],
            ),
            doc(
                "rb/deploy",
                "Bad deploy",
                "Errors started right after a deploy; roll back the deployment.",
                &["bad_deploy"],
            ),
        ];
        let hits = search_documents(&docs, "OOM killed, memory keeps growing", 3);
        assert_eq!(hits[0].id, "rb/leak");
        let hits = search_documents(&docs, "timeout waiting for connection from pool", 3);
        assert_eq!(hits[0].id, "rb/pool");
        assert!(search_documents(&docs, "zebra", 3).is_empty());
        assert!(search_documents(&[], "memory", 3).is_empty());
    }
}
