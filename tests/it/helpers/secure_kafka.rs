//! A secured Kafka of a test's own: tansu (with SASL if asked) behind nginx's
//! `stream` module terminating TLS (with client certificates if asked), tansu
//! advertising nginx's address; certificates made here with `rcgen`.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::proxy::Proxy;
use super::tls::Ca;
use super::{temp_dir, tools};

/// How the test's Kafka is secured.
#[derive(Clone, Copy, Default)]
pub struct Shape {
    /// nginx terminates TLS in front of tansu.
    pub tls: bool,
    /// nginx requires a client certificate signed by the test CA.
    pub mutual: bool,
    /// tansu requires a SASL login.
    pub sasl: bool,
}

/// tansu, and nginx in front of it when TLS is asked for; stopped when dropped.
pub struct SecureKafka {
    pub dir: PathBuf,
    /// What clients bootstrap from: nginx's port with TLS, else tansu's.
    pub brokers: String,
    /// The CA that signed the broker's (nginx's) certificate.
    pub ca: Ca,
    /// That CA's certificate, as a file.
    pub ca_file: PathBuf,
    _tansu: Proxy,
    _nginx: Option<Proxy>,
}

impl SecureKafka {
    pub fn start(name: &str, shape: Shape) -> Self {
        Self::start_with(name, shape, &tansu(), None)
    }

    /// With `tansu` built with SQL storage (which keeps SCRAM users): the
    /// SCRAM-SHA-512 `user` (name, password) is created with authentication
    /// off, then tansu is restarted with it on (`shape.sasl`).
    pub fn start_with_user(name: &str, shape: Shape, tansu: &Path, user: (&str, &str)) -> Self {
        Self::start_with(name, shape, tansu, Some(user))
    }

    fn start_with(name: &str, shape: Shape, bin: &Path, user: Option<(&str, &str)>) -> Self {
        let dir = temp_dir(&format!("kafka-sec-{name}"));
        let ca = Ca::new("test");
        let ca_file = ca.write(&dir, "test-ca");
        let (tansu_port, tls_port) = (tools::free_port(), tools::free_port());
        let advertised = if shape.tls { tls_port } else { tansu_port };
        let broker = |authentication: bool| {
            let mut command = Command::new(bin);
            command.current_dir(&dir).args([
                "broker",
                "--listener-url",
                &format!("tcp://127.0.0.1:{tansu_port}"),
                "--advertised-listener-url",
                &format!("tcp://127.0.0.1:{advertised}"),
                "--storage-engine",
                if user.is_some() {
                    "sqlite://tansu.db"
                } else {
                    "memory://tansu/"
                },
            ]);
            if authentication {
                command.arg("--authentication");
            }
            Proxy::start("tansu", command, tansu_port, &dir)
        };
        if let Some((name, password)) = user {
            let open = broker(false);
            let created = Command::new(bin)
                .args(["user", "create", "--mechanism", "scram512", "--broker"])
                .arg(format!("tcp://127.0.0.1:{tansu_port}"))
                .args([name, password])
                .status()
                .unwrap();
            assert!(created.success(), "tansu user create failed");
            drop(open);
        }
        let tansu = broker(shape.sasl);
        let nginx = shape
            .tls
            .then(|| nginx(&dir, (&ca, &ca_file), shape.mutual, tls_port, tansu_port));
        Self {
            brokers: format!("127.0.0.1:{advertised}"),
            dir,
            ca,
            ca_file,
            _tansu: tansu,
            _nginx: nginx,
        }
    }
}

/// The tansu `scripts/broker.sh` installs (`cargo install tansu`).
fn tansu() -> PathBuf {
    let installed = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/tansu"));
    installed
        .filter(|p| p.exists())
        .unwrap_or_else(|| "tansu".into())
}

/// nginx's `stream` module on `tls_port`, TLS with a certificate for
/// 127.0.0.1 and localhost, forwarding to tansu; with `mutual`, only for
/// clients with a certificate the test CA signed.
fn nginx(dir: &Path, ca: (&Ca, &Path), mutual: bool, tls_port: u16, tansu_port: u16) -> Proxy {
    let (ca, ca_file) = ca;
    let (cert, key) = ca.leaf_files(dir, "broker", &["127.0.0.1", "localhost"]);
    let verify = if mutual {
        format!(
            "ssl_verify_client on; ssl_client_certificate {};",
            ca_file.display()
        )
    } else {
        String::new()
    };
    let d = dir.display();
    let config = format!(
        "load_module {module};\ndaemon off;\nmaster_process off;\npid {d}/nginx.pid;\n\
         error_log {d}/error.log info;\nevents {{}}\n\
         stream {{\n  server {{\n    listen 127.0.0.1:{tls_port} ssl;\n    \
         ssl_certificate {cert};\n    ssl_certificate_key {key};\n    {verify}\n    \
         proxy_pass 127.0.0.1:{tansu_port};\n  }}\n}}\n",
        module = tools::path("nginx-stream").display(),
        cert = cert.display(),
        key = key.display(),
    );
    std::fs::write(dir.join("nginx.conf"), config).unwrap();
    Proxy::nginx(dir, tls_port)
}
