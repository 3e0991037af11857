//! The public keys of RS256 and ES256 tokens: a JWKS document read from a
//! file or fetched from an http(s) URL, chosen by `kid`, cached, and refreshed
//! by a background task. A failed fetch keeps the last good keys; a token
//! naming an unknown `kid` asks for at most one early refetch per
//! [`EARLY_REFETCH_EVERY`]. Verifying a token never waits on the network.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use parking_lot::Mutex;
use tokio::sync::Notify;

/// Largest JWKS document read, in bytes.
pub const MAX_JWKS_BYTES: u64 = 1 << 20;
/// Most keys kept from one document.
pub const MAX_KEYS: usize = 100;
/// Shortest time between two early refetches asked for by unknown `kid`s.
pub const EARLY_REFETCH_EVERY: Duration = Duration::from_secs(30);
/// Time allowed for one fetch of a JWKS URL (connect, send, read).
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the keys come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JwksSource {
    /// A local file.
    File(PathBuf),
    /// An `http://` or `https://` URL.
    Url(String),
}

/// One verification key and the one algorithm it may verify.
#[derive(Clone)]
pub struct Key {
    /// RS256 for an RSA key, ES256 for a P-256 key.
    pub alg: Algorithm,
    /// The public key.
    pub key: DecodingKey,
}

/// The usable keys of one JWKS document.
#[derive(Clone, Default)]
pub struct KeySet {
    by_kid: HashMap<String, Key>,
    without_kid: Vec<Key>,
}

/// What a lookup found.
pub enum Lookup<'k> {
    /// The key.
    Found(&'k Key),
    /// No such key.
    Unknown,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("kids", &self.by_kid.keys().collect::<Vec<_>>())
            .field("without_kid", &self.without_kid.len())
            .finish()
    }
}

/// Why a JWKS was not read: the keys in use stay.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// The file or URL could not be read (a later fetch may work).
    #[error("{0}")]
    Unreachable(String),
    /// What came back is not a JWKS document.
    #[error("not a JWKS document: {0}")]
    NotAJwks(String),
    /// The task fetching it stopped.
    #[error("the fetch task failed: {0}")]
    TaskFailed(String),
}

impl KeySet {
    /// Parses a JWKS document. Keys that are not RSA or P-256 signing keys
    /// (or that fail to parse) are skipped; a document that is not a JWKS is
    /// an error.
    pub fn parse(text: &[u8]) -> Result<Self, JwksError> {
        #[derive(serde::Deserialize)]
        struct Doc {
            keys: Vec<serde_json::Value>,
        }
        let doc: Doc =
            serde_json::from_slice(text).map_err(|e| JwksError::NotAJwks(e.to_string()))?;
        let mut set = KeySet::default();
        for value in doc.keys.into_iter().take(MAX_KEYS) {
            let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
                continue;
            };
            let Some(key) = usable(&jwk) else { continue };
            match jwk.common.key_id {
                Some(kid) => {
                    set.by_kid.insert(kid, key);
                }
                None => set.without_kid.push(key),
            }
        }
        Ok(set)
    }

    /// The key named `kid`; without a `kid`, the only key for `alg`, if
    /// exactly one is.
    pub fn lookup(&self, kid: Option<&str>, alg: Algorithm) -> Lookup<'_> {
        let found = match kid {
            Some(kid) => self.by_kid.get(kid),
            None => {
                let mut all = self.by_kid.values().chain(&self.without_kid);
                let mut of_alg = all.by_ref().filter(|k| k.alg == alg);
                match (of_alg.next(), of_alg.next()) {
                    (Some(key), None) => Some(key),
                    _ => None,
                }
            }
        };
        found.map_or(Lookup::Unknown, Lookup::Found)
    }

    /// How many keys are usable.
    pub fn len(&self) -> usize {
        self.by_kid.len() + self.without_kid.len()
    }

    /// Whether no key is usable.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A signing key we can verify with, and its algorithm.
fn usable(jwk: &Jwk) -> Option<Key> {
    if matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
        return None;
    }
    let alg = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Algorithm::ES256
        }
        _ => return None,
    };
    let declared = jwk.common.key_algorithm;
    let agrees = match declared {
        None => true,
        Some(KeyAlgorithm::RS256) => alg == Algorithm::RS256,
        Some(KeyAlgorithm::ES256) => alg == Algorithm::ES256,
        Some(_) => false,
    };
    let key = DecodingKey::from_jwk(jwk).ok()?;
    agrees.then_some(Key { alg, key })
}

/// The cached keys of one source, and what refreshes them.
pub struct Jwks {
    source: JwksSource,
    refresh_every: Duration,
    keys: ArcSwap<KeySet>,
    /// Whether a fetch has been tried (or keys put in use) yet.
    tried: AtomicBool,
    last_early: Mutex<Option<Instant>>,
    wake: Notify,
}

impl std::fmt::Debug for Jwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwks")
            .field("source", &self.source)
            .field("refresh_every", &self.refresh_every)
            .field("keys", &self.keys.load().len())
            .finish()
    }
}

impl Jwks {
    /// Keys from `source`, none yet, refreshed every `refresh_every` once
    /// [`run`](Jwks::run) is spawned.
    pub fn new(source: JwksSource, refresh_every: Duration) -> Self {
        Self {
            source,
            refresh_every,
            keys: ArcSwap::from_pointee(KeySet::default()),
            tried: AtomicBool::new(false),
            last_early: Mutex::new(None),
            wake: Notify::new(),
        }
    }

    /// Whether `other` reads the same source at the same period (a reload
    /// that keeps them keeps the keys and the task refreshing them).
    pub fn same_as(&self, other: &Jwks) -> bool {
        self.source == other.source && self.refresh_every == other.refresh_every
    }

    /// Takes up what `fresh` (the same source, read again by a reload) holds:
    /// a file's keys as just read; for a URL, a fetch now.
    pub fn renew_from(&self, fresh: &Jwks) {
        if fresh.tried() {
            self.keys.store(fresh.keys.load_full());
            self.tried.store(true, Ordering::Release);
        } else {
            self.wake.notify_one();
        }
    }

    /// Where the keys come from.
    pub fn source(&self) -> &JwksSource {
        &self.source
    }

    /// The keys in use.
    pub fn keys(&self) -> Arc<KeySet> {
        self.keys.load_full()
    }

    /// Whether the first fetch has been tried (keys in use, or the source
    /// failed): until then a valid token may find no key.
    pub fn tried(&self) -> bool {
        self.tried.load(Ordering::Acquire)
    }

    /// Puts `keys` in use.
    pub fn replace(&self, keys: KeySet) {
        self.keys.store(Arc::new(keys));
        self.tried.store(true, Ordering::Release);
    }

    /// Asks the refresh task for an early refetch (a token named an unknown
    /// `kid`): granted, and `true`, at most once per [`EARLY_REFETCH_EVERY`].
    /// Before the first fetch has been tried nothing is granted: that fetch
    /// is under way, and tokens arriving meanwhile must not use up the grant
    /// a key rotation soon after start-up would need.
    pub fn request_refetch(&self, now: Instant) -> bool {
        if !self.tried.load(Ordering::Acquire) {
            return false;
        }
        let mut last = self.last_early.lock();
        if last.is_some_and(|at| now.saturating_duration_since(at) < EARLY_REFETCH_EVERY) {
            return false;
        }
        *last = Some(now);
        self.wake.notify_one();
        true
    }

    /// Reads the document now (blocking: file or network I/O).
    pub fn fetch_blocking(&self) -> Result<KeySet, JwksError> {
        let bytes = match &self.source {
            JwksSource::File(path) => read_file(path),
            JwksSource::Url(url) => fetch_url(url),
        }
        .map_err(JwksError::Unreachable)?;
        KeySet::parse(&bytes)
    }

    /// Fetches once (off the async threads) and, if that worked, puts the
    /// new keys in use; on failure the keys in use stay. Returns the count.
    pub async fn refresh(self: &Arc<Self>) -> Result<usize, JwksError> {
        let this = Arc::clone(self);
        let fetched = tokio::task::spawn_blocking(move || this.fetch_blocking())
            .await
            .map_err(|e| JwksError::TaskFailed(e.to_string()))
            .and_then(|fetched| fetched);
        match fetched {
            Ok(keys) => {
                let count = keys.len();
                // In use before "tried" is seen, so readiness never comes first.
                self.replace(keys);
                Ok(count)
            }
            Err(error) => {
                self.tried.store(true, Ordering::Release);
                Err(error)
            }
        }
    }

    /// Refreshes now (unless just read: a file at start, a reload's first
    /// fetch), then every `refresh_every` (at most every
    /// [`EARLY_REFETCH_EVERY`] while no key is held) and whenever an early
    /// refetch is granted; runs until dropped (spawn it, abort it).
    pub async fn run(self: Arc<Self>) {
        let mut just_read = self.tried();
        loop {
            match just_read {
                true => just_read = false,
                false => match self.refresh().await {
                    Ok(count) => tracing::debug!(source = ?self.source, count, "JWKS refreshed"),
                    Err(error) => {
                        tracing::warn!(source = ?self.source, %error, "JWKS refresh failed; keeping the last good keys")
                    }
                },
            }
            // Without any key yet (a source down at start-up), try again sooner.
            let wait = if self.keys.load().is_empty() {
                self.refresh_every.min(EARLY_REFETCH_EVERY)
            } else {
                self.refresh_every
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.wake.notified() => {}
            }
        }
    }
}

fn read_file(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    bounded(file).map_err(|e| format!("{}: {e}", path.display()))
}

fn fetch_url(url: &str) -> Result<Vec<u8>, String> {
    let agent = ureq::AgentBuilder::new()
        .timeout(FETCH_TIMEOUT)
        .redirects(3)
        .build();
    let response = agent
        .get(url)
        .set("Accept", "application/json")
        .call()
        .map_err(|e| format!("GET {url}: {e}"))?;
    bounded(response.into_reader()).map_err(|e| format!("GET {url}: {e}"))
}

/// All of `reader`, if at most [`MAX_JWKS_BYTES`].
fn bounded(reader: impl Read) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_JWKS_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_JWKS_BYTES {
        return Err(format!("larger than {MAX_JWKS_BYTES} bytes"));
    }
    Ok(bytes)
}

#[cfg(test)]
#[path = "jwks_tests.rs"]
mod tests;
