//! The arithmetic of ranking accuracy, shared by the simulator's suite and labelled cases:
//! AC@k, Avg@5, MRR, shares, means and percentiles.

use serde::Serialize;

/// How well a group of rankings placed the root, from each ranking's 1-based rank of the
/// root (`None` when the root is not among the candidates, the ranking is empty, or the run
/// failed: all count as misses).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub(super) struct RankAccuracy {
    /// AC@1: the share of rankings with the root first.
    pub(super) ac1: f64,
    /// AC@2: the root among the first two.
    pub(super) ac2: f64,
    /// AC@3: the root among the first three.
    pub(super) ac3: f64,
    /// AC@4: the root among the first four.
    pub(super) ac4: f64,
    /// AC@5: the root among the first five.
    pub(super) ac5: f64,
    /// The mean of AC@1 to AC@5.
    pub(super) avg5: f64,
    /// The mean reciprocal rank (1/rank, 0 when the root is absent).
    pub(super) mrr: f64,
}

impl RankAccuracy {
    /// The accuracy of `ranks`; all zero for none.
    pub(super) fn of(ranks: &[Option<usize>]) -> Self {
        let ac: [f64; 5] = std::array::from_fn(|i| ac_at(ranks, i + 1));
        let reciprocal: Vec<f64> = ranks
            .iter()
            .map(|r| r.filter(|k| *k > 0).map_or(0.0, |k| 1.0 / k as f64))
            .collect();
        Self {
            ac1: ac[0],
            ac2: ac[1],
            ac3: ac[2],
            ac4: ac[3],
            ac5: ac[4],
            avg5: ac.iter().sum::<f64>() / ac.len() as f64,
            mrr: mean(&reciprocal).unwrap_or(0.0),
        }
    }
}

/// AC@k: the share of `ranks` with the root among the first `k`; 0 for none.
pub(super) fn ac_at(ranks: &[Option<usize>], k: usize) -> f64 {
    share(
        ranks
            .iter()
            .filter(|r| r.is_some_and(|r| r >= 1 && r <= k))
            .count(),
        ranks.len(),
    )
}

/// `hits / total`; 0 when `total` is 0.
pub(super) fn share(hits: usize, total: usize) -> f64 {
    if total == 0 {
        0.0
    } else {
        hits as f64 / total as f64
    }
}

/// The mean; `None` for no values.
pub(super) fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// The `p`-th percentile (0 < p ≤ 100) by nearest rank: the smallest value with at least
/// p% of the values at or below it. `None` for no values.
pub(super) fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted.len()) - 1;
    sorted.get(index).copied()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn ac_at_k_counts_the_root_within_the_first_k_and_misses_as_misses() {
        // ranks 1, 2, 3, 6, absent.
        let ranks = [Some(1), Some(2), Some(3), Some(6), None];
        assert!(close(ac_at(&ranks, 1), 0.2));
        assert!(close(ac_at(&ranks, 2), 0.4));
        assert!(close(ac_at(&ranks, 3), 0.6));
        assert!(close(ac_at(&ranks, 5), 0.6));
        assert!(close(ac_at(&ranks, 6), 0.8));
        assert!(close(ac_at(&[], 1), 0.0));
    }

    #[test]
    fn avg5_is_the_mean_of_ac1_to_ac5_and_mrr_the_mean_reciprocal_rank() {
        let ranks = [Some(1), Some(2), Some(4), None];
        let a = RankAccuracy::of(&ranks);
        // AC@1..5 = 1/4, 2/4, 2/4, 3/4, 3/4.
        assert!(close(a.ac1, 0.25) && close(a.ac2, 0.5) && close(a.ac3, 0.5));
        assert!(close(a.ac4, 0.75) && close(a.ac5, 0.75));
        assert!(close(a.avg5, (0.25 + 0.5 + 0.5 + 0.75 + 0.75) / 5.0));
        assert!(close(a.mrr, (1.0 + 0.5 + 0.25 + 0.0) / 4.0));
        assert_eq!(RankAccuracy::of(&[]), RankAccuracy::default());
    }

    #[test]
    fn the_p95_is_the_nearest_rank() {
        let values: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&values, 95.0), Some(19.0));
        let values: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(percentile(&values, 95.0), Some(95.0));
        assert_eq!(percentile(&values, 100.0), Some(100.0));
        assert_eq!(percentile(&[7.0], 95.0), Some(7.0));
        assert_eq!(percentile(&[3.0, 1.0, 2.0], 50.0), Some(2.0));
        assert_eq!(percentile(&[], 95.0), None);
    }

    #[test]
    fn means_and_shares_of_nothing_are_defined() {
        assert_eq!(mean(&[]), None);
        assert!(close(mean(&[1.0, 2.0, 6.0]).unwrap(), 3.0));
        assert!(close(share(0, 0), 0.0));
        assert!(close(share(1, 4), 0.25));
    }
}
