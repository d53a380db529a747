//! `roster worker`: runs queued imports and sends temporary passwords until
//! SIGTERM or Ctrl-C, then lets the work in hand reach a safe point (a
//! chunk the end of its batch, a group of passwords the message being
//! sent), hands the rest back to the queue, and exits 0: within ten
//! seconds whatever it was doing, and at once on a second Ctrl-C.

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
        eprintln!("stopping: work in hand ends at its next safe point (Ctrl-C again: at once)");
        exit_when_stuck();
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

/// How long work in hand has to reach a safe point once a stop is asked:
/// a chunk's batch or a slice of messages takes far less.
pub(crate) const GRACE: Duration = Duration::from_secs(8);

/// Once a stop was asked: exits the process at once on a second SIGTERM or
/// Ctrl-C (status 130), or when it is still running after [`GRACE`]
/// (status 0). Either is as safe as a crash, which roster is built for:
/// every write is a transaction, a message file appears whole or not at
/// all, and work held by the process goes back to the queue.
pub(crate) fn exit_when_stuck() {
    tokio::spawn(async {
        tokio::select! {
            _ = terminated() => {
                eprintln!("stopped at once; work in hand is left to the queue");
                std::process::exit(130);
            }
            _ = tokio::time::sleep(GRACE) => {
                eprintln!("work in hand did not stop within {} s; left to the queue", GRACE.as_secs());
                std::process::exit(0);
            }
        }
    });
}

/// Once a stop was asked: exits the process at once on a second SIGTERM or
/// Ctrl-C (status 130), as safely as [`exit_when_stuck`] does.
pub(crate) fn exit_on_second_signal() {
    tokio::spawn(async {
        terminated().await;
        eprintln!("stopped at once; work in hand is left to the queue");
        std::process::exit(130);
    });
}

/// Asks the workers that watch `stop` to stop, gives `task` [`GRACE`] to
/// reach a safe point, then aborts it: a worker beside a command must not
/// keep the command, or its database connections, alive.
pub(crate) async fn stop_within_grace<T>(stop: watch::Sender<bool>, mut task: JoinHandle<T>) {
    let _ = stop.send(true);
    if tokio::time::timeout(GRACE, &mut task).await.is_err() {
        task.abort();
        let _ = task.await;
    }
}

/// Runs `work` with a worker of imports (and of their undos) in this
/// process beside it, named `name`; once `work` ends, the worker lets the
/// work in hand reach a batch boundary (see [`stop_within_grace`]).
pub(crate) async fn beside<T>(
    store: &Store,
    name: &'static str,
    work: impl std::future::Future<Output = T>,
) -> T {
    let (stop, stopped) = watch::channel(false);
    let worker = tokio::spawn(run_worker(
        store.clone(),
        name,
        WorkerConfig::default(),
        when(stopped),
    ));
    let done = work.await;
    stop_within_grace(stop, worker).await;
    done
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
