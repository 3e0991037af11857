//! A gRPC client of a node's rate-limit service, on a runtime of its own.

use std::fmt::Display;

use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_service_client::RateLimitServiceClient;
use tonic::transport::Channel;

/// A client connected to the rate-limit service at `grpc` (`host:port`),
/// with the runtime that drives it: a thread of its own, so the connection
/// answers the server's pings between calls as a real client does.
pub fn client(grpc: impl Display) -> (tokio::runtime::Runtime, RateLimitServiceClient<Channel>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let client = runtime
        .block_on(RateLimitServiceClient::connect(format!("http://{grpc}")))
        .expect("the rate-limit service accepts connections");
    (runtime, client)
}
