//! Settings of traces over OTLP: checked at start, `None` when off.

use super::{Cli, ConfigError};
pub use crate::telemetry::traces::{OtlpProtocol, TraceSettings};

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

#[cfg(test)]
#[path = "traces_tests.rs"]
mod tests;
