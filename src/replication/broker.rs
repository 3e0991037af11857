//! The broker as the supervisor last saw it — answering or not, and the
//! identity (topic ID) of each topic — which the readers follow: a reader
//! runs one session per epoch, and the epoch moves on whenever the broker
//! goes away, comes back, or a topic turns out to be a new one.

use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use super::topic_id::TopicId;

/// The identities of the two topics (`None`: a broker that gives no IDs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Topics {
    pub state: Option<TopicId>,
    pub config: Option<TopicId>,
}

/// Which of the two topics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Which {
    State,
    Config,
}

impl Which {
    /// Its name in metrics.
    pub(super) fn label(self) -> &'static str {
        match self {
            Which::State => "state",
            Which::Config => "config",
        }
    }
}

impl Topics {
    pub(super) fn get(&self, which: Which) -> Option<TopicId> {
        match which {
            Which::State => self.state,
            Which::Config => self.config,
        }
    }
}

#[derive(Default)]
struct State {
    up: bool,
    epoch: u64,
    topics: Topics,
}

/// Shared by the supervisor, which sets it, and the readers, which follow it.
#[derive(Default)]
pub(super) struct Broker {
    state: Mutex<State>,
    changed: Condvar,
}

impl Broker {
    /// The broker answered with both topics, of these identities.
    pub(super) fn up(&self, topics: Topics) {
        let mut state = self.state.lock();
        if !state.up || state.topics != topics {
            state.up = true;
            state.topics = topics;
            state.epoch += 1;
            self.changed.notify_all();
        }
    }

    /// The broker did not answer (or lacks a topic).
    pub(super) fn down(&self) {
        let mut state = self.state.lock();
        if state.up {
            state.up = false;
            state.epoch += 1;
            self.changed.notify_all();
        }
    }

    /// The current epoch.
    pub(super) fn epoch(&self) -> u64 {
        self.state.lock().epoch
    }

    /// Waits up to `timeout` for the broker to answer; its epoch and topics if it does.
    pub(super) fn wait_up(&self, timeout: Duration) -> Option<(u64, Topics)> {
        let mut state = self.state.lock();
        if !state.up {
            self.changed
                .wait_while_for(&mut state, |state| !state.up, timeout);
        }
        state.up.then_some((state.epoch, state.topics))
    }

    /// Wakes the readers (the node is stopping).
    pub(super) fn wake(&self) {
        self.changed.notify_all();
    }
}

#[cfg(test)]
#[path = "broker_tests.rs"]
mod tests;
