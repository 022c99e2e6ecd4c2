//! Live events: a store wrapper that publishes every timeline entry and incident change as it
//! is written, whoever writes it (API, workflow, agents), for the SSE endpoint and metrics.

use itops_core::store::{Observed, StoreObserver, Write};
use itops_core::{Incident, IncidentId, StateStore, TimelineEntry};
use tokio::sync::broadcast;

/// Something that changed.
#[derive(Clone, Debug)]
pub(crate) enum Event {
    /// An entry was appended to a timeline.
    Timeline(TimelineEntry),
    /// An incident was created or updated.
    Incident(Incident),
    /// An incident was deleted.
    Deleted(IncidentId),
}

impl Event {
    /// The incident the event is about.
    pub(crate) fn incident_id(&self) -> IncidentId {
        match self {
            Event::Timeline(e) => e.incident_id,
            Event::Incident(i) => i.id,
            Event::Deleted(id) => *id,
        }
    }
}

/// Fan-out of events to every subscriber (slow subscribers lag and re-read the store).
#[derive(Clone, Debug)]
pub(crate) struct EventBus {
    tx: broadcast::Sender<Event>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new(1024)
    }
}

impl EventBus {
    /// A bus buffering up to `capacity` events per subscriber.
    pub(crate) fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(16));
        Self { tx }
    }

    /// Subscribes to every event from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    fn publish(&self, event: Event) {
        // Nobody listening is fine.
        let _ = self.tx.send(event);
    }
}

/// A [`StateStore`] that publishes what it writes on an [`EventBus`]: created and updated
/// incidents, deleted ones and timeline entries.
pub(crate) type PublishingStore = Observed<dyn StateStore, EventBus>;

impl StoreObserver for EventBus {
    fn written(&self, write: Write<'_>) {
        match write {
            Write::CreateIncident(incident) | Write::UpdateIncident(incident) => {
                self.publish(Event::Incident(incident.clone()));
            }
            Write::DeleteIncident(id) => self.publish(Event::Deleted(id)),
            Write::AppendTimeline(entry) => self.publish(Event::Timeline(entry.clone())),
            _ => {}
        }
    }
}
