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
#[path = "quiet_tests.rs"]
mod tests;
