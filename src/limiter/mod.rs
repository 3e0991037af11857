//! The limiter core: bucket arithmetic, rates, the CRDT merge and the bucket
//! store. Pure and synchronous: it knows nothing of HTTP, Kafka, settings,
//! async runtimes or metrics, and takes the current time as an argument.

pub mod bucket;
pub mod merge;
pub mod quiet;
pub mod rate;
pub mod refusals;
pub mod spent;
pub mod stamp;
pub mod store;
pub mod window;

pub use bucket::{BucketState, Decision, Limit, LimitError, Stamp};
pub use merge::{clamp_future, merge, merge_counted, node_key, rescale, MergeMode, Replica};
pub use quiet::Quiet;
pub use rate::parse_rate;
pub use spent::{Entry, Spent};
pub use store::{Change, Evictions, Replicated, Store};
pub use window::{Algorithm, Tz, Unit};
