//! The limiter core: bucket arithmetic and the bucket store. Pure and
//! synchronous: it knows nothing of HTTP, Kafka, async runtimes or metrics, and
//! takes the current time as an argument.

pub mod bucket;
pub mod merge;
pub mod store;

pub use bucket::{BucketState, Decision, Limit, LimitError, Stamp};
pub use merge::{
    clamp_future, merge, merge_counted, node_key, record_spend, rescale, MergeMode, Replica, Spent,
};
pub use store::{Change, Evictions, Replicated, Store};
