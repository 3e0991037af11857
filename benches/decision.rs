//! Criterion benches of the decision hot path: one hot key, 1,000,000 keys, and
//! several threads at once; plus building the HTTP response for a decision.

use std::hint::black_box;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crdt_limiter::clock::{Clock, SystemClock};
use crdt_limiter::http_api::protected::{respond, PolicyHeaders};
use crdt_limiter::limiter::{Limit, Store};
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
    let clock = SystemClock;
    let mut group = c.benchmark_group("decision");
    group.throughput(Throughput::Elements(1));

    let hot = store();
    group.bench_function("hot_key", |b| {
        b.iter(|| hot.check(black_box("hot-user"), 1, clock.now()))
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

    let policy = PolicyHeaders::new(&limit());
    let decision = hot.check("hot-user", 1, clock.now());
    group.bench_function("respond", |b| {
        b.iter(|| respond(&policy, black_box(decision)))
    });
    group.finish();
}

/// Wall time per decision with `threads` threads deciding at once; `distinct`
/// picks whether they share one key or spread over a million.
fn contended(c: &mut Criterion) {
    let keys = Arc::new(keys());
    let shared = Arc::new(store());
    for key in keys.iter() {
        shared.check(key, 1, SystemClock.now());
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
                            let (store, keys) = (&shared, &keys);
                            scope.spawn(move || {
                                let mut k = t * (KEYS / threads);
                                for _ in 0..per_thread {
                                    let key = if distinct {
                                        keys[k].as_str()
                                    } else {
                                        "hot-user"
                                    };
                                    k = (k + 1) % KEYS;
                                    black_box(store.check(key, 1, SystemClock.now()));
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

criterion_group!(benches, single_thread, contended);
criterion_main!(benches);
