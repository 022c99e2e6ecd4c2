//! Interned names: each distinct service, metric or operation name is stored once.

use std::collections::HashMap;

/// Hash maps keyed by names or ids from bundle files: foldhash is several times faster
/// than SipHash on short keys and still seeds each map at random.
pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Names and their dense ids, in first-seen order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Names {
    ids: FastMap<Box<str>, usize>,
    names: Vec<Box<str>>,
}

impl Names {
    /// The id of `name`, adding it when new.
    pub(crate) fn intern(&mut self, name: &str) -> usize {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len();
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        id
    }

    /// The id of `name`, if it was ever added.
    pub(crate) fn get(&self, name: &str) -> Option<usize> {
        self.ids.get(name).copied()
    }

    /// The name of `id` (empty for an id never handed out).
    pub(crate) fn name(&self, id: usize) -> &str {
        self.names.get(id).map_or("", |name| name)
    }

    /// How many names.
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    /// Every name, in id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(|name| &**name)
    }
}
