//! A column of entries kept in time order, so a time range is two binary searches.

/// Entries `(unix nanos, value)` in time order; equal times keep the order they were added.
///
/// Adds in order (the common case: a simulator or an exporter appends as time passes) are a
/// push. An add out of order is inserted at its place, which costs the number of later
/// entries it jumps over, cheap for the usual "slightly late" sample. Bulk loads that may be
/// in any order use [`TimeColumn::push_unordered`] and sort once with [`TimeColumn::sort`].
#[derive(Debug, Clone)]
pub(crate) struct TimeColumn<T> {
    entries: Vec<(i64, T)>,
    sorted: bool,
}

impl<T> Default for TimeColumn<T> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            sorted: true,
        }
    }
}

impl<T: Copy> TimeColumn<T> {
    /// Adds an entry at its place in time order.
    pub(crate) fn insert(&mut self, at: i64, value: T) {
        match self.entries.last() {
            Some(&(last, _)) if last > at && self.sorted => {
                let place = self.entries.partition_point(|&(t, _)| t <= at);
                self.entries.insert(place, (at, value));
            }
            _ => self.entries.push((at, value)),
        }
    }

    /// Appends an entry in any order; call [`TimeColumn::sort`] before reading.
    pub(crate) fn push_unordered(&mut self, at: i64, value: T) {
        if self.entries.last().is_some_and(|&(last, _)| last > at) {
            self.sorted = false;
        }
        self.entries.push((at, value));
    }

    /// Restores time order after unordered pushes (stable: equal times keep add order).
    pub(crate) fn sort(&mut self) {
        if !self.sorted {
            self.entries.sort_by_key(|&(t, _)| t);
            self.sorted = true;
        }
    }

    /// The entries with `start <= at < end`.
    pub(crate) fn range(&self, start: i64, end: i64) -> &[(i64, T)] {
        debug_assert!(self.sorted, "read before sort()");
        let from = self.entries.partition_point(|&(t, _)| t < start);
        let to = self.entries.partition_point(|&(t, _)| t < end);
        self.entries.get(from..to.max(from)).unwrap_or(&[])
    }

    /// Drops the entries before `start`; returns how many.
    pub(crate) fn drop_before(&mut self, start: i64) -> usize {
        debug_assert!(self.sorted, "pruned before sort()");
        let older = self.entries.partition_point(|&(t, _)| t < start);
        self.entries.drain(..older);
        older
    }

    /// Every entry, in time order.
    pub(crate) fn all(&self) -> &[(i64, T)] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_entries_land_in_place_after_equal_times() {
        let mut column = TimeColumn::default();
        for (at, value) in [
            (10, 'a'),
            (30, 'b'),
            (20, 'c'),
            (20, 'd'),
            (5, 'e'),
            (30, 'f'),
        ] {
            column.insert(at, value);
        }
        let values: String = column.all().iter().map(|&(_, v)| v).collect();
        assert_eq!(values, "eacdbf");
    }

    #[test]
    fn unordered_pushes_sort_stably() {
        let mut column = TimeColumn::default();
        for (at, value) in [(30, 'a'), (10, 'b'), (30, 'c'), (10, 'd')] {
            column.push_unordered(at, value);
        }
        column.sort();
        let values: String = column.all().iter().map(|&(_, v)| v).collect();
        assert_eq!(values, "bdac");
        column.insert(20, 'e');
        let values: String = column.all().iter().map(|&(_, v)| v).collect();
        assert_eq!(values, "bdeac");
    }

    #[test]
    fn range_is_half_open() {
        let mut column = TimeColumn::default();
        for at in [1, 2, 2, 3, 4] {
            column.insert(at, ());
        }
        assert_eq!(column.range(2, 4).len(), 3);
        assert_eq!(column.range(4, 2).len(), 0);
        assert_eq!(column.range(i64::MIN, i64::MAX).len(), 5);
    }
}
