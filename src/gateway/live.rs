//! The gateway in effect, replaced whole when its file is reloaded: a
//! request keeps the gateway it started with to its end, and the next one
//! sees the new routes, identity settings and keys.

use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};

use super::identity::jwks::Jwks;
use super::{Gateway, GatewayError};

/// What became of the JWKS on a reload, for the task that refreshes it.
pub enum KeysAfterReload {
    /// The same source: the same keys, the same task.
    Kept,
    /// A new source, fetched once already (its task is to be started), or none.
    Replaced(Option<Arc<Jwks>>),
}

/// The gateway in effect.
pub struct LiveGateway {
    current: ArcSwap<Gateway>,
}

impl LiveGateway {
    pub fn new(gateway: Arc<Gateway>) -> Self {
        Self {
            current: ArcSwap::new(gateway),
        }
    }

    /// The gateway in effect, for as long as a request needs it.
    pub fn current(&self) -> Arc<Gateway> {
        self.current.load_full()
    }

    /// The gateway in effect, for a quick look.
    pub fn peek(&self) -> Guard<Arc<Gateway>> {
        self.current.load()
    }

    /// Reads the gateway file again and, if it is valid, puts it in effect.
    /// A JWKS from a new source is fetched first, and a failed fetch refuses
    /// the reload: the keys in use stay rather than none. On an error
    /// nothing changed.
    pub async fn reload(&self) -> Result<KeysAfterReload, GatewayError> {
        let old = self.current();
        let reader = Arc::clone(&old);
        let new = tokio::task::spawn_blocking(move || reader.reread())
            .await
            .map_err(|e| GatewayError::ReadStopped(e.to_string()))??;
        let keys = match (new.jwks(), old.jwks()) {
            (Some(new), Some(old)) if Arc::ptr_eq(&new, &old) => KeysAfterReload::Kept,
            (Some(fresh), _) => {
                let count = fresh.refresh().await.map_err(GatewayError::Keys)?;
                if count == 0 {
                    return Err(GatewayError::NoUsableKey);
                }
                KeysAfterReload::Replaced(Some(fresh))
            }
            (None, _) => KeysAfterReload::Replaced(None),
        };
        self.current.store(Arc::new(new));
        Ok(keys)
    }
}
