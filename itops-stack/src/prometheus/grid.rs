//! Several stored series of one service and metric (instances, replicas), each sampled at
//! its own scrape times, put on one time grid so that they can be summed or averaged.

/// Unix nanoseconds and a value.
pub(crate) type Point = (i64, f64);

/// `series` (each oldest first) on one grid: its step the median interval between
/// consecutive samples, its last point the latest sample of any series. At each grid
/// point, each series holds its latest sample at most two steps old (one missed scrape is
/// bridged; a series that stopped is not carried on). Grid points no series reaches are
/// left out.
pub(crate) fn on_common_grid(series: &[Vec<Point>]) -> Vec<Vec<Point>> {
    let mut gaps: Vec<i64> = series
        .iter()
        .flat_map(|s| s.windows(2).map(|w| w[1].0 - w[0].0))
        .filter(|gap| *gap > 0)
        .collect();
    let (Some(first), Some(last)) = (
        series.iter().filter_map(|s| s.first()).map(|p| p.0).min(),
        series.iter().filter_map(|s| s.last()).map(|p| p.0).max(),
    ) else {
        return Vec::new();
    };
    gaps.sort_unstable();
    let Some(&step) = gaps.get(gaps.len() / 2) else {
        // One sample per series: they share the latest instant.
        return series
            .iter()
            .map(|s| s.iter().map(|p| (last, p.1)).collect())
            .collect();
    };
    let lookback = step.saturating_mul(2);
    let steps = (last - first) / step;
    let grid: Vec<i64> = (0..=steps).rev().map(|k| last - k * step).collect();
    series
        .iter()
        .map(|s| {
            let mut out = Vec::with_capacity(grid.len());
            let mut next = 0;
            for &at in &grid {
                while next < s.len() && s[next].0 <= at {
                    next += 1;
                }
                if let Some(&(sampled, value)) = next.checked_sub(1).and_then(|i| s.get(i)) {
                    if at - sampled < lookback {
                        out.push((at, value));
                    }
                }
            }
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn instances_scraped_at_different_offsets_meet_on_one_grid() {
        // Every 15 s, one instance at 0 s, the other 7 s later; the second missed one scrape.
        let a: Vec<Point> = (0..6).map(|i| (i * 15 * S, 10.0 * i as f64)).collect();
        let b: Vec<Point> = (0..6)
            .filter(|i| *i != 3)
            .map(|i| ((i * 15 + 7) * S, 100.0 + i as f64))
            .collect();
        let grid = on_common_grid(&[a, b]);
        let times = |s: &[Point]| s.iter().map(|p| p.0 / S).collect::<Vec<_>>();
        // The grid ends at the latest sample (82 s) and steps back 15 s at a time.
        assert_eq!(times(&grid[0]), vec![7, 22, 37, 52, 67, 82]);
        assert_eq!(times(&grid[1]), vec![7, 22, 37, 52, 67, 82]);
        let values = |s: &[Point]| s.iter().map(|p| p.1).collect::<Vec<_>>();
        assert_eq!(values(&grid[0]), vec![0.0, 10.0, 20.0, 30.0, 40.0, 50.0]);
        // The missed scrape at 52 s is bridged by the one before it.
        assert_eq!(
            values(&grid[1]),
            vec![100.0, 101.0, 102.0, 102.0, 104.0, 105.0]
        );
    }

    #[test]
    fn a_series_that_stopped_is_not_carried_on() {
        let a: Vec<Point> = (0..10).map(|i| (i * 30 * S, 1.0)).collect();
        let b: Vec<Point> = (0..3).map(|i| (i * 30 * S, 2.0)).collect();
        let grid = on_common_grid(&[a, b]);
        assert_eq!(grid[0].len(), 10);
        assert_eq!(grid[1].len(), 4, "{:?}", grid[1]);
    }
}
