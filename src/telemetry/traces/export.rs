//! The way out for finished spans: a bounded queue (a full one drops the
//! span and counts it) and one thread of its own, with its own runtime, that
//! batches and sends them to the collector. A request only ever pushes
//! without waiting; a slow or dead collector costs the spans, never a request.

use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use metrics::Counter;
use opentelemetry::Context;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use opentelemetry_sdk::Resource;
use tokio::sync::{mpsc, Notify};

use super::{OtlpProtocol, TraceSettings};

/// Spans waiting for the export thread; past it, new ones are dropped.
pub const QUEUE: usize = 2048;
/// Most spans in one export.
const BATCH: usize = 512;
/// Longest a span waits for its batch to fill.
const DELAY: Duration = Duration::from_millis(500);
/// Longest one export may take before its spans are given up.
const TIMEOUT: Duration = Duration::from_secs(5);

/// What the export thread counts.
#[derive(Clone, Debug)]
pub struct Counters {
    /// Spans the collector took.
    pub exported: Counter,
    /// Spans dropped because the queue was full.
    pub queue_full: Counter,
    /// Spans in an export that failed or timed out.
    pub export_failed: Counter,
}

/// Why tracing could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot start the trace export thread: {0}")]
    Thread(#[from] std::io::Error),
    #[error("cannot make the OTLP exporter for {endpoint}: {reason}")]
    Exporter { endpoint: String, reason: String },
}

/// The SDK's span processor: hands each finished (sampled) span to the queue.
#[derive(Debug)]
pub struct Queue {
    sender: mpsc::Sender<SpanData>,
    stop: std::sync::Arc<Notify>,
    finished: parking_lot::Mutex<Option<std_mpsc::Receiver<()>>>,
    queue_full: Counter,
}

impl Queue {
    /// Starts the export thread for `settings`, its spans described by `resource`.
    pub fn start(
        settings: &TraceSettings,
        resource: Resource,
        counters: Counters,
    ) -> Result<Self, StartError> {
        let (sender, receiver) = mpsc::channel(QUEUE);
        let stop = std::sync::Arc::new(Notify::new());
        let (started, start_result) = std_mpsc::sync_channel(1);
        let (done, finished) = std_mpsc::sync_channel(1);
        let (settings, thread_stop, queue_full) =
            (settings.clone(), stop.clone(), counters.queue_full.clone());
        std::thread::Builder::new()
            .name("otlp-export".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                let runtime = match runtime {
                    Ok(runtime) => runtime,
                    Err(e) => return drop(started.send(Err(StartError::Thread(e)))),
                };
                runtime.block_on(async move {
                    // Made inside the runtime: the gRPC channel's task lives on it.
                    let mut exporter = match exporter(&settings) {
                        Ok(exporter) => exporter,
                        Err(e) => return drop(started.send(Err(e))),
                    };
                    exporter.set_resource(&resource);
                    let _ = started.send(Ok(()));
                    run(exporter, receiver, &thread_stop, &counters).await;
                });
                let _ = done.send(());
            })?;
        match start_result.recv() {
            Ok(Ok(())) => Ok(Self {
                sender,
                stop,
                finished: parking_lot::Mutex::new(Some(finished)),
                queue_full,
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(StartError::Thread(std::io::Error::other(
                "the export thread ended at start",
            ))),
        }
    }
}

impl SpanProcessor for Queue {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if self.sender.try_send(span).is_err() {
            self.queue_full.increment(1);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    /// Sends what is queued (one last export) and waits for it, at most `timeout`.
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.stop.notify_one();
        if let Some(finished) = self.finished.lock().take() {
            let _ = finished.recv_timeout(timeout);
        }
        Ok(())
    }
}

/// The OTLP exporter of `settings`' protocol.
fn exporter(settings: &TraceSettings) -> Result<opentelemetry_otlp::SpanExporter, StartError> {
    let built = match settings.protocol {
        OtlpProtocol::Grpc => opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(settings.endpoint.clone())
            .with_timeout(TIMEOUT)
            .build(),
        OtlpProtocol::Http => opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(
                opentelemetry_http::hyper::HyperClient::with_default_connector(TIMEOUT, None),
            )
            .with_endpoint(settings.endpoint.clone())
            .with_timeout(TIMEOUT)
            .build(),
    };
    built.map_err(|e| StartError::Exporter {
        endpoint: settings.endpoint.clone(),
        reason: e.to_string(),
    })
}

/// Batches from the queue until `stop` (a batch is what came in `DELAY`
/// after its first span), then sends what is left once.
async fn run(
    exporter: impl SpanExporter,
    mut receiver: mpsc::Receiver<SpanData>,
    stop: &Notify,
    counters: &Counters,
) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut stopping = std::pin::pin!(stop.notified());
    loop {
        let mut stopped = tokio::select! {
            got = receiver.recv_many(&mut batch, BATCH) => got == 0,
            () = &mut stopping => true,
        };
        if !stopped {
            stopped = tokio::select! {
                () = tokio::time::sleep(DELAY) => false,
                () = &mut stopping => true,
            };
        }
        let most = if stopped { QUEUE } else { BATCH };
        while batch.len() < most {
            match receiver.try_recv() {
                Ok(span) => batch.push(span),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            send(&exporter, std::mem::take(&mut batch), counters).await;
        }
        if stopped {
            return;
        }
    }
}

/// One export, bounded in time; its spans counted as exported or failed.
async fn send(exporter: &impl SpanExporter, batch: Vec<SpanData>, counters: &Counters) {
    let spans = batch.len() as u64;
    match tokio::time::timeout(TIMEOUT, exporter.export(batch)).await {
        Ok(Ok(())) => counters.exported.increment(spans),
        Ok(Err(error)) => {
            counters.export_failed.increment(spans);
            tracing::debug!(%error, spans, "trace export failed; spans dropped");
        }
        Err(_) => {
            counters.export_failed.increment(spans);
            tracing::debug!(spans, "trace export timed out; spans dropped");
        }
    }
}
