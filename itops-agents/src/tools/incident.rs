//! Incident tools: incidents, the timeline, the knowledge base and approval requests.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use itops_core::incidents::{add_note, edit_incident, open_incident, IncidentEdit};
use itops_core::store::IncidentFilter;
use itops_core::{
    Actor, Approval, ApprovalGate, ApprovalRequest, Clock, DocumentKind, DynTool, Incident,
    IncidentId, IncidentStatus, NewIncident, Result, Severity, StateStore, TimelineEntry,
    TimelineKind, Tool,
};
use serde::{Deserialize, Serialize};

use crate::knowledge::{search_documents, KnowledgeHit};

/// Shared state of the incident tools.
#[derive(Clone)]
pub struct IncidentTools {
    store: Arc<dyn StateStore>,
    gate: Arc<dyn ApprovalGate>,
    clock: Arc<dyn Clock>,
    actor: Actor,
}

impl IncidentTools {
    /// Tools over `store` and `gate`; `actor` names the caller on the timeline.
    pub fn new(
        store: Arc<dyn StateStore>,
        gate: Arc<dyn ApprovalGate>,
        clock: Arc<dyn Clock>,
        actor: Actor,
    ) -> Self {
        Self {
            store,
            gate,
            clock,
            actor,
        }
    }

    /// Every incident tool.
    pub fn tools(&self) -> Vec<Arc<dyn DynTool>> {
        vec![
            Arc::new(CreateIncident(self.clone())),
            Arc::new(GetIncident(self.clone())),
            Arc::new(ListIncidents(self.clone())),
            Arc::new(UpdateIncident(self.clone())),
            Arc::new(AddNote(self.clone())),
            Arc::new(ReadTimeline(self.clone())),
            Arc::new(SearchKnowledge(self.clone())),
            Arc::new(SimilarIncidents(self.clone())),
            Arc::new(RequestApproval(self.clone())),
        ]
    }

    async fn record(
        &self,
        incident: IncidentId,
        kind: TimelineKind,
        summary: String,
        payload: serde_json::Value,
    ) -> Result<TimelineEntry> {
        let entry = TimelineEntry::new(
            incident,
            self.clock.now(),
            self.actor.clone(),
            kind,
            summary,
        )
        .with_payload(payload);
        self.store.append_timeline(&entry).await
    }
}

fn parse_id(id: &str) -> Result<IncidentId> {
    id.parse()
}

// ---------------------------------------------------------------- create_incident

/// Arguments of `create_incident`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CreateIncidentArgs {
    /// One-line summary (1–200 characters).
    pub title: String,
    /// What was observed.
    #[serde(default)]
    pub description: String,
    /// critical, high, medium or low.
    pub severity: String,
    /// Services involved, if known.
    #[serde(default)]
    pub affected_services: Vec<String>,
}

/// Opens an incident.
pub struct CreateIncident(IncidentTools);

#[async_trait]
impl Tool for CreateIncident {
    type Args = CreateIncidentArgs;
    type Output = Incident;

    fn name(&self) -> &str {
        "create_incident"
    }

    fn description(&self) -> &str {
        "Open a new incident with a title, description, severity (critical|high|medium|low) and affected services."
    }

    async fn call(&self, args: CreateIncidentArgs) -> Result<Incident> {
        let severity: Severity = args.severity.parse()?;
        let mut new = NewIncident::new(args.title, severity)
            .description(args.description)
            .source(self.0.actor.to_string());
        new.affected_services = args.affected_services;
        let t = &self.0;
        open_incident(t.store.as_ref(), t.clock.now(), &t.actor, new).await
    }
}

// ---------------------------------------------------------------- get_incident

/// Arguments naming one incident.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct IncidentRef {
    /// The incident id (a UUID).
    pub id: String,
}

/// Reads one incident.
pub struct GetIncident(IncidentTools);

#[async_trait]
impl Tool for GetIncident {
    type Args = IncidentRef;
    type Output = Incident;

    fn name(&self) -> &str {
        "get_incident"
    }

    fn description(&self) -> &str {
        "Read one incident by id: title, description, severity, status, affected services, version."
    }

    async fn call(&self, args: IncidentRef) -> Result<Incident> {
        self.0.store.get_incident(parse_id(&args.id)?).await
    }
}

// ---------------------------------------------------------------- list_incidents

/// Arguments of `list_incidents`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListIncidentsArgs {
    /// Only this status (open, triaging, investigating, planning, awaiting_approval, executing, verifying, resolved, escalated).
    #[serde(default)]
    pub status: Option<String>,
    /// Only this severity.
    #[serde(default)]
    pub severity: Option<String>,
    /// Only incidents naming this affected service.
    #[serde(default)]
    pub service: Option<String>,
    /// Page size (1–100, default 20).
    #[serde(default)]
    pub limit: Option<u32>,
    /// The previous page's `next_cursor`.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// A page of incidents.
#[derive(Debug, Serialize)]
pub struct IncidentListing {
    /// Newest first.
    pub incidents: Vec<Incident>,
    /// Pass as `cursor` for the next page.
    pub next_cursor: Option<String>,
}

/// Lists incidents.
pub struct ListIncidents(IncidentTools);

#[async_trait]
impl Tool for ListIncidents {
    type Args = ListIncidentsArgs;
    type Output = IncidentListing;

    fn name(&self) -> &str {
        "list_incidents"
    }

    fn description(&self) -> &str {
        "List incidents newest first, filtered by status, severity or affected service, with pagination."
    }

    async fn call(&self, args: ListIncidentsArgs) -> Result<IncidentListing> {
        let filter = IncidentFilter {
            status: args
                .status
                .as_deref()
                .map(str::parse::<IncidentStatus>)
                .transpose()?,
            severity: args
                .severity
                .as_deref()
                .map(str::parse::<Severity>)
                .transpose()?,
            service: args.service,
            limit: Some(args.limit.unwrap_or(20).clamp(1, 100) as usize),
            cursor: args.cursor.as_deref().map(parse_id).transpose()?,
            ..IncidentFilter::default()
        };
        let page = self.0.store.list_incidents(&filter).await?;
        Ok(IncidentListing {
            incidents: page.items,
            next_cursor: page.next_cursor.map(|c| c.to_string()),
        })
    }
}

// ---------------------------------------------------------------- update_incident

/// Arguments of `update_incident`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct UpdateIncidentArgs {
    /// The incident id.
    pub id: String,
    /// The version you read; the update is refused if someone changed the incident since.
    #[serde(default)]
    pub version: Option<u64>,
    /// New title.
    #[serde(default)]
    pub title: Option<String>,
    /// New description.
    #[serde(default)]
    pub description: Option<String>,
    /// New severity.
    #[serde(default)]
    pub severity: Option<String>,
    /// New affected services (replaces the list).
    #[serde(default)]
    pub affected_services: Option<Vec<String>>,
}

/// Edits an incident's title, description, severity or services (not its workflow status).
pub struct UpdateIncident(IncidentTools);

#[async_trait]
impl Tool for UpdateIncident {
    type Args = UpdateIncidentArgs;
    type Output = Incident;

    fn name(&self) -> &str {
        "update_incident"
    }

    fn description(&self) -> &str {
        "Edit an incident's title, description, severity or affected services. Pass the version \
         you read to refuse the edit if the incident changed meanwhile. The status is moved by the workflow only."
    }

    async fn call(&self, args: UpdateIncidentArgs) -> Result<Incident> {
        let edit = IncidentEdit {
            version: args.version,
            title: args.title,
            description: args.description,
            severity: args.severity.as_deref().map(str::parse).transpose()?,
            affected_services: args.affected_services,
            status: None,
        };
        let t = &self.0;
        edit_incident(
            t.store.as_ref(),
            t.clock.now(),
            &t.actor,
            parse_id(&args.id)?,
            edit,
        )
        .await
    }
}

// ---------------------------------------------------------------- add_note

/// Arguments of `add_note`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AddNoteArgs {
    /// The incident id.
    pub id: String,
    /// The note (1–4000 characters).
    pub text: String,
}

/// Appends a note to an incident's timeline.
pub struct AddNote(IncidentTools);

#[async_trait]
impl Tool for AddNote {
    type Args = AddNoteArgs;
    type Output = TimelineEntry;

    fn name(&self) -> &str {
        "add_note"
    }

    fn description(&self) -> &str {
        "Append a note to an incident's timeline."
    }

    async fn call(&self, args: AddNoteArgs) -> Result<TimelineEntry> {
        let t = &self.0;
        add_note(
            t.store.as_ref(),
            t.clock.now(),
            &t.actor,
            parse_id(&args.id)?,
            &args.text,
        )
        .await
    }
}

// ---------------------------------------------------------------- read_timeline

/// Arguments of `read_timeline`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ReadTimelineArgs {
    /// The incident id.
    pub id: String,
    /// Only entries after this sequence number (default 0: from the start).
    #[serde(default)]
    pub after_seq: Option<u64>,
    /// How many entries (1–200, default 50).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Reads an incident's timeline.
pub struct ReadTimeline(IncidentTools);

#[async_trait]
impl Tool for ReadTimeline {
    type Args = ReadTimelineArgs;
    type Output = Vec<TimelineEntry>;

    fn name(&self) -> &str {
        "read_timeline"
    }

    fn description(&self) -> &str {
        "Read an incident's timeline (every status change, agent thought, tool call, decision and approval), oldest first."
    }

    async fn call(&self, args: ReadTimelineArgs) -> Result<Vec<TimelineEntry>> {
        let id = parse_id(&args.id)?;
        self.0.store.get_incident(id).await?;
        self.0
            .store
            .timeline(
                id,
                args.after_seq.unwrap_or(0),
                args.limit.unwrap_or(50).clamp(1, 200) as usize,
            )
            .await
    }
}

// ---------------------------------------------------------------- search_knowledge

/// Arguments of `search_knowledge`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SearchKnowledgeArgs {
    /// What to look for: symptoms, error messages, fault kinds, service names.
    pub query: String,
    /// Only runbook, past_incident or note.
    #[serde(default)]
    pub kind: Option<String>,
    /// How many results (1–20, default 5).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Searches runbooks and past incidents.
pub struct SearchKnowledge(IncidentTools);

#[async_trait]
impl Tool for SearchKnowledge {
    type Args = SearchKnowledgeArgs;
    type Output = Vec<KnowledgeHit>;

    fn name(&self) -> &str {
        "search_knowledge"
    }

    fn description(&self) -> &str {
        "Search the knowledge base (runbooks and resolved past incidents) by symptoms, error text, fault kind or service; best matches first."
    }

    async fn call(&self, args: SearchKnowledgeArgs) -> Result<Vec<KnowledgeHit>> {
        let kind = args
            .kind
            .as_deref()
            .map(str::parse::<DocumentKind>)
            .transpose()?;
        let documents = self.0.store.list_documents(kind).await?;
        Ok(search_documents(
            &documents,
            &args.query,
            args.limit.unwrap_or(5).clamp(1, 20) as usize,
        ))
    }
}

// ---------------------------------------------------------------- similar_incidents

/// Arguments of `similar_incidents`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SimilarIncidentsArgs {
    /// The incident to match; its title, description and services form the query.
    pub id: String,
    /// How many results (1–20, default 5).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Finds resolved past incidents that resemble an incident.
pub struct SimilarIncidents(IncidentTools);

#[async_trait]
impl Tool for SimilarIncidents {
    type Args = SimilarIncidentsArgs;
    type Output = Vec<KnowledgeHit>;

    fn name(&self) -> &str {
        "similar_incidents"
    }

    fn description(&self) -> &str {
        "Find resolved past incidents that resemble this one (by title, description and services), best matches first."
    }

    async fn call(&self, args: SimilarIncidentsArgs) -> Result<Vec<KnowledgeHit>> {
        let incident = self.0.store.get_incident(parse_id(&args.id)?).await?;
        let query = format!(
            "{} {} {}",
            incident.title,
            incident.description,
            incident.affected_services.join(" ")
        );
        let documents = self
            .0
            .store
            .list_documents(Some(DocumentKind::PastIncident))
            .await?;
        let own_id = format!("incident/{}", incident.id);
        let mut hits = search_documents(
            &documents,
            &query,
            args.limit.unwrap_or(5).clamp(1, 20) as usize + 1,
        );
        hits.retain(|h| h.id != own_id);
        hits.truncate(args.limit.unwrap_or(5).clamp(1, 20) as usize);
        Ok(hits)
    }
}

// ---------------------------------------------------------------- request_approval

/// Arguments of `request_approval`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RequestApprovalArgs {
    /// The incident id.
    pub id: String,
    /// What a human should approve, in one line.
    pub summary: String,
    /// Details for the approver (actions, risk, evidence).
    #[serde(default)]
    pub details: serde_json::Value,
    /// Minutes the approver has (1–1440, default 60).
    #[serde(default)]
    pub expires_in_minutes: Option<u32>,
}

/// Asks a human for approval. Deciding is for humans only (API or UI): no tool decides.
pub struct RequestApproval(IncidentTools);

#[async_trait]
impl Tool for RequestApproval {
    type Args = RequestApprovalArgs;
    type Output = Approval;

    fn name(&self) -> &str {
        "request_approval"
    }

    fn description(&self) -> &str {
        "Ask a human to approve something for an incident. Returns the pending approval; only a \
         human can decide it (through the API or UI), never a tool."
    }

    async fn call(&self, args: RequestApprovalArgs) -> Result<Approval> {
        let id = parse_id(&args.id)?;
        self.0.store.get_incident(id).await?;
        let minutes = u64::from(args.expires_in_minutes.unwrap_or(60).clamp(1, 1440));
        let mut request = ApprovalRequest::new(id, args.summary, Duration::from_secs(minutes * 60));
        request.payload = args.details;
        request.requested_by = self.0.actor.clone();
        // The one-time token goes to humans only; the caller gets the approval without it.
        let ticket = self.0.gate.request(request).await?;
        self.0
            .record(
                id,
                TimelineKind::ApprovalRequested,
                ticket.approval.summary.clone(),
                serde_json::json!({ "approval_id": ticket.approval.id, "expires_at": ticket.approval.expires_at }),
            )
            .await?;
        Ok(ticket.approval)
    }
}
