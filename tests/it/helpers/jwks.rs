//! JWKS for gateway tests: a document with the fixture RSA key under kid
//! `k1`, RS256 tokens it verifies, and a loopback server that answers it
//! (holding its first answer until released, if asked).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt");

/// A JWKS document with the fixture RSA key under kid `k1`.
pub fn document() -> String {
    let public: Value =
        serde_json::from_slice(&std::fs::read(format!("{FIXTURES}/public.json")).unwrap()).unwrap();
    json!({"keys": [{"kty": "RSA", "kid": "k1", "alg": "RS256",
        "n": public["rsa"]["n"], "e": public["rsa"]["e"]}]})
    .to_string()
}

/// An RS256 token for `sub`, kid `k1`, valid for ten minutes.
pub fn token(sub: &str) -> String {
    let key = std::fs::read(format!("{FIXTURES}/rsa_private.pem")).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("k1".into());
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    encode(
        &header,
        &json!({"sub": sub, "exp": exp}),
        &EncodingKey::from_rsa_pem(&key).unwrap(),
    )
    .unwrap()
}

/// A loopback server answering every request with [`document`] (or a 503
/// while [`JwksServer::set_down`]).
pub struct JwksServer {
    pub url: String,
    release: Option<Sender<()>>,
    down: Arc<AtomicBool>,
    asked: Arc<AtomicUsize>,
    hits: Arc<AtomicUsize>,
}

impl JwksServer {
    /// With `hold_first`, the first answer waits for [`JwksServer::release`].
    pub fn start(hold_first: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let (release, released) = channel::<()>();
        let document = document();
        let (down, asked, hits) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
        );
        let (is_down, ask, hit) = (Arc::clone(&down), Arc::clone(&asked), Arc::clone(&hits));
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { continue };
                let mut got = Vec::new();
                let mut buf = [0u8; 1024];
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(k) => got.extend_from_slice(&buf[..k]),
                    }
                }
                ask.fetch_add(1, Ordering::SeqCst);
                if n == 0 && hold_first {
                    let _ = released.recv();
                }
                hit.fetch_add(1, Ordering::SeqCst);
                let (status, body) = match is_down.load(Ordering::SeqCst) {
                    true => ("503 Service Unavailable", ""),
                    false => ("200 OK", document.as_str()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(body.as_bytes());
            }
        });
        Self {
            url: format!("http://{addr}/jwks.json"),
            release: Some(release),
            down,
            asked,
            hits,
        }
    }

    /// Answers 503 from now on (or again the document).
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Requests received so far, the held one included.
    pub fn asked(&self) -> usize {
        self.asked.load(Ordering::SeqCst)
    }

    /// Requests answered so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Lets the held first answer go.
    pub fn release(&mut self) {
        if let Some(release) = self.release.take() {
            let _ = release.send(());
        }
    }
}
