//! The physical limit of the HTTP stack: actix-web answering `POST /protected`
//! with a fixed 200 and no limiting, on the same worker count as a node, so a
//! node's throughput can be given as a ratio to it measured in the same run.
//!
//! `cargo run --release --example bare_http -- [ADDR] [WORKERS]` (default
//! 127.0.0.1:8090, one worker per core).

use actix_web::http::header::ContentType;
use actix_web::{web, App, HttpResponse, HttpServer};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8090".into());
    let workers = args
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    println!("bare_http on {addr} with {workers} workers");
    HttpServer::new(|| {
        App::new().route(
            "/protected",
            web::post().to(|| async {
                HttpResponse::Ok()
                    .insert_header(ContentType::json())
                    .body(r#"{"allowed":true,"remaining":0}"#)
            }),
        )
    })
    .workers(workers)
    .bind(addr)?
    .run()
    .await
}
