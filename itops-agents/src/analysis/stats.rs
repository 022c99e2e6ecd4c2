//! Robust statistics over metric samples.

use serde::Serialize;

/// Summary statistics of a set of samples.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Number of samples.
    pub count: usize,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// Oldest sample.
    pub first: f64,
    /// Newest sample.
    pub last: f64,
}

impl Summary {
    /// Summarises `values` (in time order); `None` when there are none (non-finite values are ignored).
    pub fn of(values: &[f64]) -> Option<Self> {
        let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        let first = *finite.first()?;
        let last = *finite.last()?;
        let mut sorted = finite.clone();
        sorted.sort_by(f64::total_cmp);
        let sum: f64 = sorted.iter().sum();
        Some(Self {
            count: sorted.len(),
            min: sorted[0],
            max: sorted[sorted.len() - 1],
            mean: sum / sorted.len() as f64,
            p50: quantile_sorted(&sorted, 0.5),
            p95: quantile_sorted(&sorted, 0.95),
            first,
            last,
        })
    }
}

/// The `q` quantile (0..=1) of sorted values, linearly interpolated; NaN when empty.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let lo = pos.floor() as usize;
            let hi = pos.ceil() as usize;
            let frac = pos - lo as f64;
            sorted[lo] + (sorted[hi] - sorted[lo]) * frac
        }
    }
}

/// Arithmetic mean; 0 when empty.
pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

/// Median of unsorted values (finite ones); NaN when empty.
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    quantile_sorted(&v, 0.5)
}

/// Median absolute deviation, scaled (×1.4826) to estimate a standard deviation.
pub fn mad_sigma(values: &[f64]) -> f64 {
    let m = median(values);
    let deviations: Vec<f64> = values
        .iter()
        .filter(|x| x.is_finite())
        .map(|x| (x - m).abs())
        .collect();
    median(&deviations) * 1.4826
}

/// Rounds to a few significant digits so tool output stays short.
pub fn round_sig(value: f64, digits: i32) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value;
    }
    let magnitude = value.abs().log10().floor() as i32;
    let factor = 10f64.powi(digits - 1 - magnitude);
    (value * factor).round() / factor
}

/// The natural log of the chance that a count fell this far by chance: `ln P(X ≤ after)`
/// where, of the `before + after` events, each fell in the second window with probability
/// `share` (the second window's share of the exposure, e.g. of the requests that could have
/// made them). This is the exact conditional test of two Poisson rates (the events of each
/// window given their total), right for small counts where a normal approximation is not.
/// 0 (certain) when nothing is to be judged.
pub fn ln_fewer_by_chance(before: u64, after: u64, share: f64) -> f64 {
    let n = before + after;
    if n == 0 || !(0.0..1.0).contains(&share) || share == 0.0 {
        return 0.0;
    }
    // Terms of the binomial(n, share) probability mass from 0 up to `after`, in log space.
    let mut term = n as f64 * (-share).ln_1p();
    let ratio = share.ln() - (-share).ln_1p();
    let mut total = term;
    for k in 0..after {
        term += ((n - k) as f64).ln() - ((k + 1) as f64).ln() + ratio;
        let (hi, lo) = if term > total {
            (term, total)
        } else {
            (total, term)
        };
        total = hi + (lo - hi).exp().ln_1p();
    }
    total.min(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chance_of_a_fall_is_the_binomial_tail() {
        // 15 of 15 requests made a call before, 1 of 17 after: of the 16 calls, each fell
        // after with probability 17/32; P(X <= 1) = (15/32)^16 + 16 (17/32) (15/32)^15.
        let share: f64 = 17.0 / 32.0;
        let exact = (1.0 - share).powi(16) + 16.0 * share * (1.0 - share).powi(15);
        let got = ln_fewer_by_chance(15, 1, share).exp();
        assert!(
            (got - exact).abs() < 1e-12 * exact.max(1.0),
            "{got} vs {exact}"
        );
        // Small samples say little: 5 of 5 before, none of 5 after.
        assert!((ln_fewer_by_chance(5, 0, 0.5).exp() - 1.0 / 32.0).abs() < 1e-12);
        // No fall, or nothing to judge: certain.
        assert!(ln_fewer_by_chance(10, 10, 0.5) > (0.5_f64).ln());
        assert_eq!(ln_fewer_by_chance(0, 0, 0.5), 0.0);
        assert_eq!(ln_fewer_by_chance(3, 1, 1.0), 0.0);
        // Large counts stay finite: 2,000 calls that stopped.
        let far = ln_fewer_by_chance(2_000, 0, 0.5);
        assert!(far.is_finite() && far < -1_000.0, "{far}");
    }

    #[test]
    fn summary_of_known_values() {
        let s = Summary::of(&[3.0, 1.0, 2.0, f64::NAN, 4.0]).unwrap();
        assert_eq!(s.count, 4);
        assert_eq!((s.min, s.max, s.mean, s.p50), (1.0, 4.0, 2.5, 2.5));
        assert_eq!((s.first, s.last), (3.0, 4.0));
        assert!(Summary::of(&[]).is_none());
    }

    #[test]
    fn mad_ignores_outliers() {
        let mut v = vec![10.0; 50];
        v.extend([11.0, 9.0, 1000.0]);
        assert!(mad_sigma(&v) < 1.0);
        assert_eq!(median(&v), 10.0);
    }

    #[test]
    fn rounding_keeps_significant_digits() {
        assert_eq!(round_sig(123.456, 3), 123.0);
        assert_eq!(round_sig(0.0012345, 2), 0.0012);
        assert_eq!(round_sig(0.0, 3), 0.0);
    }
}
