//! `ShouldRateLimit`: a request's descriptors checked and decided together,
//! answered with Envoy's overall code and one status per descriptor.

use std::sync::Arc;

use envoy_types::pb::envoy::extensions::common::ratelimit::v3::rate_limit_descriptor::RateLimitOverride;
use envoy_types::pb::envoy::extensions::common::ratelimit::v3::RateLimitDescriptor;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_service_server::RateLimitService;
use envoy_types::pb::envoy::service::ratelimit::v3::{RateLimitRequest, RateLimitResponse};
use opentelemetry::KeyValue;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};

use super::response::{respond, Answers};
use crate::clock::Clock;
use crate::limiter::Store;
use crate::policy::descriptors::{
    Counting, DescriptorLimit, DescriptorQuery, DescriptorVerdict, LimitKind, Unit,
};
use crate::policy::Policy;
use crate::telemetry::traces::{Carrier, RequestSpan, Traces};
use crate::telemetry::{RlsMetrics, RlsOutcome};

/// Most descriptors in one request.
pub const MAX_DESCRIPTORS: usize = 64;
/// Most entries in one descriptor.
pub const MAX_ENTRIES: usize = 16;
/// Longest domain, entry key or entry value, in bytes.
pub const MAX_TEXT: usize = 512;

/// The decision token callers must send, compared by its owner (the
/// settings' secret compares in constant time): the service never holds
/// the text itself.
pub trait DecisionToken: Send + Sync {
    /// Whether `presented` is the token.
    fn matches(&self, presented: &[u8]) -> bool;
}

/// What the service decides with.
pub struct Limiter {
    pub store: Arc<Store>,
    pub policy: Arc<Policy>,
    pub clock: Arc<dyn Clock>,
    pub metrics: RlsMetrics,
    /// The decision token callers must send; `None`: anyone may ask.
    pub token: Option<Box<dyn DecisionToken>>,
    /// Answer with dynamic metadata (`--rls-response-metadata`).
    pub response_metadata: bool,
    /// Global shadow mode and rate-limit headers (`--rls-shadow`, `--rls-response-headers`).
    pub answers: Answers,
    /// How descriptors count (`--rls-count-over-limit`).
    pub counting: Counting,
    /// Traces over OTLP; `None`: off.
    pub traces: Option<Arc<Traces>>,
}

/// The span's name: the RPC's full name, as OpenTelemetry's conventions say.
const SPAN: &str = "envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit";

#[tonic::async_trait]
impl RateLimitService for Limiter {
    async fn should_rate_limit(
        &self,
        request: Request<RateLimitRequest>,
    ) -> Result<Response<RateLimitResponse>, Status> {
        let mut span = self.traces.as_ref().map(|traces| {
            traces.server_span(SPAN, &Metadata(request.metadata()), rpc_attributes())
        });
        let (answer, outcome) = self.answer(request, span.as_mut());
        self.metrics.request(outcome);
        if let Some(span) = &mut span {
            span.set("limiter.outcome", outcome.as_str());
            span.set(
                "rpc.grpc.status_code",
                answer.as_ref().map_or_else(|s| s.code() as i64, |_| 0),
            );
        }
        answer.map(Response::new)
    }
}

/// A call's metadata, read for trace context (Envoy sends it there when its
/// tracing is on).
struct Metadata<'m>(&'m MetadataMap);

impl Carrier for Metadata<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.0.get(name)?.to_str().ok()
    }
}

fn rpc_attributes() -> Vec<KeyValue> {
    vec![
        KeyValue::new("rpc.system", "grpc"),
        KeyValue::new("rpc.service", "envoy.service.ratelimit.v3.RateLimitService"),
        KeyValue::new("rpc.method", "ShouldRateLimit"),
    ]
}

impl Limiter {
    /// The answer to one call, and its outcome to count.
    fn answer(
        &self,
        request: Request<RateLimitRequest>,
        span: Option<&mut RequestSpan>,
    ) -> (Result<RateLimitResponse, Status>, RlsOutcome) {
        if let Err(refused) = self.authorize(request.metadata()) {
            return (Err(refused), RlsOutcome::Unauthenticated);
        }
        let request = request.into_inner();
        if let Some(span) = span {
            span.set("ratelimit.domain", request.domain.clone());
            span.set("ratelimit.descriptors", request.descriptors.len() as i64);
        }
        // A panic while deciding must reach Envoy as UNAVAILABLE (so its
        // failure_mode_deny applies), not as a reset stream.
        let decided =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.decide(&request)));
        let answer = decided.unwrap_or_else(|_| {
            Err(Status::unavailable(
                "the rate limiter could not decide this request",
            ))
        });
        match answer {
            Ok((response, outcome)) => (Ok(response), outcome),
            Err(status) if status.code() == tonic::Code::InvalidArgument => {
                (Err(status), RlsOutcome::Invalid)
            }
            Err(status) => (Err(status), RlsOutcome::Unavailable),
        }
    }

    /// Whether the call carries the decision token, if one is set: Envoy
    /// sends it as `initial_metadata` of its `grpc_service`.
    fn authorize(&self, metadata: &MetadataMap) -> Result<(), Status> {
        let Some(token) = &self.token else {
            return Ok(());
        };
        let presented = match metadata.get("x-limiter-token") {
            Some(value) => Some(value.as_bytes().trim_ascii()),
            None => metadata
                .get("authorization")
                .and_then(|v| v.as_bytes().split_at_checked(7))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case(b"bearer "))
                .map(|(_, token)| token.trim_ascii()),
        };
        match presented {
            Some(presented) if token.matches(presented) => Ok(()),
            Some(_) => Err(Status::unauthenticated(
                "the decision token sent is not this node's",
            )),
            None => Err(Status::unauthenticated(
                "send the decision token as metadata x-limiter-token (Envoy: initial_metadata of the grpc_service)",
            )),
        }
    }

    fn decide(
        &self,
        request: &RateLimitRequest,
    ) -> Result<(RateLimitResponse, RlsOutcome), Status> {
        let (entries, descriptors) = validate(request)?;
        let mut at = 0;
        let queries: Vec<DescriptorQuery<'_>> = descriptors
            .iter()
            .map(|&(len, hits, limit)| {
                let query = DescriptorQuery {
                    entries: &entries[at..at + len],
                    hits,
                    limit,
                };
                at += len;
                query
            })
            .collect();
        let mut verdicts = Vec::with_capacity(queries.len());
        let passed = self.policy.check_descriptors(
            &self.store,
            &request.domain,
            &queries,
            self.counting,
            self.clock.now(),
            &mut verdicts,
        );
        self.count(&request.domain, &queries, &verdicts);
        let (mut response, outcome) = respond(passed, &verdicts, &self.answers);
        if self.response_metadata {
            response.dynamic_metadata = Some(super::metadata::dynamic_metadata(request, &verdicts));
        }
        Ok((response, outcome))
    }

    /// Counts each descriptor under its statistics name: with the request's
    /// values for `detailed_metric`, `value_to_metric` and overrides.
    fn count(&self, domain: &str, queries: &[DescriptorQuery<'_>], verdicts: &[DescriptorVerdict]) {
        let named = |l: &DescriptorLimit| l.detailed_metric || l.value_to_metric;
        let set = verdicts
            .iter()
            .any(|v| v.limit.as_deref().is_some_and(named))
            .then(|| self.policy.descriptors());
        let mut name = String::new();
        for (query, verdict) in queries.iter().zip(verdicts) {
            let limit = verdict.limit.as_deref();
            let detailed = match (&set, limit) {
                (Some(set), Some(limit)) => {
                    set.metric_name(domain, query.entries, limit, &mut name)
                }
                _ => false,
            };
            let detailed = detailed.then_some(name.as_str());
            self.metrics.descriptor(limit, detailed, verdict.outcome);
        }
    }
}

/// A request's entries, flattened, and per descriptor its entry count,
/// hits and limit override.
type Checked<'r> = (
    Vec<(&'r str, &'r str)>,
    Vec<(usize, u32, Option<(u32, Unit)>)>,
);

/// The request's entries and descriptors, or `INVALID_ARGUMENT` naming the field.
fn validate(request: &RateLimitRequest) -> Result<Checked<'_>, Status> {
    let invalid =
        |field: String, reason: &str| Status::invalid_argument(format!("{field}: {reason}"));
    if request.domain.is_empty() {
        return Err(invalid("domain".into(), "required, and not empty"));
    }
    if request.domain.len() > MAX_TEXT {
        return Err(invalid("domain".into(), "longer than 512 bytes"));
    }
    match request.descriptors.len() {
        0 => return Err(invalid("descriptors".into(), "at least one is required")),
        n if n > MAX_DESCRIPTORS => {
            return Err(invalid("descriptors".into(), "more than 64 in one request"))
        }
        _ => {}
    }
    // Envoy sends 0 for "not set": one hit.
    let request_hits = request.hits_addend.max(1);
    let mut entries = Vec::new();
    let mut descriptors = Vec::with_capacity(request.descriptors.len());
    for (i, descriptor) in request.descriptors.iter().enumerate() {
        let hits = descriptor_hits(i, descriptor, request_hits)?;
        let limit = descriptor
            .limit
            .as_ref()
            .map(|l| limit_override(i, l))
            .transpose()?;
        if descriptor.entries.is_empty() || descriptor.entries.len() > MAX_ENTRIES {
            return Err(invalid(
                format!("descriptors[{i}].entries"),
                "from 1 to 16 entries",
            ));
        }
        for (j, entry) in descriptor.entries.iter().enumerate() {
            let field = |name: &str| format!("descriptors[{i}].entries[{j}].{name}");
            if entry.key.is_empty() {
                return Err(invalid(field("key"), "required, and not empty"));
            }
            if entry.key.len() > MAX_TEXT {
                return Err(invalid(field("key"), "longer than 512 bytes"));
            }
            if entry.value.len() > MAX_TEXT {
                return Err(invalid(field("value"), "longer than 512 bytes"));
            }
            entries.push((entry.key.as_str(), entry.value.as_str()));
        }
        descriptors.push((descriptor.entries.len(), hits, limit));
    }
    Ok((entries, descriptors))
}

/// A descriptor's own `hits_addend` when set (0 included: checked without
/// spending, as envoyproxy/ratelimit does), else the request's.
fn descriptor_hits(
    i: usize,
    descriptor: &RateLimitDescriptor,
    request_hits: u32,
) -> Result<u32, Status> {
    match descriptor.hits_addend {
        None => Ok(request_hits),
        Some(hits) => u32::try_from(hits.value).map_err(|_| {
            Status::invalid_argument(format!("descriptors[{i}].hits_addend: at most 4294967295"))
        }),
    }
}

/// A descriptor's `limit` override, or `INVALID_ARGUMENT` naming the field.
fn limit_override(i: usize, limit: &RateLimitOverride) -> Result<(u32, Unit), Status> {
    let invalid = |field: &str, reason: String| {
        Status::invalid_argument(format!("descriptors[{i}].limit.{field}: {reason}"))
    };
    let unit = override_unit(limit.unit).ok_or_else(|| {
        invalid(
            "unit",
            "SECOND, MINUTE, HOUR, DAY, WEEK, MONTH or YEAR".into(),
        )
    })?;
    LimitKind::of(limit.requests_per_unit, unit)
        .map_err(|e| invalid("requests_per_unit", e.to_string()))?;
    Ok((limit.requests_per_unit, unit))
}

/// An override's unit: Envoy's `RateLimitUnit`, read as envoyproxy/ratelimit
/// reads it (as the response's unit, so 7 is a week).
fn override_unit(unit: i32) -> Option<Unit> {
    Some(match unit {
        1 => Unit::Second,
        2 => Unit::Minute,
        3 => Unit::Hour,
        4 => Unit::Day,
        5 => Unit::Month,
        6 => Unit::Year,
        7 => Unit::Week,
        _ => return None,
    })
}
