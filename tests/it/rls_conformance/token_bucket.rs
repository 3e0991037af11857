//! Where our default, token buckets, answers upstream's scenarios otherwise
//! by design (docs/api.md, "Where the semantics differ"), pinned on the
//! runtime directory of upstream's `integration_test.go`: a limit comes back
//! a token at a time rather than all at once when a window ends, and
//! `duration_until_reset` is the time until the bucket is full again, which
//! grows with each hit where a window's end comes nearer. Everything else
//! upstream's scenarios count is answered the same, and pinned so too.

use std::time::Duration;

use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::Code;

use super::harness::{config_dir, request, Rls};
use super::integration::{first_steps, runtime_node, share_threshold, twenty_five_hits};
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
    assert_eq!(hit("hit 21").code, Code::OverLimit);
    eventually(Duration::from_secs(10), "one token back", || {
        hit("a token back").code == Code::Ok
    });
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

/// Within one window the counts are the same: upstream's `TestBasicConfig`
/// (its first two parts) and `TestShareThreshold` pass on token buckets too,
/// their calls coming far faster than a token (one every 3 s at the fastest).
#[test]
fn upstreams_counts_within_a_window_are_the_same_on_token_buckets() {
    let (rls, _dir) = runtime_node("tb-same", &[]);
    first_steps(&rls);
    twenty_five_hits(&rls);
    share_threshold(&rls);
}

/// `TestBasicConfig`'s two descriptors at once, 15 times: key3 (10 an hour)
/// refuses the last 5. Upstream (by default) still spends key2 on those;
/// here a call is decided all or nothing (docs/api.md), so key2 keeps them:
/// 20 − 10 taken − this one = 9 left, where upstream's would be 4.
#[test]
fn a_call_refused_by_one_descriptor_spends_none_of_the_others() {
    let (rls, _dir) = runtime_node("tb-together", &[]);
    let both: [&[(&str, &str)]; 2] = [&[("key2", "together")], &[("key3", "together")]];
    for i in 1..=15 {
        let response = rls.call(&format!("key2+key3 hit {i}"), request("another", &both, 1));
        let want = if i > 10 { Code::OverLimit } else { Code::Ok };
        assert_eq!(response.overall_code, want as i32, "key2+key3 hit {i}");
        if i > 10 {
            // key2 reports the ten it still holds: the refused call took none.
            let statuses = &response.statuses;
            assert_eq!(
                statuses[0].limit_remaining, 10,
                "key2 at hit {i}: {statuses:?}"
            );
            assert_eq!(
                statuses[1].limit_remaining, 0,
                "key3 at hit {i}: {statuses:?}"
            );
        }
    }
    let key2 = rls.one("key2 alone", "another", &[("key2", "together")], 1);
    assert_eq!((key2.code, key2.remaining), (Code::Ok, 9), "{key2:?}");
}
