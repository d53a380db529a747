//! `SmtpSink`: an SMTP server on loopback that accepts every message and
//! keeps nothing but a count, for `roster bench` to send to: as fast as a
//! server can be, so that what is measured is the sender.
//!
//! It speaks just enough SMTP for lettre (and any plain client): a
//! greeting, `EHLO`/`HELO`, `MAIL`, `RCPT`, `DATA` up to the line with a
//! single dot, `RSET`, `NOOP`, `QUIT`. No TLS, no sign-in.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::Error;

/// A running sink; it stops when dropped.
pub struct SmtpSink {
    url: String,
    received: Arc<AtomicU64>,
    server: tokio::task::JoinHandle<()>,
}

impl SmtpSink {
    /// Starts a sink on a free loopback port.
    pub async fn start() -> Result<SmtpSink, Error> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| Error::Mail(e.to_string()))?;
        let address = listener
            .local_addr()
            .map_err(|e| Error::Mail(e.to_string()))?;
        let received = Arc::new(AtomicU64::new(0));
        let counted = received.clone();
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(converse(stream, counted.clone()));
            }
        });
        Ok(SmtpSink {
            url: format!("smtp://{address}"),
            received,
            server,
        })
    }

    /// `smtp://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Messages accepted so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// One client's conversation, until it quits or goes.
async fn converse(stream: TcpStream, received: Arc<AtomicU64>) {
    let (reader, mut writer) = stream.into_split();
    let mut lines = BufReader::new(reader);
    if writer
        .write_all(b"220 roster-bench sink\r\n")
        .await
        .is_err()
    {
        return;
    }
    let mut line = Vec::new();
    loop {
        line.clear();
        match lines.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let verb: String = line
            .iter()
            .take(4)
            .map(|b| b.to_ascii_uppercase() as char)
            .collect();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-roster-bench sink\r\n250 8BITMIME\r\n",
            "DATA" => {
                if writer.write_all(b"354 go ahead\r\n").await.is_err() {
                    return;
                }
                // The message, up to the line with a single dot.
                loop {
                    line.clear();
                    match lines.read_until(b'\n', &mut line).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) if line == b".\r\n" => break,
                        Ok(_) => {}
                    }
                }
                received.fetch_add(1, Ordering::Relaxed);
                b"250 queued\r\n"
            }
            "QUIT" => {
                let _ = writer.write_all(b"221 bye\r\n").await;
                return;
            }
            _ => b"250 ok\r\n",
        };
        if writer.write_all(reply).await.is_err() {
            return;
        }
    }
}
