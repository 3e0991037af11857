//! Resetting buckets to full for the admin API: one bucket by its key, or
//! every bucket counted per a user.

use super::{KeyKind, Policy};
use crate::limiter::{Stamp, Store};

impl Policy {
    /// Resets bucket `key` to full under the limit this node gives it (see
    /// [`Store::reset`]); `None` if no rule or descriptor makes such a key.
    pub fn reset_key(&self, store: &Store, key: &str, now: Stamp) -> Option<Stamp> {
        let limit = self.limit_of_key(key)?;
        Some(store.reset(key, &limit, now))
    }

    /// Resets every bucket counted per `user`: the one of each `user` rule,
    /// and each of a `user+route` rule's buckets this node tracks (every
    /// route's bucket that is not full anywhere, since peers replicate
    /// them), at most `max` keys. Returns the keys reset.
    pub fn reset_user(&self, store: &Store, user: &str, now: Stamp, max: usize) -> Vec<String> {
        let rules = self.rules();
        let mut keys: Vec<String> = Vec::new();
        if rules.bare_keys() {
            keys.push(user.to_string());
        } else {
            for rule in rules.rules() {
                let key = format!("{} {user}", rule.name);
                match rule.key {
                    KeyKind::User => keys.push(key),
                    KeyKind::UserRoute => {
                        let found = store.keys_with_prefix(&(key + " "), max);
                        keys.extend(found.into_iter().map(String::from));
                    }
                    KeyKind::Global | KeyKind::Tenant | KeyKind::Ip => {}
                }
            }
        }
        keys.truncate(max);
        keys.retain(|key| self.reset_key(store, key, now).is_some());
        keys
    }
}
