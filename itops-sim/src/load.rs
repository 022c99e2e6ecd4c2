//! User load at the entry service: a daily shape, a weekend lift and slow random wander.

use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};

use super::rng::SimRng;

/// Requests per second arriving at the entry service.
#[derive(Clone, Debug)]
pub(crate) struct LoadModel {
    peak_rps: f64,
    /// Relative deviation from the daily shape; an AR(1) process.
    wander: f64,
    noise: f64,
    rng: SimRng,
}

impl LoadModel {
    pub(crate) fn new(peak_rps: f64, noise: f64, seed: u64) -> Self {
        Self {
            peak_rps,
            wander: 0.0,
            noise,
            rng: SimRng::derive(seed, "load"),
        }
    }

    /// The entry rate for the tick starting at `at`, lasting `dt_s` seconds.
    pub(crate) fn rate(&mut self, at: DateTime<Utc>, dt_s: f64) -> f64 {
        // Mean reversion with a time constant of ~10 minutes, whatever the tick length.
        let keep = (-dt_s / 600.0).exp();
        let sigma = 0.06 * self.noise * (1.0 - keep * keep).sqrt();
        self.wander = keep * self.wander + sigma * self.rng.normal();
        let jitter = 1.0 + 0.02 * self.noise * self.rng.normal();
        (self.peak_rps * daily_shape(at) * (1.0 + self.wander) * jitter).max(0.0)
    }
}

/// 0.2 at 04:00 UTC rising to 1.0 at 16:00 with a smaller evening shoulder; weekends +12 %.
pub(crate) fn daily_shape(at: DateTime<Utc>) -> f64 {
    let h = f64::from(at.hour()) + f64::from(at.minute()) / 60.0 + f64::from(at.second()) / 3600.0;
    let phase = std::f64::consts::TAU * (h - 4.0) / 24.0;
    let day = ((1.0 - phase.cos()) / 2.0).powf(1.4);
    let evening = (-((h - 20.5) / 1.6).powi(2)).exp() * 0.12;
    let weekend = match at.weekday() {
        Weekday::Sat | Weekday::Sun => 1.12,
        _ => 1.0,
    };
    ((0.2 + 0.8 * day + evening) * weekend).min(1.25)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_shape_peaks_in_the_afternoon_and_dips_at_night() {
        let day = |h| daily_shape(Utc.with_ymd_and_hms(2024, 3, 12, h, 0, 0).unwrap());
        assert!(day(16) > 0.95);
        assert!(day(4) < 0.25);
        assert!(day(10) > day(6));
    }
}
