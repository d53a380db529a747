//! `roster worker`: processes queued imports until SIGTERM or Ctrl-C, then
//! lets the imports in hand reach a batch boundary and exits 0.

use std::time::Duration;

use roster_jobs::{WorkerConfig, run_worker};
use roster_store::Store;

use crate::Outcome;
use crate::args::WorkerArgs;

pub(crate) async fn run(db: &str, args: WorkerArgs) -> anyhow::Result<Outcome> {
    let store = Store::open(db).await?;
    let config = WorkerConfig {
        concurrency: args.concurrency.max(1),
        orphan_after: Duration::from_secs(args.orphan_after.max(3)),
        ..WorkerConfig::default()
    };
    eprintln!("worker started; stop it with Ctrl-C or SIGTERM");
    run_worker(store.clone(), "roster-worker", config, terminated()).await?;
    store.close().await;
    eprintln!("worker stopped");
    Ok(Outcome::Done)
}

/// Completes on SIGTERM or Ctrl-C.
pub(crate) async fn terminated() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
