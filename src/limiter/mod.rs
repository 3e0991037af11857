//! The limiter core: bucket arithmetic, the bucket store, and the rules. Pure and
//! synchronous: it knows nothing of HTTP, Kafka, async runtimes or metrics, and
//! takes the current time as an argument.

pub mod bucket;
pub mod change;
pub mod matching;
pub mod merge;
pub mod policy;
pub mod rules;
pub mod spent;
pub mod store;

pub use bucket::{BucketState, Decision, Limit, LimitError, Stamp};
pub use merge::{clamp_future, merge, merge_counted, node_key, rescale, MergeMode, Replica};
pub use policy::{BucketView, PlanSource, Policy, PolicyChange, Verdict};
pub use rules::{IpNet, KeyKind, Match, Request, Rule, RuleLimit, RuleSet, RulesError};
pub use spent::{Entry, Spent};
pub use store::{Change, Evictions, Replicated, Store};
