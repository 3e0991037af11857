//! Quiet replication: when a node may keep its own spending on a key to
//! itself, so that users far from their limits cost no record at all.
//!
//! The rule, for a bucket of capacity `C` whose level this node sees at `L`
//! after spending `u` tokens it has not published, with `N` nodes in the
//! cluster and a watermark `W = w·C`: the node stays quiet while the level
//! before its unpublished spending is above the watermark, `L + u > W`, and
//! `u` is at most its share of that headroom, `(L + u − W) / N`, or one
//! token, whichever is more. Otherwise the key is published with the next
//! sync. So:
//!
//! - far from the limit, a node publishes nothing: a bucket that refills
//!   to full without being published needs no tombstone either;
//! - below the watermark every spending is published, as it always was;
//! - every node's quiet spending on a key together is at most `max(N, L − W)`
//!   tokens (one token each, or their shares of the headroom above `W`), so a
//!   burst admits beyond the limit only what exceeds the tokens left — only
//!   for buckets of fewer tokens than nodes, by at most `N − (L − W)`;
//! - nothing is hidden for good: a node's counted spending is cumulative, so
//!   its next record carries what it kept quiet.
//!
//! `w = 1` turns quiet replication off: every spending is published.

use super::bucket::Limit;

/// Millionths in one.
const PPM: i128 = 1_000_000;

/// The watermark, as a fraction of each bucket's capacity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quiet {
    watermark_ppm: u32,
}

/// A watermark outside (0, 1].
#[derive(Debug, PartialEq, thiserror::Error)]
#[error("the watermark is a fraction of the capacity: more than 0, at most 1 (got {0})")]
pub struct BadWatermark(pub f64);

impl Quiet {
    /// Every spending published at once (the watermark at the full bucket).
    pub const LOUD: Quiet = Quiet {
        watermark_ppm: PPM as u32,
    };

    /// Quiet above `watermark` × capacity (0 < watermark ≤ 1).
    pub fn new(watermark: f64) -> Result<Self, BadWatermark> {
        if !(watermark > 0.0 && watermark <= 1.0) {
            return Err(BadWatermark(watermark));
        }
        Ok(Self {
            watermark_ppm: (watermark * PPM as f64).round() as u32,
        })
    }

    /// The watermark as a fraction of capacity.
    pub fn watermark(&self) -> f64 {
        f64::from(self.watermark_ppm) / PPM as f64
    }

    /// Whether a node may keep `unpublished` tokens of its own spending on a
    /// bucket of `limit`, now at `level`, to itself, with `nodes` nodes in
    /// the cluster (see the module for the rule).
    pub fn holds(&self, limit: &Limit, level: i64, unpublished: u32, nodes: u32) -> bool {
        if unpublished == 0 {
            return true;
        }
        let full = i128::from(limit.full_level());
        let watermark = full * i128::from(self.watermark_ppm) / PPM;
        let kept = i128::from(limit.level_of(unpublished));
        let before = i128::from(level) + kept;
        if before <= watermark {
            return false;
        }
        let share = (before - watermark) / i128::from(nodes.max(1));
        kept <= share.max(i128::from(limit.level_of(1)))
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;
    use std::time::Duration;

    use super::*;

    fn limit(capacity: u32) -> Limit {
        Limit::new(NonZeroU32::new(capacity).unwrap(), Duration::from_secs(1)).unwrap()
    }

    fn tokens(limit: &Limit, n: i64) -> i64 {
        n * limit.level_of(1)
    }

    #[test]
    fn far_from_the_limit_a_node_keeps_its_share_of_the_headroom() {
        let (l, quiet) = (limit(100), Quiet::new(0.5).unwrap());
        // 3 nodes: a third of the 50 tokens above the watermark, 16.
        assert!(quiet.holds(&l, tokens(&l, 84), 16, 3));
        assert!(!quiet.holds(&l, tokens(&l, 83), 17, 3));
        // Alone, all 50 of them.
        assert!(quiet.holds(&l, tokens(&l, 50), 50, 1));
    }

    #[test]
    fn one_token_stays_quiet_whatever_the_cluster_size() {
        let (l, quiet) = (limit(10), Quiet::new(0.5).unwrap());
        assert!(quiet.holds(&l, tokens(&l, 9), 1, 100));
        assert!(!quiet.holds(&l, tokens(&l, 8), 2, 100));
    }

    #[test]
    fn at_or_below_the_watermark_every_spending_is_published() {
        let (l, quiet) = (limit(10), Quiet::new(0.5).unwrap());
        assert!(!quiet.holds(&l, tokens(&l, 4), 1, 1));
        assert!(!quiet.holds(&l, tokens(&l, -3), 1, 1));
        assert!(quiet.holds(&l, tokens(&l, 5), 1, 1));
    }

    #[test]
    fn loud_publishes_every_spending_and_nothing_spent_is_nothing_to_publish() {
        let l = limit(10);
        assert!(!Quiet::LOUD.holds(&l, tokens(&l, 9), 1, 1));
        assert!(Quiet::LOUD.holds(&l, tokens(&l, 10), 0, 1));
    }

    #[test]
    fn the_watermark_is_a_fraction_of_capacity() {
        assert!(Quiet::new(0.0).is_err());
        assert!(Quiet::new(1.5).is_err());
        assert!(Quiet::new(f64::NAN).is_err());
        assert_eq!(Quiet::new(1.0), Ok(Quiet::LOUD));
        assert_eq!(Quiet::new(0.25).unwrap().watermark(), 0.25);
    }
}
