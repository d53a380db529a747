//! `roster undo`: asks for an import to be undone and — unless `--detach`
//! — follows the undo to its end with a worker in this process, as
//! `import` follows an import: a progress bar on a terminal, plain progress
//! lines otherwise. Ctrl-C stops the undo after the batch in progress;
//! `roster undo` again goes on with the rows not undone yet.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use roster_jobs::queue_undo;
use roster_store::{Import, ImportState, Store, Undo};

use crate::Outcome;
use crate::args::{Format, UndoArgs};
use crate::import::progress_bar;
use crate::worker::exit_on_second_signal;
use crate::{import_id, status, worker};

pub(crate) async fn run(db: &str, args: UndoArgs) -> anyhow::Result<Outcome> {
    let store = Store::open(db).await?;
    let import = import_id::resolve(&store, &args.id).await?;
    let asked = queue_undo(&store, &import.id).await?;
    let id = &asked.id;
    if args.format == Format::Text {
        let mut what = vec![format!(
            "{} users it created are deleted, with their extensions freed and numbers parked again",
            asked.created
        )];
        if asked.mode.plans() {
            what.push(format!(
                "{} users it updated get their details back",
                asked.updated
            ));
        }
        println!(
            "undoing import {id} ({}): {}; users changed since the import are left as they are",
            asked.file_name,
            what.join("; ")
        );
    }
    if args.detach {
        match args.format {
            Format::Text => println!(
                "the undo of import {id} is queued; a worker (`roster worker` or `roster serve`) \
                 runs it; `roster status {id}` shows it"
            ),
            Format::Json => status::print(&asked, Format::Json)?,
        }
        return Ok(Outcome::Done);
    }
    let started = Instant::now();
    let finished =
        worker::beside(&store, "roster-undo", follow(&store, &asked, args.format)).await?;
    store.close().await;
    let undo = finished
        .undo
        .clone()
        .ok_or_else(|| anyhow::anyhow!("the undo of import {id} is gone"))?;
    match args.format {
        Format::Json => status::print(&finished, Format::Json)?,
        Format::Text => print!("{}", summary(&finished, &undo, started.elapsed())),
    }
    Ok(match undo.state {
        ImportState::Completed => Outcome::Done,
        ImportState::Failed => Outcome::Failed,
        _ => Outcome::Incomplete,
    })
}

/// Polls the import until its undo leaves the active states, showing
/// progress; Ctrl-C asks the undo to stop.
async fn follow(store: &Store, import: &Import, format: Format) -> anyhow::Result<Import> {
    let terminal = std::io::stdout().is_terminal() && format == Format::Text;
    let total = import.undo.as_ref().map_or(0, |u| u.total);
    let bar = progress_bar(
        total,
        terminal,
        "{bar:40} {pos}/{len} rows  {per_sec}  eta {eta}  {msg}",
    )?;
    let mut interrupt = std::pin::pin!(tokio::signal::ctrl_c());
    let mut stop_asked = false;
    let mut last_line: Option<(Instant, u64)> = None;
    loop {
        tokio::select! {
            _ = &mut interrupt, if !stop_asked => {
                stop_asked = true;
                exit_on_second_signal();
                store.stop(&import.id).await?;
                bar.suspend(|| eprintln!(
                    "stopping the undo of import {} after the batch in progress \
                     (Ctrl-C again: at once)…",
                    import.id
                ));
            }
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        let now = store.existing_import(&import.id).await?;
        let Some(undo) = now.undo.clone() else {
            anyhow::bail!("the undo of import {} is gone", import.id);
        };
        bar.set_position(undo.processed());
        bar.set_message(counts(&undo));
        let finished = !undo.state.is_active();
        if !terminal && format == Format::Text {
            // A line a second at most, and always the last one.
            let due = last_line.is_none_or(|(at, processed)| {
                processed != undo.processed()
                    && (finished || at.elapsed() >= Duration::from_secs(1))
            });
            if due && undo.state != ImportState::Queued {
                println!(
                    "progress: {}/{} rows, {}",
                    undo.processed(),
                    undo.total,
                    counts(&undo)
                );
                last_line = Some((Instant::now(), undo.processed()));
            }
        }
        if finished {
            bar.finish_and_clear();
            return Ok(now);
        }
    }
}

/// The undo's rows: `3 undone, 1 not undone`.
pub(crate) fn counts(undo: &Undo) -> String {
    format!("{} undone, {} not undone", undo.undone, undo.not_undone)
}

/// How the undo ended, in a few lines.
fn summary(import: &Import, undo: &Undo, took: Duration) -> String {
    let id = &import.id;
    let seconds = took.as_secs_f64();
    let mut out = format!(
        "undo of import {id} {}: {} of {} rows in {:.1} s ({:.0} rows/s)\n",
        undo.state,
        counts(undo),
        undo.total,
        seconds,
        undo.processed() as f64 / seconds.max(0.001)
    );
    if let Some(error) = &undo.error {
        out.push_str(&format!("the undo failed: {error}\n"));
    }
    if undo.cancelled > 0 {
        out.push_str(&format!(
            "passwords: {} queued messages cancelled\n",
            undo.cancelled
        ));
    }
    if import.deliveries.sent > 0 && import.created > 0 {
        out.push_str(&format!(
            "passwords: {} welcome messages had been sent before the undo and cannot be \
             unsent; an undone user's password is gone with the user\n",
            import.deliveries.sent
        ));
    }
    if undo.not_undone > 0 {
        out.push_str(&format!(
            "{} rows were not undone: their users changed since the import, or what they had \
             is someone else's now; they are left as they are (`roster results {id} --format \
             json` says why for each)\n",
            undo.not_undone
        ));
    }
    match undo.state {
        ImportState::Stopped | ImportState::Failed => out.push_str(&format!(
            "{} rows are still to undo: `roster undo {id}` goes on with them\n",
            undo.total.saturating_sub(undo.processed())
        )),
        _ => {}
    }
    out
}
