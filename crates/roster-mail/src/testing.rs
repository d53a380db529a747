//! A real SMTP server on loopback for tests: `smtp_sink.py` beside this
//! crate's manifest (Python 3.11's standard library), started per test and
//! killed when dropped. It keeps every message it accepts, with its
//! envelope recipients and how it came; it can refuse on purpose, speak
//! TLS (STARTTLS or from the first byte) with a certificate from a test
//! authority made by `openssl`, and require a sign-in.
//!
//! Only tests use this; it is public so that the end-to-end tests of the
//! `roster` binary can use it too.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// How the server answers a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkMode {
    /// 250 to every message.
    Accept,
    /// 451 (try again later) to the first message, 250 to the rest.
    RefuseOnceForNow,
    /// 550 (mailbox unavailable) to every message.
    RefuseForGood,
}

/// How a client reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    Plain,
    /// STARTTLS, required before any message.
    StartTls,
    /// TLS from the first byte (`smtps`).
    Tls,
}

/// A certificate authority for tests and a certificate it signed for
/// 127.0.0.1, as PEM files in a folder.
#[derive(Debug, Clone)]
pub struct Certificates {
    dir: PathBuf,
}

/// A running SMTP server.
pub struct SmtpSink {
    child: Child,
    port: u16,
    dir: PathBuf,
    security: Security,
    login: Option<(String, String)>,
}

/// A message the server accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The envelope recipients (RCPT TO), one per line.
    pub recipients: String,
    /// The message as it arrived, with quoted-printable soft line breaks
    /// joined again so that text can be searched.
    pub message: String,
    /// How it came: `tls=True user=NAME` or `tls=False user=None`.
    pub how: String,
}

impl Certificates {
    /// Makes the authority and the server's certificate in `dir`.
    ///
    /// Panics when `openssl` fails: only tests call this.
    pub fn make(dir: &Path) -> Certificates {
        std::fs::create_dir_all(dir).expect("a folder for the certificates");
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .output()
                .expect("openssl runs");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let key = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        let mut ca = vec!["req", "-x509"];
        ca.extend(key);
        ca.extend(["-keyout", "ca.key", "-out", "ca.pem", "-days", "2"]);
        ca.extend(["-subj", "/CN=roster test authority"]);
        openssl(&ca);
        let mut request = vec!["req"];
        request.extend(key);
        request.extend([
            "-keyout",
            "key.pem",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ]);
        openssl(&request);
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
             extendedKeyUsage=serverAuth\n",
        )
        .expect("writing the extensions");
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ]);
        Certificates {
            dir: dir.to_path_buf(),
        }
    }

    /// The authority's certificate file, for a client to trust.
    pub fn authority(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    pub fn authority_pem(&self) -> Vec<u8> {
        std::fs::read(self.authority()).expect("the authority's certificate")
    }
}

impl SmtpSink {
    /// Starts a plain server in `mode` that keeps its messages in `dir`.
    pub fn start(mode: SinkMode, dir: &Path) -> SmtpSink {
        SmtpSink::start_with(mode, dir, Security::Plain, None, None)
    }

    /// Starts a server that speaks TLS with `certificates` as `security`
    /// says, and, with `login`, requires a sign-in as that user.
    ///
    /// Panics when `python3` cannot run the server: only tests call this.
    pub fn start_with(
        mode: SinkMode,
        dir: &Path,
        security: Security,
        certificates: Option<&Certificates>,
        login: Option<(&str, &str)>,
    ) -> SmtpSink {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("smtp_sink.py");
        let mode_arg = match mode {
            SinkMode::Accept => "ok",
            SinkMode::RefuseOnceForNow => "tempfail-once",
            SinkMode::RefuseForGood => "permfail",
        };
        let mut command = Command::new("python3");
        command.arg(script).arg(dir).arg(mode_arg);
        let flag = match security {
            Security::Plain => None,
            Security::StartTls => Some("--starttls"),
            Security::Tls => Some("--tls"),
        };
        if let Some(flag) = flag {
            let certificates = certificates.expect("TLS needs certificates");
            command
                .arg(flag)
                .arg(certificates.dir.join("cert.pem"))
                .arg(certificates.dir.join("key.pem"));
        }
        if let Some((user, password)) = login {
            command.arg("--login").arg(format!("{user}:{password}"));
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 starts the SMTP sink");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the sink says it is ready");
        let port = line
            .trim()
            .strip_prefix("ready ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected sink output: {line:?}"));
        SmtpSink {
            child,
            port,
            dir: dir.to_path_buf(),
            security,
            login: login.map(|(u, p)| (u.to_string(), p.to_string())),
        }
    }

    /// The URL to reach it, with its sign-in and its TLS.
    pub fn url(&self) -> String {
        let login = self
            .login
            .as_ref()
            .map(|(user, password)| format!("{user}:{password}@"))
            .unwrap_or_default();
        match self.security {
            Security::Plain => format!("smtp://{login}127.0.0.1:{}", self.port),
            Security::StartTls => format!("smtp://{login}127.0.0.1:{}?tls=required", self.port),
            Security::Tls => format!("smtps://{login}127.0.0.1:{}", self.port),
        }
    }

    /// The messages accepted so far, in the order they arrived.
    pub fn received(&self) -> Vec<Received> {
        let read = |path: PathBuf| std::fs::read_to_string(path).expect("a file of the sink");
        (1..)
            .map(|n| self.dir.join(n.to_string()))
            .take_while(|base| base.with_extension("rcpt").exists())
            .map(|base| Received {
                recipients: read(base.with_extension("rcpt")),
                message: read(base.with_extension("eml")).replace("=\r\n", ""),
                how: read(base.with_extension("how")),
            })
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The temporary password a welcome message carries.
pub fn password_in(message: &str) -> Option<String> {
    message
        .lines()
        .find_map(|l| l.strip_prefix("Temporary password: "))
        .map(|p| p.trim().to_string())
}
