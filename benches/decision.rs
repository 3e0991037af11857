//! Criterion benches of the decision hot path: one hot key, 1,000,000 keys, and
//! several threads at once; a counted replicating node; the same through the rules (none, and three
//! matching rules); plus building the HTTP responses of `/protected` and `/v1/check` for a decision;
//! and new keys at the cap: with a sweep running beside them, and on a replicating node whose broker
//! is away; and a `/v1/checks` batch of 1,000 distinct users (parse, validate, decide, write);
//! and one hot key under each algorithm (token bucket, fixed, calendar in a zone, sliding window).

use std::hint::black_box;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crdt_limiter::clock::{Clock, SystemClock};
use crdt_limiter::http_api::decide::{batch, check, protected};
use crdt_limiter::http_api::wire::request::parse_body;
use crdt_limiter::http_api::wire::tokens::DecisionAccess;
use crdt_limiter::http_api::AppState;
use crdt_limiter::limiter::{Algorithm, Limit, MergeMode, Store, Tz, Unit};
use crdt_limiter::policy::{rules_file, Policy, Request, RuleSet};
use crdt_limiter::telemetry::Telemetry;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const KEYS: usize = 1_000_000;

fn limit() -> Limit {
    Limit::new(NonZeroU32::new(100).unwrap(), Duration::from_millis(10)).unwrap()
}

fn store() -> Store {
    Store::new(limit(), NonZeroUsize::new(2 * KEYS).unwrap())
}

fn keys() -> Vec<String> {
    (0..KEYS)
        .map(|i| format!("user-{:012x}", i * 7919))
        .collect()
}

fn single_thread(c: &mut Criterion) {
    let clock = SystemClock::new();
    let mut group = c.benchmark_group("decision");
    group.throughput(Throughput::Elements(1));

    let hot = store();
    group.bench_function("hot_key", |b| {
        b.iter(|| hot.check(black_box("hot-user"), 1, clock.now()))
    });

    // A replicating node in counted mode: the decision also counts the spend.
    let counted = Store::replicated(
        limit(),
        NonZeroUsize::new(2 * KEYS).unwrap(),
        MergeMode::Counted,
        1,
    );
    group.bench_function("counted_hot_key", |b| {
        b.iter(|| counted.check(black_box("hot-user"), 1, clock.now()))
    });

    let many = store();
    let keys = keys();
    for key in &keys {
        many.check(key, 1, clock.now());
    }
    let mut i = 0;
    group.bench_function("1m_keys", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            many.check(black_box(&keys[i]), 1, clock.now())
        })
    });

    let request = Request {
        user: "hot-user",
        route: "/api/orders/7",
        method: "POST",
        tenant: None,
        ip: None,
        plan: None,
    };
    let single = Policy::new(RuleSet::single(limit()));
    let policy_store = store();
    group.bench_function("rules_none_hot_key", |b| {
        b.iter(|| single.check(&policy_store, black_box(&request), 1, clock.now()))
    });
    let three = Policy::new(rules_file::parse(THREE_RULES).expect("valid rules"));
    let three_store = store();
    group.bench_function("rules_three_hot_key", |b| {
        b.iter(|| three.check(&three_store, black_box(&request), 1, clock.now()))
    });

    group.bench_function("respond", |b| {
        b.iter(|| {
            let verdict = single.check(&policy_store, &request, 1, clock.now());
            protected::respond(black_box(verdict.as_ref()))
        })
    });
    group.bench_function("check_respond", |b| {
        b.iter(|| {
            let verdict = single.check(&policy_store, &request, 1, clock.now());
            check::respond(black_box(verdict.as_ref()))
        })
    });
    let body = br#"{"user":"hot-user","route":"/api/orders/7","method":"POST","cost":1}"#;
    group.bench_function("check_parse", |b| {
        b.iter(|| {
            let mut scratch = Vec::new();
            let wire: check::CheckBody =
                parse_body(black_box(body), &mut scratch).expect("an object");
            check::Check::try_from(&wire).map(|c| (c.request.user.len(), c.cost))
        })
    });
    group.finish();
}

/// A per-user plan, a per-route limit and a global ceiling, all matching the
/// benched request, with limits no bench run exhausts.
const THREE_RULES: &str = r#"
default_plan = "free"
[plans.free]
capacity = 1000000
refill_per_sec = 1000000
[[rules]]
name = "per-user"
key = "user"
limit = "plan"
[[rules]]
name = "orders"
match = { route = "/api/orders", method = "POST" }
key = "user+route"
capacity = 1000000
refill_per_sec = 1000000
[[rules]]
name = "global"
key = "global"
capacity = 1000000
refill_per_sec = 1000000
"#;

/// Wall time per decision with `threads` threads deciding at once; `distinct`
/// picks whether they share one key or spread over a million.
fn contended(c: &mut Criterion) {
    let clock = SystemClock::new();
    let keys = Arc::new(keys());
    let shared = Arc::new(store());
    for key in keys.iter() {
        shared.check(key, 1, clock.now());
    }
    let mut group = c.benchmark_group("contended");
    group.throughput(Throughput::Elements(1));
    for threads in [2usize, 4] {
        for (name, distinct) in [("hot_key", false), ("1m_keys", true)] {
            group.bench_with_input(BenchmarkId::new(name, threads), &threads, |b, &threads| {
                b.iter_custom(|iters| {
                    let per_thread = iters.div_ceil(threads as u64);
                    let started = Instant::now();
                    std::thread::scope(|scope| {
                        for t in 0..threads {
                            let (store, keys, clock) = (&shared, &keys, &clock);
                            scope.spawn(move || {
                                let mut k = t * (KEYS / threads);
                                for _ in 0..per_thread {
                                    let key = if distinct {
                                        keys[k].as_str()
                                    } else {
                                        "hot-user"
                                    };
                                    k = (k + 1) % KEYS;
                                    black_box(store.check(key, 1, clock.now()));
                                }
                            });
                        }
                    });
                    started.elapsed()
                })
            });
        }
    }
    group.finish();
}

/// Keys in the store of the new-key benches: big enough that a sweep takes a while.
const CAP: usize = 200_000;

/// An hour to refill: a key that spent a token stays in use for the whole bench.
fn slow_limit() -> Limit {
    Limit::new(NonZeroU32::new(100).unwrap(), Duration::from_secs(36)).unwrap()
}

/// New keys arriving at the cap (each evicts a full bucket), alone and with a
/// sweep looping on another thread as housekeeping runs it; then new keys on
/// a replicating node that never publishes (its broker is away), so its list
/// of changes keeps reaching its bound.
fn new_keys(c: &mut Criterion) {
    let clock = SystemClock::new();
    let mut group = c.benchmark_group("new_keys");
    group.throughput(Throughput::Elements(1));
    for sweeping in [false, true] {
        let store = Store::new(slow_limit(), NonZeroUsize::new(CAP).unwrap());
        // Half the keys in use (never swept), half full (evictable).
        for i in 0..CAP {
            store.check(&format!("used-{i}"), u32::from(i % 2 == 0), clock.now());
        }
        let mut n = 0u64;
        let name = if sweeping {
            "at_cap_sweeping"
        } else {
            "at_cap"
        };
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let stop = AtomicBool::new(false);
                std::thread::scope(|scope| {
                    if sweeping {
                        scope.spawn(|| {
                            while !stop.load(Ordering::Relaxed) {
                                black_box(store.sweep(clock.now()));
                            }
                        });
                    }
                    let started = Instant::now();
                    for _ in 0..iters {
                        n += 1;
                        // Cost 0: the new bucket stays full, so the next insert can evict it.
                        black_box(store.check(&format!("new-{n}"), 0, clock.now()));
                    }
                    let elapsed = started.elapsed();
                    stop.store(true, Ordering::Relaxed);
                    elapsed
                })
            })
        });
    }
    let outage = Store::replicated(
        limit(),
        NonZeroUsize::new(CAP).unwrap(),
        MergeMode::MinMax,
        1,
    );
    let mut n = 0u64;
    group.bench_function("replicated_broker_away", |b| {
        b.iter(|| {
            n += 1;
            outage.check(black_box(&format!("new-{n}")), 1, clock.now())
        })
    });
    group.finish();
}

/// A `/v1/checks` body of 1,000 distinct users, whole: parsed, validated,
/// decided and written, per decision (throughput counts the items).
fn batched(c: &mut Criterion) {
    let state = AppState {
        store: Arc::new(store()),
        policy: Arc::new(Policy::new(RuleSet::single(limit()))),
        clock: Arc::new(SystemClock::new()),
        telemetry: Arc::new(Telemetry::new()),
        ready: Arc::new(AtomicBool::new(true)),
        admin: None,
        forward_auth_user_header: actix_web::http::header::HeaderName::from_static("x-user-id"),
        cluster: None,
        refusals: Default::default(),
        gateway: None,
        node_id: None,
        decision: DecisionAccess::Open,
        body_timeout: std::time::Duration::from_secs(10),
        traces: None,
    };
    let items: Vec<String> = (0..batch::MAX_BATCH)
        .map(|i| {
            format!(r#"{{"user":"user-{i:06}","route":"/api/orders/7","method":"POST","cost":1}}"#)
        })
        .collect();
    let body = format!(r#"{{"checks":[{}]}}"#, items.join(","));
    let mut group = c.benchmark_group("batch");
    group.throughput(Throughput::Elements(batch::MAX_BATCH as u64));
    group.bench_function("checks_1000", |b| {
        b.iter(|| batch::decide_all(&state, black_box(body.as_bytes())).expect("a valid batch"))
    });
    group.finish();
}

/// One hot key that is never refused, under each algorithm: what a window's
/// end costs a decision (epoch arithmetic, or the thread's cached calendar period).
fn algorithms(c: &mut Criterion) {
    let clock = SystemClock::new();
    let mut group = c.benchmark_group("algorithm");
    group.throughput(Throughput::Elements(1));
    let most = NonZeroU32::new(u32::MAX).unwrap();
    let calendar = Algorithm::Calendar(Unit::Day, Tz::America__New_York);
    let sliding = Algorithm::SlidingWindow(Unit::Day);
    let limits = [
        (
            "token_bucket",
            Limit::new(most, Duration::from_nanos(1)).unwrap(),
        ),
        (
            "fixed_window",
            Limit::windowed(most, Algorithm::FixedWindow(Unit::Day)).unwrap(),
        ),
        ("calendar_day", Limit::windowed(most, calendar).unwrap()),
        ("sliding_window", Limit::windowed(most, sliding).unwrap()),
    ];
    for (name, limit) in limits {
        let store = Store::new(limit, NonZeroUsize::new(1000).unwrap());
        group.bench_function(name, |b| {
            b.iter(|| store.check(black_box("hot-user"), 1, clock.now()))
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    single_thread,
    contended,
    new_keys,
    batched,
    algorithms
);
criterion_main!(benches);
