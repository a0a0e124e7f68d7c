//! A latency histogram with fixed buckets and lock-free counters, rendered
//! as Prometheus `_bucket{le=..}`/`_sum`/`_count`.
//!
//! Observing is three relaxed atomic adds: no lock, no allocation, no
//! syscall. Buckets are cumulative only when rendered.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets in microseconds: 50 µs to 1 s.
pub const BUCKETS_US: [u64; 14] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000,
];

/// Counts of observations per bucket, plus their sum and count.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations in each bucket (not cumulative); the last slot is `+Inf`.
    buckets: [AtomicU64; BUCKETS_US.len() + 1],
    sum_ns: AtomicU64,
    count: AtomicU64,
}

/// A consistent-enough copy of a histogram for rendering.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HistogramSnapshot {
    /// Cumulative counts per bound of [`BUCKETS_US`], then `+Inf`.
    pub cumulative: Vec<u64>,
    /// Sum of the observations in nanoseconds.
    pub sum_ns: u64,
    /// Number of observations (equals the `+Inf` bucket).
    pub count: u64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let slot = BUCKETS_US.iter().position(|&le| us <= le).unwrap_or(BUCKETS_US.len());
        if let Some(b) = self.buckets.get(slot) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        self.sum_ns.fetch_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Cumulative counts, sum and count. The count is taken as the `+Inf`
    /// bucket so the rendered histogram is always self-consistent.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut cumulative = Vec::with_capacity(BUCKETS_US.len() + 1);
        let mut total = 0u64;
        for b in &self.buckets {
            total += b.load(Ordering::Relaxed);
            cumulative.push(total);
        }
        HistogramSnapshot { cumulative, sum_ns: self.sum_ns.load(Ordering::Relaxed), count: total }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_that_holds_them() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(10));
        h.observe(Duration::from_micros(50));
        h.observe(Duration::from_micros(51));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(5));
        let s = h.snapshot();
        assert_eq!(s.count, 5);
        assert_eq!(s.cumulative.len(), BUCKETS_US.len() + 1);
        assert_eq!(s.cumulative[0], 2, "<= 50 µs");
        assert_eq!(s.cumulative[1], 3, "<= 100 µs");
        assert_eq!(s.cumulative[5], 3, "<= 2.5 ms");
        assert_eq!(s.cumulative[6], 4, "<= 5 ms");
        assert_eq!(s.cumulative[BUCKETS_US.len() - 1], 4, "<= 1 s");
        assert_eq!(s.cumulative[BUCKETS_US.len()], 5, "+Inf");
        assert_eq!(s.sum_ns, 10_000 + 50_000 + 51_000 + 3_000_000 + 5_000_000_000);
    }

    #[test]
    fn cumulative_counts_never_decrease() {
        let h = Histogram::default();
        for us in [1, 70, 300, 900, 7_000, 60_000, 600_000, 2_000_000] {
            h.observe(Duration::from_micros(us));
        }
        let s = h.snapshot();
        assert!(s.cumulative.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(*s.cumulative.last().unwrap(), 8);
    }
}
