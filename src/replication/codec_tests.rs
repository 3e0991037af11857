//! Tests of the record codec: round trips, older versions, and every bound
//! a record must keep, with property tests over hostile bytes and values.

use super::*;
use proptest::prelude::*;

fn envelope() -> Envelope {
    Envelope {
        node_id: "node-a".into(),
        sent_at: Stamp::from_unix_nanos(1_700_000_000_000_000_000),
        limit: Limit::new(NonZeroU32::new(10).unwrap(), Duration::from_secs(1)).unwrap(),
        state: BucketState::from_parts(-3, Stamp::from_unix_nanos(1_699_999_999_000_000_000)),
        spent: None,
        reset: Stamp::default(),
    }
}

fn entry(node: u64, count: u64, since_ns: u64) -> Entry {
    Entry {
        node,
        count,
        since: Stamp::from_unix_nanos(since_ns),
    }
}

fn raw(version: u8, body: &impl Serialize) -> Vec<u8> {
    versioned(version, body)
}

fn wire(level: i64) -> WireV1 {
    WireV1 {
        node_id: "n".into(),
        sent_at_ns: 0,
        capacity: 10,
        interval_ns: 1_000_000_000,
        level,
        stamp_ns: 0,
    }
}

#[test]
fn counted_states_round_trip_as_version_3() {
    let mut e = envelope();
    e.spent = Some(vec![entry(7, 3, 5), entry(9, 5, 6)]);
    let bytes = encode(&e);
    assert_eq!(bytes[0], VERSION_COUNTED);
    assert_eq!(decode(&bytes), Ok(e));
}

#[test]
fn states_after_a_reset_round_trip_as_version_4() {
    for spent in [None, Some(vec![entry(7, 3, 5)])] {
        let mut e = envelope();
        e.spent = spent;
        e.reset = Stamp::from_unix_nanos(1_699_999_999_500_000_000);
        let bytes = encode(&e);
        assert_eq!(bytes[0], VERSION_RESET);
        assert_eq!(decode(&bytes), Ok(e));
    }
    // Without a reset a node writes what older nodes read.
    assert_eq!(encode(&envelope())[0], VERSION);
}

#[test]
fn window_states_round_trip_as_version_5_and_bucket_states_keep_their_versions() {
    use crate::limiter::{Algorithm, Tz, Unit};
    let month = Algorithm::Calendar(Unit::Month, Tz::America__New_York);
    for algorithm in [Algorithm::FixedWindow(Unit::Minute), month] {
        let mut e = envelope();
        e.limit = Limit::windowed(NonZeroU32::new(30).unwrap(), algorithm).unwrap();
        e.state = BucketState::from_parts(-4, e.state.stamp());
        e.spent = Some(vec![entry(7, 3, 5)]);
        let bytes = encode(&e);
        assert_eq!(bytes[0], VERSION_WINDOW);
        assert_eq!(decode(&bytes), Ok(e.clone()));
        e.reset = Stamp::from_unix_nanos(42);
        assert_eq!(decode(&encode(&e)), Ok(e));
    }
    // A sliding window's previous count travels too.
    let mut e = envelope();
    let sliding = Algorithm::SlidingWindow(Unit::Hour);
    e.limit = Limit::windowed(NonZeroU32::new(30).unwrap(), sliding).unwrap();
    e.state = BucketState::from_sliding(12, 25, e.state.stamp());
    assert_eq!(decode(&encode(&e)), Ok(e));
    assert_eq!(
        encode(&envelope())[0],
        VERSION,
        "a bucket's record is what older nodes read"
    );
}

#[test]
fn window_records_naming_an_unknown_zone_unit_or_kind_are_refused() {
    let record = |kind: u8, unit: u8, zone: &str, previous: i64| {
        let algorithm = WireAlgorithm {
            kind,
            unit,
            time_zone: zone.into(),
        };
        let (base, reset_ns, spent) = (wire(1), 0, None);
        let v5 = WireV5 {
            base,
            algorithm,
            previous,
            reset_ns,
            spent,
        };
        decode(&raw(VERSION_WINDOW, &v5))
    };
    assert!(
        record(2, 5, "America/New_York", 0).is_ok(),
        "a calendar month"
    );
    assert!(
        record(3, 1, "", 4).is_ok(),
        "a sliding minute with its previous count"
    );
    for (kind, unit, zone) in [
        (2, 5, "Mars/Olympus"),
        (1, 9, ""),
        (7, 1, ""),
        (1, 1, "UTC"),
    ] {
        let refused = record(kind, unit, zone, 0);
        assert!(matches!(refused, Err(DecodeError::Limit(_))), "{refused:?}");
    }
    let long = "A".repeat(65);
    assert!(matches!(record(2, 5, &long, 0), Err(DecodeError::Limit(_))));
    assert!(matches!(
        record(3, 1, "", 11),
        Err(DecodeError::Level { .. })
    ));
}

#[test]
fn version_2_records_of_older_nodes_are_read_as_history() {
    // What an older node wrote: its `crdts` GCounter, serialized as is.
    #[derive(Serialize)]
    struct OldV2 {
        base: WireV1,
        spent: crdts::GCounter<u64>,
    }
    let mut counter = crdts::GCounter::new();
    for (node, n) in [(7u64, 3u64), (9, 5)] {
        let dot = counter.inc_many(node, n);
        crdts::CmRDT::apply(&mut counter, dot);
    }
    let bytes = raw(
        VERSION_COUNTED_V2,
        &OldV2 {
            base: wire(-3),
            spent: counter,
        },
    );
    let decoded = decode(&bytes).unwrap();
    assert_eq!(decoded.spent, Some(vec![entry(7, 3, 0), entry(9, 5, 0)]));
}

#[test]
fn oversized_records_are_refused_unparsed() {
    let mut bytes = vec![VERSION_COUNTED];
    bytes.resize(MAX_RECORD + 1, 0);
    assert!(matches!(decode(&bytes), Err(DecodeError::Malformed(_))));
}

#[test]
fn round_trips() {
    let e = envelope();
    let bytes = encode(&e);
    assert_eq!(bytes[0], VERSION);
    assert!(bytes.len() < 48, "compact: {} bytes", bytes.len());
    assert_eq!(decode(&bytes), Ok(e));
}

#[test]
fn heartbeats_round_trip_and_are_not_states() {
    let h = Heartbeat {
        node_id: "node-a".into(),
        incarnation: 7,
        sent_at: Stamp::from_unix_nanos(42),
    };
    let bytes = encode_heartbeat(&h);
    assert_eq!(decode_heartbeat(&bytes), Ok(h));
    assert_eq!(
        decode(&bytes),
        Err(DecodeError::UnknownVersion(VERSION_HEARTBEAT))
    );
    assert!(decode_heartbeat(&encode(&envelope())).is_err());
}

#[test]
fn unknown_versions_and_garbage_are_errors() {
    let mut bytes = encode(&envelope());
    bytes[0] = 99;
    assert_eq!(bytes.len(), encode(&envelope()).len());
    assert_eq!(decode(&bytes), Err(DecodeError::UnknownVersion(99)));
    assert_eq!(decode(&[]), Err(DecodeError::Empty));
    assert!(matches!(
        decode(&[VERSION, 0xff, 0xff]),
        Err(DecodeError::Malformed(_))
    ));
    let truncated = &encode(&envelope())[..10];
    assert!(matches!(decode(truncated), Err(DecodeError::Malformed(_))));
}

#[test]
fn impossible_limits_are_refused() {
    for (capacity, interval_ns) in [(0, 1), (1, 0), (u32::MAX, u64::MAX)] {
        let bytes = raw(
            VERSION,
            &WireV1 {
                capacity,
                interval_ns,
                ..wire(0)
            },
        );
        assert_eq!(decode(&bytes).unwrap_err().kind(), "bad_limit");
    }
}

#[test]
fn levels_beyond_full_or_one_bucket_of_debt_are_refused() {
    let full = 10 * 1_000_000_000;
    for level in [i64::MIN, -full - 1, full + 1, i64::MAX] {
        let bytes = raw(VERSION, &wire(level));
        assert_eq!(decode(&bytes).unwrap_err().kind(), "bad_level", "{level}");
    }
    for level in [-full, 0, full] {
        assert!(decode(&raw(VERSION, &wire(level))).is_ok(), "{level}");
    }
}

#[test]
fn unreasonable_counters_are_refused() {
    let counted = |spent: Vec<WireEntry>| {
        raw(
            VERSION_COUNTED,
            &WireV3 {
                base: wire(0),
                spent,
            },
        )
    };
    let e = |node, count| WireEntry {
        node,
        count,
        since_ns: 0,
    };
    let too_many = (0..=MAX_WIRE_ENTRIES as u64).map(|n| e(n, 1)).collect();
    for spent in [too_many, vec![e(1, MAX_COUNT + 1)], vec![e(1, 1), e(1, 2)]] {
        assert_eq!(decode(&counted(spent)).unwrap_err().kind(), "bad_counter");
    }
    assert!(decode(&counted(vec![e(1, MAX_COUNT), e(2, 0)])).is_ok());
}

#[test]
fn ten_thousand_node_ids_spending_on_one_key_keep_records_small_and_replicating() {
    use crate::limiter::{MergeMode, Store};
    let limit = Limit::new(NonZeroU32::new(100).unwrap(), Duration::from_millis(10)).unwrap();
    let keys = std::num::NonZeroUsize::new(8).unwrap();
    let here = Store::replicated(limit, keys, MergeMode::Counted, 0);
    let mut now = 1_700_000_000_000_000_000u64;
    let mut largest = 0;
    for id in 1..=10_000u64 {
        now += 1_000_000;
        let at = Stamp::from_unix_nanos(now);
        // A node under a new ID (a restart with a random ID) spends on the key...
        let other = Store::replicated(limit, keys, MergeMode::Counted, id);
        other.check("alice", 1, at);
        for (key, change) in other.take_changes(at) {
            let record = encode(&envelope_of(change.unwrap(), at));
            let e = decode(&record).unwrap();
            let remote = crate::limiter::Replicated {
                limit: e.limit,
                state: e.state,
                spent: e.spent,
                reset: e.reset,
            };
            here.merge_remote(&key, &remote, &limit, at);
        }
        // ...and this node's record of the key stays small enough to send
        // (published whether or not its own request was let through).
        here.check("alice", 1, at);
        here.mark_dirty("alice");
        let (_, change) = here.take_changes(at).pop().unwrap();
        let record = encode(&envelope_of(change.unwrap(), at));
        largest = largest.max(record.len());
        assert!(decode(&record).is_ok(), "node {id}");
    }
    assert!(largest <= 1024, "{largest} bytes");
}

fn envelope_of(r: crate::limiter::Replicated, at: Stamp) -> Envelope {
    Envelope {
        node_id: "n".into(),
        sent_at: at,
        limit: r.limit,
        state: r.state,
        spent: r.spent,
        reset: r.reset,
    }
}

fn extreme_i64() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(i64::MIN),
        Just(i64::MAX),
        Just(0),
        Just(-1),
        any::<i64>()
    ]
}

fn extreme_u64() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0), Just(u64::MAX), Just(MAX_COUNT), any::<u64>()]
}

/// Mostly records that decode, with extreme values in every field a bound
/// must hold (a level in or beyond its limit's range, huge counts, stamps
/// anywhere), plus some that must be refused.
fn arb_record() -> impl Strategy<Value = Vec<u8>> {
    const NOW: u64 = 1_700_000_000_000_000_000;
    let stamp = prop_oneof![
        Just(0u64),
        Just(u64::MAX),
        (NOW - 1_000_000_000_000..NOW + 1_000_000_000_000),
        any::<u64>()
    ];
    let limit = prop_oneof![
        5 => prop_oneof![
            Just((1u32, 1_000_000_000u64)),
            Just((5, 1_000_000_000)),
            Just((5, 1_000_000)),
            Just((1_000, 1_000_000)),
            Just((1, 3_600_000_000_000)),
        ],
        1 => (any::<u32>(), extreme_u64()),
    ];
    let base = (limit, stamp.clone())
        .prop_flat_map(|((capacity, interval_ns), stamp_ns)| {
            let full = i64::from(capacity);
            let tokens = prop_oneof![4 => -full..=full, 1 => extreme_i64()];
            (Just((capacity, interval_ns, stamp_ns)), tokens)
        })
        .prop_map(|((capacity, interval_ns, stamp_ns), tokens)| WireV1 {
            node_id: "hostile".into(),
            sent_at_ns: stamp_ns,
            capacity,
            interval_ns,
            // Within the limit's range most of the time, beyond it sometimes.
            level: tokens.saturating_mul(interval_ns.min(i64::MAX as u64) as i64),
            stamp_ns,
        });
    let entries = proptest::collection::vec(
        (0u64..4, extreme_u64(), stamp.clone()).prop_map(|(node, count, since_ns)| WireEntry {
            node,
            count: count.min(MAX_COUNT),
            since_ns,
        }),
        0..4,
    );
    let reset = prop_oneof![Just(None), stamp.prop_map(Some)];
    (base, proptest::option::of(entries), reset).prop_map(|(base, spent, reset)| {
        match (spent, reset) {
            (spent, Some(reset_ns)) => raw(
                VERSION_RESET,
                &WireV4 {
                    base,
                    reset_ns,
                    spent,
                },
            ),
            (None, None) => raw(VERSION, &base),
            (Some(spent), None) => raw(VERSION_COUNTED, &WireV3 { base, spent }),
        }
    })
}

proptest! {
    /// Most generated records decode, so the property below is about merges.
    #[test]
    fn hostile_records_mostly_decode(records in proptest::collection::vec(arb_record(), 200)) {
        let decoded = records.iter().filter(|r| decode(r).is_ok()).count();
        prop_assert!(decoded >= 50, "{decoded} of 200");
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode(&bytes);
        let _ = decode_heartbeat(&bytes);
    }

    #[test]
    fn arbitrary_bytes_after_the_version_never_panic(
        version in prop_oneof![Just(VERSION), Just(VERSION_COUNTED_V2), Just(VERSION_COUNTED), Just(VERSION_RESET), Just(VERSION_HEARTBEAT)],
        bytes in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut record = vec![version];
        record.extend(bytes);
        let _ = decode(&record);
        let _ = decode_heartbeat(&record);
    }

    /// A well-formed record with extreme values, merged into a node in
    /// either mode: never a panic, and a user who had tokens left is
    /// refused for at most one refill window (plus one token's time, plus
    /// the clock-skew tolerance a stamp may lie ahead).
    #[test]
    fn no_record_delays_a_user_beyond_one_refill_window(
        records in proptest::collection::vec(arb_record(), 1..2),
        counted in any::<bool>(),
    ) {
        use crate::limiter::{MergeMode, Replicated, Store};
        let limit = Limit::new(NonZeroU32::new(5).unwrap(), Duration::from_secs(1)).unwrap();
        let mode = if counted { MergeMode::Counted } else { MergeMode::MinMax };
        let store = Store::replicated(limit, std::num::NonZeroUsize::new(8).unwrap(), mode, 1);
        let now = Stamp::from_unix_nanos(1_700_000_000_000_000_000);
        store.check_with("alice", &limit, 1, now);
        for bytes in &records {
            let Ok(e) = decode(bytes) else { continue };
            // The consumer's own clamp of future stamps.
            let (state, _) = crate::limiter::clamp_future(e.state, now, Duration::from_secs(1));
            // The consumer's refusal of resets from beyond the skew.
            if e.reset > now.saturating_add(Duration::from_secs(1)) {
                continue;
            }
            let remote = Replicated { limit: e.limit, state, spent: e.spent, reset: e.reset };
            store.merge_remote("alice", &remote, &limit, now);
        }
        let bound = limit.window() + limit.interval() + Duration::from_secs(1);
        let later = now.saturating_add(bound);
        prop_assert!(store.check_with("alice", &limit, 1, later).is_allowed());
    }
}
