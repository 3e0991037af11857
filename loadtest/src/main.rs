//! Goose load scenarios for crdt-limiter: real HTTP against real nodes.
//!
//! Scenarios (pick with goose's `--scenarios`):
//! - `hotuser`: one user; almost everything is limited (429);
//! - `manyusers`: users drawn uniformly from `LOADTEST_USER_IDS` (default
//!   1,000,000); almost everything is allowed;
//! - `mix`: one request in ten from the hot user, the rest from many users;
//! - `newusers`: every request from a never-seen user (a flood of random IDs).
//!
//! `LOADTEST_TARGETS` lists base URLs (comma-separated, loopback only); requests
//! are dealt round-robin over them, as a load balancer would. Goose's own flags
//! set users, `--run-time` (default 30 s here, so a run always ends) and the
//! HTML `--report-file`. At the end one `RESULT` line gives throughput, latency
//! percentiles and the count of 200s and 429s.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use goose::prelude::*;

/// Most latency samples kept (4 bytes each); beyond it, percentiles use the first ones.
const MAX_SAMPLES: usize = 50_000_000;

struct Setup {
    urls: Vec<String>,
    user_ids: u64,
}

static SETUP: OnceLock<Setup> = OnceLock::new();
static NEXT_TARGET: AtomicUsize = AtomicUsize::new(0);
static DRAWS: AtomicU64 = AtomicU64::new(0);
static NEW_USERS: AtomicU64 = AtomicU64::new(0);
static ALLOWED: AtomicU64 = AtomicU64::new(0);
static LIMITED: AtomicU64 = AtomicU64::new(0);
static OTHER: AtomicU64 = AtomicU64::new(0);
static FIRST_LAST: Mutex<Option<(Instant, Instant)>> = Mutex::new(None);
static LATENCIES_US: Mutex<Vec<u32>> = Mutex::new(Vec::new());

fn setup() -> &'static Setup {
    SETUP.get().expect("set up before the attack starts")
}

/// The next target's `/protected`, round-robin.
fn next_url() -> &'static str {
    let urls = &setup().urls;
    &urls[NEXT_TARGET.fetch_add(1, Ordering::Relaxed) % urls.len()]
}

/// A uniform draw from `0..n` (splitmix64 of a shared counter: cheap, no locks).
fn uniform(n: u64) -> u64 {
    let mut z = DRAWS
        .fetch_add(1, Ordering::Relaxed)
        .wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) % n
}

/// One `POST /protected` as `user_id`. Both 200 and 429 are right answers;
/// goose is told which one this user mostly gets (`expect_limited`), since it
/// does extra bookkeeping for each unexpected status and shares the machine's
/// cores with the server: that keeps the client's cost per request the same.
async fn protected(user: &mut GooseUser, user_id: &str, expect_limited: bool) -> TransactionResult {
    let builder = user
        .get_request_builder(&GooseMethod::Post, next_url())?
        .header("X-User-ID", user_id);
    let mut request = GooseRequest::builder()
        .name("POST /protected")
        .set_request_builder(builder);
    if expect_limited {
        request = request.expect_status_code(429);
    }
    let request = request.build();
    let started = Instant::now();
    let mut goose = user.request(request).await?;
    let finished = Instant::now();
    let status = goose
        .response
        .as_ref()
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    match status {
        200 => {
            if expect_limited {
                user.set_success(&mut goose.request)?;
            }
            ALLOWED.fetch_add(1, Ordering::Relaxed)
        }
        429 => {
            if !expect_limited {
                user.set_success(&mut goose.request)?;
            }
            LIMITED.fetch_add(1, Ordering::Relaxed)
        }
        _ => OTHER.fetch_add(1, Ordering::Relaxed),
    };
    let micros = u32::try_from((finished - started).as_micros()).unwrap_or(u32::MAX);
    {
        let mut window = FIRST_LAST.lock().unwrap();
        let (first, _) = window.get_or_insert((started, finished));
        *window = Some((*first, finished));
    }
    let mut samples = LATENCIES_US.lock().unwrap();
    if samples.len() < MAX_SAMPLES {
        samples.push(micros);
    }
    Ok(())
}

async fn hot_user(user: &mut GooseUser) -> TransactionResult {
    protected(user, "hot-user", true).await
}

async fn many_users(user: &mut GooseUser) -> TransactionResult {
    let id = format!("user-{}", uniform(setup().user_ids));
    protected(user, &id, false).await
}

async fn new_user(user: &mut GooseUser) -> TransactionResult {
    let id = format!("new-{}", NEW_USERS.fetch_add(1, Ordering::Relaxed));
    protected(user, &id, false).await
}

/// Base URLs from `LOADTEST_TARGETS`, refusing anything but loopback: load is
/// only ever sent to this machine.
fn targets() -> Result<Vec<String>, String> {
    let raw = std::env::var("LOADTEST_TARGETS").unwrap_or_else(|_| "http://127.0.0.1:8000".into());
    raw.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            let rest = t
                .strip_prefix("http://")
                .ok_or_else(|| format!("LOADTEST_TARGETS: `{t}` must start with http://"))?;
            let host = rest.split('/').next().unwrap_or_default();
            let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
            if !(host == "localhost" || host == "[::1]" || host.starts_with("127.")) {
                return Err(format!("LOADTEST_TARGETS: `{t}` is not a loopback address"));
            }
            Ok(format!("{}/protected", t.trim_end_matches('/')))
        })
        .collect::<Result<Vec<_>, _>>()
        .and_then(|urls| {
            if urls.is_empty() {
                Err("LOADTEST_TARGETS is empty".into())
            } else {
                Ok(urls)
            }
        })
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn report() {
    let (allowed, limited, other) = (
        ALLOWED.load(Ordering::Relaxed),
        LIMITED.load(Ordering::Relaxed),
        OTHER.load(Ordering::Relaxed),
    );
    let total = allowed + limited + other;
    let seconds = FIRST_LAST
        .lock()
        .unwrap()
        .map_or(Duration::ZERO, |(first, last)| last - first)
        .as_secs_f64();
    let mut samples = std::mem::take(&mut *LATENCIES_US.lock().unwrap());
    samples.sort_unstable();
    let rps = if seconds > 0.0 {
        total as f64 / seconds
    } else {
        0.0
    };
    println!(
        "RESULT requests={total} seconds={seconds:.2} rps={rps:.0} allowed={allowed} limited={limited} other={other} \
         p50_us={} p99_us={} p999_us={}",
        percentile(&samples, 50.0),
        percentile(&samples, 99.0),
        percentile(&samples, 99.9),
    );
}

#[tokio::main]
async fn main() -> Result<(), GooseError> {
    let urls = match targets() {
        Ok(urls) => urls,
        Err(e) => {
            eprintln!("loadtest: {e}");
            std::process::exit(2);
        }
    };
    let user_ids = std::env::var("LOADTEST_USER_IDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(1_000_000);
    let host = urls[0].trim_end_matches("/protected").to_string();
    let _ = SETUP.set(Setup { urls, user_ids });

    // A run is always bounded: by --iterations if given (goose refuses both), else 30 s by default.
    let bounded_by_iterations =
        std::env::args().any(|a| a == "--iterations" || a.starts_with("--iterations="));
    let mut attack = GooseAttack::initialize()?;
    if !bounded_by_iterations {
        attack = *attack.set_default(GooseDefault::RunTime, 30)?;
    }
    attack
        .register_scenario(scenario!("HotUser").register_transaction(transaction!(hot_user)))
        .register_scenario(scenario!("ManyUsers").register_transaction(transaction!(many_users)))
        .register_scenario(
            scenario!("Mix")
                .register_transaction(transaction!(hot_user).set_weight(1)?)
                .register_transaction(transaction!(many_users).set_weight(9)?),
        )
        .register_scenario(scenario!("NewUsers").register_transaction(transaction!(new_user)))
        .set_default(GooseDefault::Host, host.as_str())?
        .set_default(GooseDefault::Users, 32)?
        .set_default(GooseDefault::IncreaseRate, "32")?
        .set_default(GooseDefault::ReportFile, "loadtest-report.html")?
        .execute()
        .await?;
    report();
    Ok(())
}
