//! The built-in runbooks: Markdown files with a small front matter, embedded at compile time.
//!
//! A runbook file looks like this:
//!
//! ```text
//! ---
//! id: runbook/memory-leak
//! title: Memory leak and OOM restarts
//! faults: [memory_leak]
//! actions: [restart_service, rollback_deployment, scale_out]
//! tags: [oom, heap, restarts, gc]
//! ---
//! ## Symptoms
//! ...
//! ```
//!
//! `faults` are [`FaultKind`] words, `actions` are ids of the standard
//! [`ActionCatalogue`], in the order to try them, and `tags` are free words. Steps outside
//! the catalogue belong in the body. [`Runbook::to_document`] turns a runbook into a
//! [`KnowledgeDocument`] whose tags carry the fault words, the tags and every action as
//! `action:<id>`, so that a [`KnowledgeHit`] exposes the actions ([`actions_of`]).

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use itops_core::catalogue::ActionCatalogue;
use itops_core::{DocumentKind, Error, FaultKind, KnowledgeDocument, KnowledgeStore, Result};
use serde::Serialize;

use super::KnowledgeHit;

/// The tag prefix that marks a catalogue action on a runbook's document: `action:<id>`.
pub const ACTION_TAG_PREFIX: &str = "action:";

/// The prefix every runbook id starts with.
const ID_PREFIX: &str = "runbook/";

/// The front-matter keys a runbook may have.
const KEYS: &[&str] = &["id", "title", "faults", "actions", "tags"];

macro_rules! runbook_file {
    ($name:literal) => {
        (
            concat!($name, ".md"),
            include_str!(concat!("../../knowledge/runbooks/", $name, ".md")),
        )
    };
}

/// Every file under `knowledge/runbooks/`, as (file name, contents).
const BUILTIN: &[(&str, &str)] = &[
    runbook_file!("bad-deploy"),
    runbook_file!("cache-stampede-cold-cache"),
    runbook_file!("config-error"),
    runbook_file!("connection-pool-exhaustion"),
    runbook_file!("cpu-contention"),
    runbook_file!("crash-loop-health-checks"),
    runbook_file!("dependency-down"),
    runbook_file!("disk-full"),
    runbook_file!("dns-resolution-failures"),
    runbook_file!("elevated-5xx-errors"),
    runbook_file!("exception-burst"),
    runbook_file!("gc-pauses"),
    runbook_file!("high-latency-slo-burn"),
    runbook_file!("memory-leak"),
    runbook_file!("network-delay"),
    runbook_file!("noisy-neighbour"),
    runbook_file!("queue-backlog-consumer-lag"),
    runbook_file!("slow-database-queries"),
    runbook_file!("thread-pool-saturation"),
    runbook_file!("tls-certificate-expiry"),
    runbook_file!("traffic-spike"),
    runbook_file!("wrong-return-value"),
];

/// A runbook: what a class of problem looks like, how to confirm it, which catalogue
/// actions mitigate it, and how to verify the fix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Runbook {
    /// Stable id, `runbook/<name>`.
    pub id: String,
    /// Title.
    pub title: String,
    /// The fault kinds it addresses.
    pub faults: Vec<FaultKind>,
    /// Catalogue action ids, in the order to try them (immediate mitigation first).
    pub actions: Vec<String>,
    /// Free-form tags (symptoms, components).
    pub tags: Vec<String>,
    /// The Markdown body after the front matter: symptoms, checks, actions, verification.
    pub body: String,
}

impl Runbook {
    /// The runbook as a knowledge-base document (kind `runbook`, version 0). Its tags are
    /// the fault words, then the runbook's tags, then `action:<id>` for every action.
    pub fn to_document(&self, updated_at: DateTime<Utc>) -> KnowledgeDocument {
        let mut tags: Vec<String> = Vec::new();
        let words = self
            .faults
            .iter()
            .map(|f| f.as_str().to_string())
            .chain(self.tags.iter().cloned())
            .chain(
                self.actions
                    .iter()
                    .map(|a| format!("{ACTION_TAG_PREFIX}{a}")),
            );
        for word in words {
            if !tags.contains(&word) {
                tags.push(word);
            }
        }
        KnowledgeDocument {
            id: self.id.clone(),
            kind: DocumentKind::Runbook,
            title: self.title.clone(),
            body: self.body.clone(),
            tags,
            services: Vec::new(),
            updated_at,
            version: 0,
        }
    }
}

/// The catalogue action ids a retrieved document carries (its `action:<id>` tags), in
/// order.
pub fn actions_of(hit: &KnowledgeHit) -> Vec<String> {
    hit.tags
        .iter()
        .filter_map(|t| t.strip_prefix(ACTION_TAG_PREFIX))
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect()
}

/// The runbooks shipped with itops, parsed from the embedded files, ordered by file name.
pub fn builtin_runbooks() -> Result<Vec<Runbook>> {
    let mut runbooks: Vec<Runbook> = Vec::with_capacity(BUILTIN.len());
    let mut files: BTreeMap<String, &str> = BTreeMap::new();
    for (file, text) in BUILTIN {
        let runbook = parse_runbook(text).map_err(|e| in_file(file, e))?;
        if let Some(other) = files.insert(runbook.id.clone(), file) {
            return Err(Error::invalid(
                "id",
                format!("'{}' is used by both {other} and {file}", runbook.id),
            ));
        }
        runbooks.push(runbook);
    }
    Ok(runbooks)
}

/// Adds the file name to a parse error's message.
fn in_file(file: &str, error: Error) -> Error {
    match error {
        Error::Invalid { field, message } => Error::Invalid {
            field,
            message: format!("{message} (in {file})"),
        },
        other => other,
    }
}

/// Parses one runbook: a front matter between `---` lines (`id`, `title`, and optionally
/// `faults`, `actions`, `tags`), then the Markdown body.
///
/// Errors are [`Error::Invalid`] naming the field: `front_matter` when it is missing,
/// unclosed or malformed; `id` or `title` when missing or malformed; `faults` for an
/// unknown fault kind; `actions` for an id that is not in [`ActionCatalogue::standard`];
/// `tags` for a tag with a space or the reserved `action:` prefix; `body` when there is no
/// body. Duplicate keys and duplicate list items are refused too.
pub fn parse_runbook(text: &str) -> Result<Runbook> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (front, body) = split_front_matter(text)?;

    let mut values: BTreeMap<&'static str, (usize, &str)> = BTreeMap::new();
    for (line_no, line) in front {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err(Error::invalid(
                "front_matter",
                format!("line {line_no}: expected 'key: value', got '{line}'"),
            ));
        };
        let key = key.trim().to_ascii_lowercase();
        let Some(known) = KEYS.iter().copied().find(|k| *k == key) else {
            return Err(Error::invalid(
                "front_matter",
                format!(
                    "line {line_no}: unknown key '{key}'; expected one of: {}",
                    KEYS.join(", ")
                ),
            ));
        };
        if let Some((first, _)) = values.insert(known, (line_no, value.trim())) {
            return Err(Error::invalid(
                known,
                format!("given twice (lines {first} and {line_no})"),
            ));
        }
    }

    let id = match values.get("id") {
        Some((_, v)) => unquote(v).to_string(),
        None => String::new(),
    };
    check_id(&id)?;

    let title = values
        .get("title")
        .map(|(_, v)| unquote(v).to_string())
        .unwrap_or_default();
    if title.is_empty() {
        return Err(Error::invalid(
            "title",
            "missing: the front matter needs 'title: <what the runbook is about>'",
        ));
    }

    let faults = list(&values, "faults")?
        .into_iter()
        .map(|word| {
            FaultKind::from_str(word).map_err(|_| {
                Error::invalid(
                    "faults",
                    format!(
                        "unknown fault kind '{word}'; expected one of: {}",
                        FaultKind::ALL
                            .iter()
                            .map(FaultKind::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    no_duplicates("faults", &faults)?;

    let catalogue = ActionCatalogue::standard();
    let actions = list(&values, "actions")?
        .into_iter()
        .map(|id| match catalogue.get(id) {
            Ok(entry) => Ok(entry.id.to_string()),
            Err(_) => Err(Error::invalid(
                "actions",
                format!(
                    "'{id}' is not in the action catalogue; expected one of: {} \
                     (describe other steps in the body)",
                    catalogue.ids().join(", ")
                ),
            )),
        })
        .collect::<Result<Vec<_>>>()?;
    no_duplicates("actions", &actions)?;

    let tags: Vec<String> = list(&values, "tags")?
        .into_iter()
        .map(str::to_string)
        .collect();
    if let Some(tag) = tags.iter().find(|t| t.starts_with(ACTION_TAG_PREFIX)) {
        return Err(Error::invalid(
            "tags",
            format!(
                "'{tag}': the '{ACTION_TAG_PREFIX}' prefix is reserved; list catalogue actions under 'actions'"
            ),
        ));
    }
    if let Some(tag) = tags.iter().find(|t| t.contains(char::is_whitespace)) {
        return Err(Error::invalid(
            "tags",
            format!("'{tag}' contains a space; a tag is one word (join words with '-')"),
        ));
    }
    no_duplicates("tags", &tags)?;

    let body = body.trim();
    if body.is_empty() {
        return Err(Error::invalid(
            "body",
            "empty: write the symptoms, checks, actions and verification after the front matter",
        ));
    }

    Ok(Runbook {
        id,
        title,
        faults,
        actions,
        tags,
        body: body.to_string(),
    })
}

/// The numbered front-matter lines and the body after the closing `---`.
fn split_front_matter(text: &str) -> Result<(Vec<(usize, &str)>, &str)> {
    let mut offset = 0;
    let mut opened = false;
    let mut front: Vec<(usize, &str)> = Vec::new();
    for (i, raw) in text.split_inclusive('\n').enumerate() {
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        if !opened {
            if line.trim().is_empty() {
                continue;
            }
            if line.trim_end() != "---" {
                return Err(Error::invalid(
                    "front_matter",
                    "missing: a runbook starts with a '---' line, then 'id:', 'title:', \
                     'faults:', 'actions:', 'tags:' lines, then another '---' line",
                ));
            }
            opened = true;
            continue;
        }
        if line.trim_end() == "---" {
            return Ok((front, &text[offset..]));
        }
        front.push((i + 1, line));
    }
    if opened {
        Err(Error::invalid(
            "front_matter",
            "not closed: add a '---' line after the last key",
        ))
    } else {
        Err(Error::invalid(
            "front_matter",
            "missing: the runbook is empty",
        ))
    }
}

/// Checks a runbook id: `runbook/` then lowercase letters, digits, `-`, `_` or `/`.
fn check_id(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::invalid(
            "id",
            "missing: the front matter needs 'id: runbook/<name>'",
        ));
    }
    let name = id.strip_prefix(ID_PREFIX).unwrap_or_default();
    let valid = !name.is_empty()
        && id.len() <= 256
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '/'));
    if valid {
        Ok(())
    } else {
        Err(Error::invalid(
            "id",
            format!(
                "must be '{ID_PREFIX}<name>' with lowercase letters, digits, '-', '_' or '/' \
                 (at most 256 bytes), got '{id}'"
            ),
        ))
    }
}

/// Strips one pair of matching quotes.
fn unquote(value: &str) -> &str {
    let value = value.trim();
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|v| v.strip_suffix(quote))
        {
            return inner.trim();
        }
    }
    value
}

/// The items of a list value: `[a, b, c]`, or a bare `a, b`. Absent means empty.
fn list<'a>(
    values: &BTreeMap<&'static str, (usize, &'a str)>,
    key: &'static str,
) -> Result<Vec<&'a str>> {
    let Some((_, value)) = values.get(key) else {
        return Ok(Vec::new());
    };
    let inner = match (value.strip_prefix('['), value.ends_with(']')) {
        (Some(rest), true) => rest.strip_suffix(']').unwrap_or(rest),
        (None, false) => value,
        _ => {
            return Err(Error::invalid(
                key,
                format!("must be a list like [a, b], got '{value}'"),
            ))
        }
    };
    let items: Vec<&str> = inner.split(',').map(unquote).collect();
    let last = items.len().saturating_sub(1);
    for (i, item) in items.iter().enumerate() {
        // A trailing comma and an empty list are fine; an empty item in between is not.
        if item.is_empty() && i != last {
            return Err(Error::invalid(
                key,
                format!("item {} is empty in '{value}'", i + 1),
            ));
        }
    }
    Ok(items.into_iter().filter(|i| !i.is_empty()).collect())
}

/// Refuses a list that names the same item twice.
fn no_duplicates<T: PartialEq + std::fmt::Display>(field: &str, items: &[T]) -> Result<()> {
    for (i, item) in items.iter().enumerate() {
        if items[..i].contains(item) {
            return Err(Error::invalid(field, format!("'{item}' is listed twice")));
        }
    }
    Ok(())
}

/// Stores `runbooks` as knowledge documents: creates the missing ones, updates those whose
/// content (kind, title, body, tags, services) differs from the stored one, using the
/// stored version, and leaves identical ones alone. Returns how many were written.
///
/// The runbook is the source of truth for its id: a stored document with the same id is
/// replaced when it differs. To customise one, store it under another id.
pub async fn upsert_runbooks(
    store: &dyn KnowledgeStore,
    runbooks: &[Runbook],
    now: DateTime<Utc>,
) -> Result<usize> {
    let mut written = 0;
    for runbook in runbooks {
        let mut document = runbook.to_document(now);
        match store.get_document(&document.id).await {
            Ok(stored) if same_content(&stored, &document) => continue,
            Ok(stored) => document.version = stored.version,
            Err(Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        store.put_document(&document).await?;
        written += 1;
    }
    Ok(written)
}

/// Seeds `store` with the built-in runbooks ([`builtin_runbooks`]) as [`upsert_runbooks`]
/// does; running it again writes nothing unless a runbook changed. Returns how many
/// documents were written.
pub async fn seed_knowledge(store: &dyn KnowledgeStore, now: DateTime<Utc>) -> Result<usize> {
    upsert_runbooks(store, &builtin_runbooks()?, now).await
}

/// Whether two documents say the same thing (timestamps and versions aside).
fn same_content(a: &KnowledgeDocument, b: &KnowledgeDocument) -> bool {
    a.kind == b.kind
        && a.title == b.title
        && a.body == b.body
        && a.tags == b.tags
        && a.services == b.services
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every Markdown file in the directory is embedded, under an id that matches its name.
    #[test]
    fn every_file_is_embedded_under_its_own_name() {
        let dir = itops_core::testing::workspace_root().join("itops-agents/knowledge/runbooks");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".md"))
                    .collect()
            })
            .unwrap_or_default();
        on_disk.sort();
        let embedded: Vec<String> = BUILTIN.iter().map(|(f, _)| f.to_string()).collect();
        assert_eq!(on_disk, embedded, "BUILTIN must list every file, sorted");

        for (file, text) in BUILTIN {
            let runbook = parse_runbook(text).map_err(|e| format!("{file}: {e}"));
            assert_eq!(
                runbook.map(|r| r.id),
                Ok(format!("{ID_PREFIX}{}", file.trim_end_matches(".md")))
            );
        }
    }

    #[test]
    fn lists_accept_brackets_bare_words_and_trailing_commas() {
        let mut values = BTreeMap::new();
        values.insert("tags", (1, "[a, 'b', c,]"));
        values.insert("faults", (2, "memory_leak"));
        values.insert("actions", (3, "[]"));
        assert_eq!(list(&values, "tags").ok(), Some(vec!["a", "b", "c"]));
        assert_eq!(list(&values, "faults").ok(), Some(vec!["memory_leak"]));
        assert_eq!(list(&values, "actions").ok(), Some(vec![]));
        values.insert("tags", (1, "[a, , b]"));
        assert!(list(&values, "tags").is_err());
        values.insert("tags", (1, "[a, b"));
        assert!(list(&values, "tags").is_err());
    }
}
