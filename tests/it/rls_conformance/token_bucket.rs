//! Where our default, token buckets, answers upstream's scenarios otherwise
//! by design (docs/api.md, "Where the semantics differ"), pinned on the
//! runtime directory of upstream's `integration_test.go`: a limit comes back
//! a token at a time rather than all at once when a window ends, and
//! `duration_until_reset` is the time until the bucket is full again, which
//! grows with each hit where a window's end comes nearer.

use std::time::{Duration, Instant};

use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::Code;

use super::harness::{config_dir, Rls};
use crate::helpers::eventually;

const RUNTIME: &str = "test/integration/runtime/current/ratelimit/config";

fn default_node(name: &str) -> Rls {
    let dir = config_dir(name, &[&format!("{RUNTIME}/another.yaml")]);
    Rls::start(
        &format!("{RUNTIME}/another.yaml (token buckets)"),
        &dir,
        &[],
    )
}

/// Upstream: 20 a minute are 20 in each minute, and all 20 are back when the
/// minute ends. Here a spent bucket of 20 a minute earns one token every 3 s,
/// and only one: never a second burst of 20 at a boundary.
#[test]
fn a_spent_limit_comes_back_a_token_at_a_time() {
    let rls = default_node("tb-refill");
    let hit = |step: &str| rls.one(step, "another", &[("key2", "refill")], 1);
    for i in 1..=20 {
        assert_eq!(hit(&format!("hit {i}")).code, Code::Ok, "hit {i} of 20");
    }
    let refused_at = Instant::now();
    assert_eq!(hit("hit 21").code, Code::OverLimit);
    eventually(Duration::from_secs(6), "one token back", || {
        hit("a token back").code == Code::Ok
    });
    let waited = refused_at.elapsed();
    assert!(
        waited < Duration::from_secs(5),
        "a token every 3 s, not at the minute's end: {waited:?}"
    );
    let again = hit("right after");
    assert_eq!(
        (again.code, again.remaining),
        (Code::OverLimit, 0),
        "only one came back"
    );
}

/// Upstream: `duration_until_reset` is the time left in the window, so it
/// shrinks between two hits. Here it is the time until the bucket is full
/// again: 20 a day refill one token every 72 min, so each hit adds 72 min.
#[test]
fn duration_until_reset_is_the_time_until_the_bucket_is_full() {
    let rls = default_node("tb-reset");
    let ask = || rls.one("key4 durTest", "another", &[("key4", "durTest")], 1);
    let first = ask().reset.expect("duration_until_reset");
    let second = ask().reset.expect("duration_until_reset");
    let token = 86_400 / 20;
    assert!((token - 2..=token).contains(&first), "one hit: {first} s");
    assert!(
        (2 * token - 2..=2 * token).contains(&second),
        "two hits: {second} s, where upstream's would be below {first} s"
    );
}
