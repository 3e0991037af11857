//! The physical limit of the gRPC stack: tonic answering Envoy's
//! `ShouldRateLimit` with OK (one OK status per descriptor) and no limiting,
//! on its own runtime of the same worker count as a node's rate-limit
//! service, so the service's calls/s can be given as a ratio to it measured
//! in the same run.
//!
//! `cargo run --release --example bare_rls -- [ADDR] [WORKERS]` (default
//! 127.0.0.1:8091, one worker per core).

use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::{Code, DescriptorStatus};
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_service_server::{
    RateLimitService, RateLimitServiceServer,
};
use envoy_types::pb::envoy::service::ratelimit::v3::{RateLimitRequest, RateLimitResponse};
use tonic::{Request, Response, Status};

struct AlwaysOk;

#[tonic::async_trait]
impl RateLimitService for AlwaysOk {
    async fn should_rate_limit(
        &self,
        request: Request<RateLimitRequest>,
    ) -> Result<Response<RateLimitResponse>, Status> {
        let statuses = request
            .get_ref()
            .descriptors
            .iter()
            .map(|_| DescriptorStatus {
                code: Code::Ok as i32,
                ..Default::default()
            })
            .collect();
        Ok(Response::new(RateLimitResponse {
            overall_code: Code::Ok as i32,
            statuses,
            ..Default::default()
        }))
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:8091".into())
        .parse()?;
    let workers = args
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    println!("bare_rls on {addr} with {workers} workers");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?
        .block_on(async {
            let incoming =
                tonic::transport::server::TcpIncoming::bind(addr)?.with_nodelay(Some(true));
            tonic::transport::Server::builder()
                .serve_with_incoming(RateLimitServiceServer::new(AlwaysOk), incoming)
                .await?;
            Ok(())
        })
}
