//! A topic's identity (its Kafka topic ID), which tells a topic that was
//! deleted and re-created — a rebuilt or restored Kafka — from the one this
//! node read. The rdkafka crate does not expose topic IDs, so this calls
//! librdkafka's `DescribeTopics` through its C API.

use std::ffi::{CStr, CString};
use std::os::raw::c_char;

use std::time::Duration;

use rdkafka::bindings as rd;
use rdkafka::client::Client;
use rdkafka::ClientContext;

/// A topic's ID: 16 bytes, never all zero for a topic that exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TopicId(pub [u8; 16]);

impl std::fmt::Display for TopicId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

/// What the broker says of one topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Described {
    /// It exists, with this ID (`None`: a broker too old to give IDs).
    Exists(Option<TopicId>),
    /// The broker does not know it.
    Missing,
}

/// Why topics could not be described.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DescribeError {
    /// A topic name librdkafka cannot take (it holds a NUL byte).
    #[error("topic `{0}` holds a NUL byte")]
    BadName(String),
    /// The broker did not answer in time, or refused (its words): try again.
    #[error("{0}")]
    Broker(String),
}

/// Describes `topics` (in that order); `Err` when the broker did not answer
/// in `timeout` or refused the request as a whole.
pub fn describe<C: ClientContext>(
    client: &Client<C>,
    topics: &[&str],
    timeout: Duration,
) -> Result<Vec<Described>, DescribeError> {
    let names: Vec<CString> = topics
        .iter()
        .map(|t| CString::new(*t).map_err(|_| DescribeError::BadName(t.to_string())))
        .collect::<Result<_, _>>()?;
    let pointers: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
    let rk = client.native_ptr();
    let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: every object made here is destroyed before returning; the
    // client outlives the call; the result is read before its event is
    // destroyed, and the names are copied out.
    unsafe {
        let collection = rd::rd_kafka_TopicCollection_of_topic_names(
            pointers.as_ptr() as *mut *const c_char,
            pointers.len(),
        );
        let options = rd::rd_kafka_AdminOptions_new(
            rk,
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBETOPICS,
        );
        let mut errstr = [0 as c_char; 256];
        rd::rd_kafka_AdminOptions_set_request_timeout(
            options,
            ms,
            errstr.as_mut_ptr(),
            errstr.len(),
        );
        let queue = rd::rd_kafka_queue_new(rk);
        rd::rd_kafka_DescribeTopics(rk, collection, options, queue);
        let event = rd::rd_kafka_queue_poll(queue, ms.saturating_add(1000));
        let result = read_result(event, topics);
        if !event.is_null() {
            rd::rd_kafka_event_destroy(event);
        }
        rd::rd_kafka_queue_destroy(queue);
        rd::rd_kafka_AdminOptions_destroy(options);
        rd::rd_kafka_TopicCollection_destroy(collection);
        result.map_err(DescribeError::Broker)
    }
}

/// Reads a `DescribeTopics` result event.
///
/// # Safety
/// `event` is null or a live event of this request.
unsafe fn read_result(
    event: *mut rd::rd_kafka_event_t,
    topics: &[&str],
) -> Result<Vec<Described>, String> {
    if event.is_null() {
        return Err("no answer in time".into());
    }
    let code = rd::rd_kafka_event_error(event);
    if code != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        return Err(error_name(code));
    }
    let result = rd::rd_kafka_event_DescribeTopics_result(event);
    if result.is_null() {
        return Err("not a DescribeTopics result".into());
    }
    let mut count = 0usize;
    let described = rd::rd_kafka_DescribeTopics_result_topics(result, &mut count);
    let mut out = vec![Described::Missing; topics.len()];
    for i in 0..count {
        let topic = *described.add(i);
        let name = CStr::from_ptr(rd::rd_kafka_TopicDescription_name(topic)).to_string_lossy();
        let Some(slot) = topics.iter().position(|t| *t == name) else {
            continue;
        };
        let error = rd::rd_kafka_TopicDescription_error(topic);
        if !error.is_null() {
            let code = rd::rd_kafka_error_code(error);
            if code == rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART {
                continue;
            }
            return Err(format!("topic `{name}`: {}", error_name(code)));
        }
        out[slot] = Described::Exists(id_of(rd::rd_kafka_TopicDescription_topic_id(topic)));
    }
    Ok(out)
}

/// The 16 bytes of a UUID, `None` for the all-zero one (no ID given).
///
/// # Safety
/// `uuid` is null or a live UUID.
unsafe fn id_of(uuid: *const rd::rd_kafka_Uuid_t) -> Option<TopicId> {
    if uuid.is_null() {
        return None;
    }
    let high = rd::rd_kafka_Uuid_most_significant_bits(uuid) as u64;
    let low = rd::rd_kafka_Uuid_least_significant_bits(uuid) as u64;
    if high == 0 && low == 0 {
        return None;
    }
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&high.to_be_bytes());
    bytes[8..].copy_from_slice(&low.to_be_bytes());
    Some(TopicId(bytes))
}

fn error_name(code: rd::rd_kafka_resp_err_t) -> String {
    // SAFETY: librdkafka returns a static string for every code.
    unsafe { CStr::from_ptr(rd::rd_kafka_err2str(code)) }
        .to_string_lossy()
        .into_owned()
}
