//! Merging several time-ordered columns into one time-ordered stream.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Yields `(source, entry)` from several time-ordered slices in time order; among equal
/// times, the smaller `tie` key first, so the merged order is deterministic.
pub(crate) struct MergeByTime<'a, T, F> {
    sources: Vec<&'a [(i64, T)]>,
    heap: BinaryHeap<Reverse<(i64, u64, usize)>>,
    tie: F,
}

impl<'a, T, F: Fn(usize, &T) -> u64> MergeByTime<'a, T, F> {
    /// Merges `sources`; `tie(source, value)` orders entries at the same time.
    pub(crate) fn new(sources: Vec<&'a [(i64, T)]>, tie: F) -> Self {
        let mut heap = BinaryHeap::with_capacity(sources.len());
        for (source, slice) in sources.iter().enumerate() {
            if let Some((at, value)) = slice.first() {
                heap.push(Reverse((*at, tie(source, value), source)));
            }
        }
        Self { sources, heap, tie }
    }
}

impl<'a, T, F: Fn(usize, &T) -> u64> Iterator for MergeByTime<'a, T, F> {
    type Item = (usize, &'a (i64, T));

    fn next(&mut self) -> Option<Self::Item> {
        let Reverse((_, _, source)) = self.heap.pop()?;
        let slice = self.sources.get_mut(source)?;
        let (entry, rest) = slice.split_first()?;
        *slice = rest;
        if let Some((at, value)) = rest.first() {
            self.heap
                .push(Reverse((*at, (self.tie)(source, value), source)));
        }
        Some((source, entry))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_in_time_then_tie_order() {
        let a = [(1, 10_usize), (3, 11), (3, 14)];
        let b = [(2, 12_usize), (3, 13)];
        let merged: Vec<usize> = MergeByTime::new(vec![&a[..], &b[..]], |_, v| *v as u64)
            .map(|(_, (_, v))| *v)
            .collect();
        assert_eq!(merged, [10, 12, 11, 13, 14]);
    }
}
