//! Settings of traces over OTLP: checked at start, `None` when off.

use super::{Cli, ConfigError};

/// How spans are sent to the collector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// OTLP/gRPC (port 4317 by convention).
    Grpc,
    /// OTLP/HTTP with protobuf bodies (port 4318 by convention).
    Http,
}

/// The validated trace settings.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceSettings {
    /// The collector: for HTTP, the full URL spans are posted to.
    pub endpoint: String,
    /// gRPC or HTTP.
    pub protocol: OtlpProtocol,
    /// Fraction of new traces kept, in [0, 1].
    pub sample_ratio: f64,
    /// `service.name` of the spans.
    pub service_name: String,
}

/// The trace settings; `None` without an endpoint (or with an empty one).
pub(super) fn traces(cli: &Cli) -> Result<Option<TraceSettings>, ConfigError> {
    let flags = &cli.traces;
    let Some(endpoint) = flags.otlp_endpoint.as_deref().map(str::trim) else {
        return Ok(None);
    };
    if endpoint.is_empty() {
        return Ok(None);
    }
    let protocol = match flags.otlp_protocol.as_str() {
        "grpc" => OtlpProtocol::Grpc,
        "http" => OtlpProtocol::Http,
        other => {
            return Err(ConfigError::new(
                "otlp-protocol",
                format!("`{other}` is neither `grpc` nor `http`"),
            ))
        }
    };
    // No TLS client to collectors is built in: a local agent or sidecar
    // forwards to a remote one.
    let Some(rest) = endpoint.strip_prefix("http://") else {
        return Err(ConfigError::new(
            "otlp-endpoint",
            format!("`{endpoint}` is not an http:// URL (send to a local collector; https is not supported)"),
        ));
    };
    let endpoint = match (protocol, rest.find('/')) {
        (OtlpProtocol::Http, None) => format!("{endpoint}/v1/traces"),
        (OtlpProtocol::Http, Some(at)) if rest[at..] == *"/" => format!("{endpoint}v1/traces"),
        _ => endpoint.to_string(),
    };
    let ratio = flags.trace_sample_ratio;
    if !(0.0..=1.0).contains(&ratio) {
        return Err(ConfigError::new(
            "trace-sample-ratio",
            format!("{ratio} is not between 0 and 1"),
        ));
    }
    if flags.service_name.trim().is_empty() {
        return Err(ConfigError::new("service-name", "must not be empty"));
    }
    Ok(Some(TraceSettings {
        endpoint,
        protocol,
        sample_ratio: ratio,
        service_name: flags.service_name.trim().to_string(),
    }))
}
