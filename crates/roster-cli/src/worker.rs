//! `roster worker`: runs queued imports and sends temporary passwords until
//! SIGTERM or Ctrl-C, then lets the work in hand reach its end (the chunks
//! it holds, the message being sent) and exits 0.

use std::time::Duration;

use roster_jobs::{WorkerConfig, run_worker};
use roster_mail::run_password_worker;
use roster_store::Store;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::args::WorkerArgs;
use crate::{Outcome, mail};

pub(crate) async fn run(db: &str, args: WorkerArgs) -> anyhow::Result<Outcome> {
    let store = Store::open(db).await?;
    let (stop, stopped) = watch::channel(false);
    let workers = workers(&store, &args, stopped)?;
    eprintln!("worker started; stop it with Ctrl-C or SIGTERM");
    tokio::try_join!(workers, async {
        terminated().await;
        let _ = stop.send(true);
        anyhow::Ok(())
    })?;
    store.close().await;
    eprintln!("worker stopped");
    Ok(Outcome::Done)
}

/// The worker of imports and the worker of passwords, as one future that
/// runs them until `stopped` turns true. The flags are checked here, before
/// any work starts.
pub(crate) fn workers(
    store: &Store,
    args: &WorkerArgs,
    stopped: watch::Receiver<bool>,
) -> anyhow::Result<impl Future<Output = anyhow::Result<()>> + use<>> {
    let orphan_after = Duration::from_secs(args.orphan_after.max(3));
    let config = WorkerConfig {
        concurrency: args.concurrency.max(1),
        orphan_after,
        ..WorkerConfig::default()
    };
    let mail = mail::config(&args.mail, orphan_after)?;
    let imports = run_worker(
        store.clone(),
        "roster-worker",
        config,
        when(stopped.clone()),
    );
    let passwords = run_password_worker(store.clone(), "roster-mail", mail, when(stopped));
    Ok(async move {
        tokio::try_join!(
            async { imports.await.map_err(anyhow::Error::from) },
            async { passwords.await.map_err(anyhow::Error::from) },
        )?;
        Ok(())
    })
}

/// Asks the workers that watch `stop` to stop, gives `task` ten seconds to
/// reach a safe point, then aborts it: a worker beside a command must not
/// keep the command, or its database connections, alive.
pub(crate) async fn stop_within_grace<T>(stop: watch::Sender<bool>, mut task: JoinHandle<T>) {
    let _ = stop.send(true);
    if tokio::time::timeout(Duration::from_secs(10), &mut task)
        .await
        .is_err()
    {
        task.abort();
        let _ = task.await;
    }
}

/// Completes once `stopped` turns true (or its sender is gone): one stop
/// signal shared by the workers of a process.
pub(crate) async fn when(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
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
