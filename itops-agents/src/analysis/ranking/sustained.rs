//! What an incident window's samples reach for about a minute: a single-sample spike is
//! not enough, and a fault whose effect lasts a minute of a long window still counts.

use chrono::{DateTime, Duration, Utc};

/// How far `deviations` (sorted by size, largest first) stay from the baseline for
/// `rank + 1` samples, in the direction they went: the `rank`-th by size, signed by the way
/// the series rose or fell farther for that many samples. A series that swung both ways
/// is off by as much as it swung, and reads in the way it went the farther (not by which
/// way the `rank`-th largest sample happens to point).
pub(crate) fn deviation(deviations: &[f64], rank: usize) -> f64 {
    let n = deviations.len();
    if n == 0 {
        return 0.0;
    }
    let rank = rank.min(n - 1);
    let size = deviations[rank];
    if 2 * rank >= n {
        return size;
    }
    let mut sorted = deviations.to_vec();
    sorted.sort_by(f64::total_cmp);
    // How far the series rose, and fell, for that many samples (0 when it did not).
    let rose = sorted[n - 1 - rank].max(0.0);
    let fell = (-sorted[rank]).max(0.0);
    if rose > fell {
        size.abs()
    } else if fell > rose {
        -size.abs()
    } else {
        size
    }
}

/// The 0-based rank, among incident samples sorted by deviation, whose deviation counts as
/// sustained: the samples of about a minute, at most 30 % of them, and at least two unless
/// the series is sampled every [`SPIKE_FREE_STEP`] or more (`step`, its typical interval
/// over all its samples, so that a gap in the incident window does not make it coarser): a
/// five-minute average, as cloud monitoring keeps by default, has already smoothed any
/// spike, and its first sample off is the incident, as the alarm on it says.
pub(crate) fn rank(incident: &[(DateTime<Utc>, f64)], step: Duration) -> usize {
    let n = incident.len();
    if n < 2 {
        return 0;
    }
    let span = (incident[n - 1].0 - incident[0].0)
        .num_milliseconds()
        .max(1) as f64;
    let per_minute = (60_000.0 * (n - 1) as f64 / span).ceil() as usize;
    let most = (n * 3).div_ceil(10);
    let least = if step >= SPIKE_FREE_STEP { 1 } else { 2 };
    per_minute.min(most).max(least).min(n) - 1
}

/// The sampling interval from which one sample off its baseline is no spike.
const SPIKE_FREE_STEP: Duration = Duration::minutes(2);

#[cfg(test)]
mod tests {
    use super::*;

    /// `values` sorted by size, largest first, as the deviations are handed over.
    fn by_size(mut values: Vec<f64>) -> Vec<f64> {
        values.sort_by(|a, b| b.abs().total_cmp(&a.abs()));
        values
    }

    #[test]
    fn a_series_that_rose_far_with_a_brief_dip_reads_as_risen() {
        // Eleven samples far up, two down, ten more moderately up, the rest at the
        // baseline: the twelfth largest by size is one of the two down, but the series
        // stayed up for twelve samples and down for two.
        let mut values = vec![40.0; 11];
        values.extend([-8.0, -7.0]);
        values.extend(vec![5.0; 10]);
        values.extend(vec![0.1; 40]);
        let z = deviation(&by_size(values), 11);
        assert!(z > 0.0, "{z}");
        // Off by as much as it swung: the twelfth largest by size.
        assert_eq!(z, 8.0);
    }

    #[test]
    fn a_series_that_fell_and_stayed_down_reads_as_fallen() {
        let mut values = vec![-20.0; 15];
        values.extend([30.0, 25.0]);
        values.extend(vec![0.2; 40]);
        assert_eq!(deviation(&by_size(values), 11), -20.0);
        // Every sample the same way, all equal: that way.
        assert_eq!(deviation(&by_size(vec![-9.0; 30]), 11), -9.0);
    }

    #[test]
    fn one_sample_of_coarse_data_is_enough_and_of_fine_data_is_not() {
        let t = |s: i64| DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap_or_default();
        let samples = |step: i64, n: i64| -> Vec<(DateTime<Utc>, f64)> {
            (0..n).map(|i| (t(i * step), 0.0)).collect()
        };
        let secs = Duration::seconds;
        // Five-minute averages: the largest counts, even of two.
        assert_eq!(rank(&samples(300, 2), secs(300)), 0);
        assert_eq!(rank(&samples(300, 12), secs(300)), 0);
        // A sample a minute: two of them, however few there are, and even when the two in
        // the window are four minutes apart (a gap in a series sampled every minute).
        assert_eq!(rank(&samples(60, 2), secs(60)), 1);
        assert_eq!(rank(&samples(60, 10), secs(60)), 1);
        assert_eq!(rank(&samples(240, 2), secs(60)), 1);
        // A sample a second: about a minute of them, at most 30 % of the window.
        assert_eq!(rank(&samples(1, 300), secs(1)), 59);
        assert_eq!(rank(&samples(1, 100), secs(1)), 29);
    }

    #[test]
    fn few_samples_are_read_by_size_and_none_read_zero() {
        assert_eq!(deviation(&by_size(vec![5.0, -3.0]), 1), -3.0);
        assert_eq!(deviation(&[], 3), 0.0);
        assert_eq!(deviation(&[4.0], 3), 4.0);
    }
}
