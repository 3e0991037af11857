//! The flags of traces over OTLP; unset endpoint: no tracing at all, and
//! nothing of it on the request path.

use clap::Args;

/// Where spans go and which are kept, flattened into the command line.
#[derive(Debug, Args)]
pub(in crate::settings) struct TraceFlags {
    /// OpenTelemetry collector to export spans to over OTLP, e.g. http://127.0.0.1:4317 (gRPC)
    /// or http://127.0.0.1:4318 (HTTP). Unset or empty: no tracing.
    #[arg(long, env = "LIMITER_OTLP_ENDPOINT", value_name = "URL")]
    pub(in crate::settings) otlp_endpoint: Option<String>,

    /// How spans reach --otlp-endpoint: `grpc` or `http` (protobuf over HTTP, to /v1/traces
    /// unless the URL has a path).
    #[arg(
        long,
        env = "LIMITER_OTLP_PROTOCOL",
        value_name = "PROTOCOL",
        default_value = "grpc"
    )]
    pub(in crate::settings) otlp_protocol: String,

    /// Fraction of new traces kept (0 to 1); a request that carries a trace context keeps
    /// its caller's sampled flag instead.
    #[arg(
        long,
        env = "LIMITER_TRACE_SAMPLE_RATIO",
        value_name = "FRACTION",
        default_value_t = 1.0
    )]
    pub(in crate::settings) trace_sample_ratio: f64,

    /// `service.name` of the exported spans.
    #[arg(
        long,
        env = "LIMITER_SERVICE_NAME",
        value_name = "NAME",
        default_value = "crdt-limiter"
    )]
    pub(in crate::settings) service_name: String,
}
