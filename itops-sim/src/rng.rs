//! A seeded random source with the few distributions the simulator needs.
//!
//! Every stream is derived from the scenario seed and a label, so adding a new consumer of
//! randomness does not shift the numbers an existing one draws.

/// A deterministic random stream.
#[derive(Debug, Clone)]
pub(crate) struct SimRng(fastrand::Rng);

impl SimRng {
    /// The stream for `seed` and `label`.
    pub(crate) fn derive(seed: u64, label: &str) -> Self {
        Self(fastrand::Rng::with_seed(mix(seed, label)))
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn f64(&mut self) -> f64 {
        self.0.f64()
    }

    /// Uniform in `[lo, hi)`.
    pub(crate) fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.0.f64()
    }

    /// Uniform integer in `[0, n)`; 0 when `n` is 0.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            self.0.usize(0..n)
        }
    }

    /// Uniform integer in `[lo, hi]`.
    pub(crate) fn between(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            lo
        } else {
            self.0.u64(lo..=hi)
        }
    }

    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.0.f64() < p
    }

    /// Standard normal (Box–Muller).
    pub(crate) fn normal(&mut self) -> f64 {
        let u1 = self.0.f64().max(f64::MIN_POSITIVE);
        let u2 = self.0.f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Log-normal with the given median and log-space sigma.
    pub(crate) fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }

    /// Poisson-distributed count with mean `lambda` (normal approximation above 30).
    pub(crate) fn poisson(&mut self, lambda: f64) -> u64 {
        if lambda.is_nan() || lambda <= 0.0 {
            return 0;
        }
        if lambda > 30.0 {
            let x = lambda + lambda.sqrt() * self.normal();
            return x.round().max(0.0) as u64;
        }
        let limit = (-lambda).exp();
        let mut k = 0u64;
        let mut p = self.0.f64();
        while p > limit {
            k += 1;
            p *= self.0.f64();
        }
        k
    }

    /// One item of a non-empty slice; `None` when empty.
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            items.get(self.below(items.len()))
        }
    }

    /// An index drawn by weight; 0 when all weights are zero.
    pub(crate) fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().filter(|w| **w > 0.0).sum();
        if total <= 0.0 {
            return 0;
        }
        let mut x = self.0.f64() * total;
        for (i, w) in weights.iter().enumerate() {
            if *w > 0.0 {
                if x < *w {
                    return i;
                }
                x -= w;
            }
        }
        weights.len().saturating_sub(1)
    }

    /// Lower-case hex of `bytes` random bytes (trace ids: 16, span ids: 8).
    pub(crate) fn hex(&mut self, bytes: usize) -> String {
        let mut s = String::with_capacity(bytes * 2);
        for _ in 0..bytes {
            let b = self.0.u8(..);
            s.push(HEX[(b >> 4) as usize]);
            s.push(HEX[(b & 0xf) as usize]);
        }
        s
    }

    /// A random UUID-shaped string (request ids).
    pub(crate) fn uuid(&mut self) -> String {
        let h = self.hex(16);
        let variant = ['8', '9', 'a', 'b'][self.below(4)];
        format!(
            "{}-{}-4{}-{variant}{}-{}",
            &h[0..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..32]
        )
    }

    /// An upper-case alphanumeric word (product ids, order ids).
    pub(crate) fn code(&mut self, len: usize) -> String {
        const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        (0..len)
            .map(|_| ALNUM[self.below(ALNUM.len())] as char)
            .collect()
    }

    /// Shuffles a slice in place.
    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        self.0.shuffle(items);
    }
}

const HEX: [char; 16] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f',
];

/// Mixes a seed with a label (FNV-1a then SplitMix64): stable across platforms and releases.
pub(crate) fn mix(seed: u64, label: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in label.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    splitmix(seed ^ h)
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Standard normal cumulative distribution (Abramowitz–Stegun 7.1.26, error < 1.5e-7).
pub(crate) fn normal_cdf(x: f64) -> f64 {
    let z = x / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    let erf = if z >= 0.0 { erf } else { -erf };
    0.5 * (1.0 + erf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_independent() {
        let a: Vec<f64> = (0..5)
            .map({
                let mut r = SimRng::derive(7, "x");
                move |_| r.f64()
            })
            .collect();
        let b: Vec<f64> = (0..5)
            .map({
                let mut r = SimRng::derive(7, "x");
                move |_| r.f64()
            })
            .collect();
        let c: Vec<f64> = (0..5)
            .map({
                let mut r = SimRng::derive(7, "y");
                move |_| r.f64()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn distributions_have_the_right_means() {
        let mut r = SimRng::derive(1, "d");
        let n = 20_000;
        let mean_p: f64 = (0..n).map(|_| r.poisson(4.0) as f64).sum::<f64>() / n as f64;
        assert!((mean_p - 4.0).abs() < 0.1, "{mean_p}");
        let mean_n: f64 = (0..n).map(|_| r.normal()).sum::<f64>() / n as f64;
        assert!(mean_n.abs() < 0.05, "{mean_n}");
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-6);
        assert!((normal_cdf(2.326) - 0.99).abs() < 1e-3);
    }
}
