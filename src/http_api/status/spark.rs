//! The status page's sparklines: a rule's refusals per second as inline SVG.

use std::fmt::{self, Write};

use crate::telemetry::MINUTE_SLOTS;

/// Refusals per second as an inline SVG line, scaled to its own peak.
pub(super) fn write_sparkline(out: &mut String, per_sec: &[u64; MINUTE_SLOTS - 1]) -> fmt::Result {
    const W: usize = 120;
    const H: u64 = 20;
    let peak = per_sec.iter().copied().max().unwrap_or(0);
    write!(
        out,
        "<svg class=\"spark\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" role=\"img\">\
         <title>refusals per second over the last 60 s (peak {peak}/s)</title>\
         <polyline fill=\"none\" stroke=\"#c0392b\" stroke-width=\"1.5\" points=\""
    )?;
    let step = W as f64 / (per_sec.len() - 1) as f64;
    let peak = peak.max(1);
    for (k, n) in per_sec.iter().enumerate() {
        let y = (H - 1) as f64 - (*n as f64 / peak as f64) * (H - 2) as f64;
        write!(out, "{:.1},{y:.1} ", k as f64 * step)?;
    }
    out.push_str("\"/></svg>");
    Ok(())
}
