//! TLS for the listener tests: a test CA that signs leaves, the binary
//! started with its log kept in a file (to read what it logged), and a
//! rustls client that keeps its connection open across requests.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::{eventually, NodeProcess};

/// A CA, PEM, and what signs with it.
pub struct Ca {
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    /// A CA named `name`.
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        Self {
            pem,
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf for `names` signed by this CA, written as `dir/NAME.pem` and
    /// `dir/NAME.key` (replaced in place if there); returns the PEM.
    pub fn leaf(&self, dir: &Path, name: &str, names: &[&str]) -> String {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &self.issuer)
            .unwrap();
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        cert.pem()
    }

    /// A leaf as [`Ca::leaf`] writes it: `(dir/NAME.pem, dir/NAME.key)`.
    pub fn leaf_files(&self, dir: &Path, name: &str, names: &[&str]) -> (PathBuf, PathBuf) {
        self.leaf(dir, name, names);
        (
            dir.join(format!("{name}.pem")),
            dir.join(format!("{name}.key")),
        )
    }

    /// Writes the CA certificate as `dir/NAME.pem`; returns its path.
    pub fn write(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(format!("{name}.pem"));
        std::fs::write(&path, &self.pem).unwrap();
        path
    }
}

/// The binary, its log (stdout and stderr) going to a file.
pub struct LoggedNode {
    pub child: std::process::Child,
    pub addr: SocketAddr,
    pub grpc: Option<SocketAddr>,
    log: PathBuf,
}

impl LoggedNode {
    /// Starts the binary with `args`, once it logs the address it serves on.
    pub fn start(dir: &Path, args: &[&str]) -> Self {
        let log = dir.join("node.log");
        let file = std::fs::File::create(&log).unwrap();
        let child = NodeProcess::command()
            .args(["--listen", "127.0.0.1:0", "--log", "debug"])
            .args(args)
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        let mut node = Self {
            child,
            addr: "0.0.0.0:0".parse().unwrap(),
            grpc: None,
            log,
        };
        let value = |text: &str, key: &str| -> Option<SocketAddr> {
            let rest = text.split_once(key)?.1;
            rest.split_whitespace().next()?.parse().ok()
        };
        eventually(Duration::from_secs(20), "the node's address", || {
            let text = node.log();
            node.grpc = value(&text, "grpc=");
            value(&text, " addr=").map(|a| node.addr = a).is_some()
        });
        node
    }

    /// All it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for LoggedNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client trusting `ca`, presenting `identity` (certificate and key PEM) if given.
pub fn client(ca: &str, identity: Option<(&str, &str)>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let certs = CertificateDer::pem_slice_iter(cert.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
            builder.with_client_auth_cert(certs, key).unwrap()
        }
    };
    Arc::new(config)
}

/// One HTTPS connection, kept open across requests.
pub struct Https(StreamOwned<ClientConnection, TcpStream>);

impl Https {
    /// Connects to `addr` as `localhost` and completes the handshake.
    pub fn connect(addr: SocketAddr, config: Arc<ClientConfig>) -> std::io::Result<Self> {
        let name = ServerName::try_from("localhost").unwrap();
        let mut tls = ClientConnection::new(config, name).map_err(std::io::Error::other)?;
        let mut tcp = TcpStream::connect(addr)?;
        tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
        while tls.is_handshaking() {
            tls.complete_io(&mut tcp)?;
        }
        Ok(Self(StreamOwned::new(tls, tcp)))
    }

    /// The certificate the server presented (its leaf), DER.
    pub fn server_cert(&self) -> Vec<u8> {
        self.0.conn.peer_certificates().unwrap()[0].to_vec()
    }

    /// `GET path`, kept alive: the status and the body.
    pub fn get(&mut self, path: &str) -> std::io::Result<(u16, String)> {
        let head = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
        self.send_raw(head.as_bytes())
    }

    /// Sends `bytes` as they are; the status and the body of the answer.
    pub fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<(u16, String)> {
        self.0.write_all(bytes)?;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = self.0.read(&mut buf)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            got.extend_from_slice(&buf[..n]);
            if let Some(reply) = whole_reply(&got) {
                return Ok(reply);
            }
        }
    }
}

/// The status and body once `got` holds a whole answer (by Content-Length).
fn whole_reply(got: &[u8]) -> Option<(u16, String)> {
    let text = String::from_utf8_lossy(got);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    (body.len() >= length).then(|| {
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, body.to_string())
    })
}

/// The DER of the (first) certificate in PEM `pem`.
pub fn der(pem: &str) -> Vec<u8> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .to_vec()
}
