//! A real SMTP server on loopback for tests: Python 3.11's standard
//! `smtpd` (`smtp_sink.py` beside this crate's manifest), started per test
//! and killed when dropped. It keeps every message it accepts, with its
//! envelope recipients, and can refuse on purpose.
//!
//! Only tests use this; it is public so that the end-to-end tests of the
//! `roster` binary can use it too.

use std::io::{BufRead, BufReader};
use std::path::Path;
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

/// A running SMTP server.
pub struct SmtpSink {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

/// A message the server accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The envelope recipients (RCPT TO), one per line.
    pub recipients: String,
    /// The message as it arrived, with quoted-printable soft line breaks
    /// joined again so that text can be searched.
    pub message: String,
}

impl SmtpSink {
    /// Starts a server in `mode` that keeps its messages in `dir`.
    ///
    /// Panics when `python3` cannot run the server: only tests call this.
    pub fn start(mode: SinkMode, dir: &Path) -> SmtpSink {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("smtp_sink.py");
        let mode = match mode {
            SinkMode::Accept => "ok",
            SinkMode::RefuseOnceForNow => "tempfail-once",
            SinkMode::RefuseForGood => "permfail",
        };
        let mut child = Command::new("python3")
            .arg(script)
            .arg(dir)
            .arg(mode)
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
        }
    }

    /// The URL to reach it: `smtp://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The messages accepted so far, in the order they arrived.
    pub fn received(&self) -> Vec<Received> {
        (1..)
            .map(|n| self.dir.join(n.to_string()))
            .take_while(|base| base.with_extension("rcpt").exists())
            .map(|base| Received {
                recipients: std::fs::read_to_string(base.with_extension("rcpt"))
                    .expect("recipients"),
                message: std::fs::read_to_string(base.with_extension("eml"))
                    .expect("a message")
                    .replace("=\r\n", ""),
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
