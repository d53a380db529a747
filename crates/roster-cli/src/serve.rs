//! `roster serve`: the HTTP API and the admin web page, with a worker of
//! imports and passwords beside them, until SIGTERM or Ctrl-C.

use anyhow::Context;
use roster_server::{ServerConfig, app};
use roster_store::Store;
use roster_validate::Limits;
use tokio::sync::watch;

use crate::Outcome;
use crate::args::ServeArgs;
use crate::worker::{exit_when_stuck, terminated, when, workers};

pub(crate) async fn run(db: &str, args: ServeArgs) -> anyhow::Result<Outcome> {
    let store = Store::open(db).await?;
    let (stop, stopped) = watch::channel(false);
    let workers = workers(&store, &args.worker, stopped.clone())?;
    let listener = tokio::net::TcpListener::bind(&args.bind)
        .await
        .with_context(|| format!("listening on {}", args.bind))?;
    let address = listener.local_addr().context("reading the bound address")?;
    let config = ServerConfig {
        limits: Limits {
            max_bytes: args.max_bytes,
            max_rows: args.max_rows,
            ..Limits::DEFAULT
        },
        secure_cookies: args.secure_cookies,
    };
    let server =
        axum::serve(listener, app(store.clone(), config)).with_graceful_shutdown(when(stopped));
    eprintln!(
        "roster serving http://{address}/ (the page) and http://{address}/api/ (the API); \
         stop it with Ctrl-C or SIGTERM"
    );
    tokio::try_join!(
        workers,
        async { server.await.context("serving HTTP") },
        async {
            terminated().await;
            eprintln!("stopping: work in hand ends at its next safe point (Ctrl-C again: at once)");
            exit_when_stuck();
            let _ = stop.send(true);
            anyhow::Ok(())
        },
    )?;
    store.close().await;
    eprintln!("roster stopped");
    Ok(Outcome::Done)
}
