//! Test helpers of the identity layer: the fixture keys, signed tokens, JWKS
//! documents, a loopback JWKS server, and an identifier to test against.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use parking_lot::Mutex;
use serde_json::{json, Value};

/// A fixed "now" for claims: 2023-11-14.
pub const NOW_SECS: u64 = 1_700_000_000;
/// A 32-byte HS256 test secret.
pub const SECRET: &str = "test-secret-test-secret-test-sec";

pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW_SECS)
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/jwt/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn rsa_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(&fixture("rsa_private.pem")).unwrap()
}

pub fn ec_key() -> EncodingKey {
    EncodingKey::from_ec_pem(&fixture("ec_private.pem")).unwrap()
}

pub fn hs_key() -> EncodingKey {
    EncodingKey::from_secret(SECRET.as_bytes())
}

/// Claims valid at [`now`] for user `sub`.
pub fn claims(sub: &str) -> Value {
    json!({ "sub": sub, "exp": NOW_SECS + 600, "iat": NOW_SECS })
}

/// A token of `claims` signed with `key` under `alg`, naming `kid`.
pub fn token(alg: Algorithm, kid: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

/// An HS256 token of `header` and `payload` as written (JSON text may
/// repeat a name; a JSON value cannot).
pub fn hs_signed_text(header: &str, payload: &str) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &hs_key(), Algorithm::HS256);
    format!("{message}.{}", signature.unwrap())
}

/// An unsigned token (`alg` as given, empty signature).
pub fn unsigned(alg: &str, claims: &Value) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let header = URL_SAFE_NO_PAD.encode(json!({ "alg": alg, "typ": "JWT" }).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

/// A JWKS document with the fixture keys under the given kids:
/// `("a", "rsa")`, `("b", "ec")`.
pub fn jwks(keys: &[(&str, &str)]) -> String {
    let public: Value = serde_json::from_slice(&fixture("public.json")).unwrap();
    let keys: Vec<Value> = keys
        .iter()
        .map(|(kid, kind)| match *kind {
            "rsa" => json!({ "kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                "n": public["rsa"]["n"], "e": public["rsa"]["e"] }),
            _ => json!({ "kty": "EC", "kid": kid, "crv": "P-256",
                "x": public["ec"]["x"], "y": public["ec"]["y"] }),
        })
        .collect();
    json!({ "keys": keys }).to_string()
}

/// A loopback HTTP server answering every GET with the current status and
/// body, counting requests.
pub struct JwksServer {
    pub url: String,
    pub hits: Arc<AtomicUsize>,
    pub reply: Arc<Mutex<(u16, String)>>,
}

impl JwksServer {
    pub fn start(body: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let reply = Arc::new(Mutex::new((200, body)));
        let (h, r) = (Arc::clone(&hits), Arc::clone(&reply));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut buf = [0u8; 4096];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                h.fetch_add(1, Ordering::SeqCst);
                let (status, body) = r.lock().clone();
                let head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(body.as_bytes());
            }
        });
        Self { url, hits, reply }
    }

    pub fn set(&self, status: u16, body: String) {
        *self.reply.lock() = (status, body);
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Waits until `condition` holds, up to `timeout`; whether it did.
pub async fn eventually(timeout: Duration, condition: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    condition()
}
