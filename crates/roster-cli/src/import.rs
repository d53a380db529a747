//! `roster import`: validate, queue, and follow the import to its end.
//!
//! Validation comes first and nothing is queued unless every row passes.
//! Then the file is stored with the import, its job is queued, and — unless
//! `--detach` — a worker runs in this process while the command follows the
//! import: a progress bar on a terminal, plain progress lines otherwise.
//! Ctrl-C asks the import to stop. Once the users exist, a password worker
//! in this process sends their temporary passwords, with progress again
//! (Ctrl-C now leaves the rest queued for `roster worker`), and a summary
//! ends it all.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use roster_jobs::{Submission, Submitted, WorkerConfig, submit, write_failed_rows};
use roster_mail::{DeliveryConfig, run_password_worker};
use roster_store::{AccountSlug, Import, ImportState, Store};
use roster_validate::Limits;
use tokio::sync::watch;

use crate::Outcome;
use crate::args::{Format, ImportArgs, MailArgs};
use crate::worker::exit_on_second_signal;
use crate::{mail, status, validate, worker};

pub(crate) async fn run(db: &str, args: ImportArgs) -> anyhow::Result<Outcome> {
    let slug = AccountSlug::parse(&args.account)?;
    // This process sends the passwords unless it detaches: its mail
    // settings must work before anything is queued.
    let mail = if args.passwords.sends() && !args.detach {
        Some(mail::config(
            &args.mail,
            WorkerConfig::default().orphan_after,
        )?)
    } else {
        None
    };
    let store = Store::open(db).await?;
    let account = store.existing_account(&slug).await?;
    let (path, _spool) = spool(&args.file).await?;
    let submission = Submission {
        account: &account,
        path: &path,
        file_name: file_name(&args.file),
        voice: !args.no_voice,
        passwords: args.passwords.clone(),
        limits: Limits {
            max_bytes: args.max_bytes,
            max_rows: args.max_rows,
            ..Limits::DEFAULT
        },
        chunk_rows: args.chunk_rows,
        mode: args.mode.into(),
    };
    let shown = args.file.display().to_string();
    let import = match submit(&store, submission).await? {
        Submitted::Invalid(checked) => {
            validate::print(checked, &shown, args.format).await?;
            return Ok(Outcome::Invalid);
        }
        Submitted::Queued { report, import } => {
            if args.format == Format::Text {
                crate::report::write_text(
                    &mut std::io::stdout(),
                    &shown,
                    &report,
                    std::iter::empty(),
                    None::<std::iter::Empty<_>>,
                )?;
            }
            *import
        }
    };

    if args.detach {
        match args.format {
            Format::Text => println!(
                "import {} queued ({} rows); a worker (`roster worker` or `roster serve`) runs it; \
                 `roster status {}` shows it",
                import.id, import.total, import.id
            ),
            Format::Json => status::print(&import, Format::Json)?,
        }
        return Ok(Outcome::Done);
    }

    let started = Instant::now();
    let finished = worker::beside(
        &store,
        "roster-import",
        follow(&store, &import, args.format),
    )
    .await?;
    if args.format == Format::Text {
        println!("{}", rows_line(&finished, started.elapsed()));
    }
    // The users come first; their messages once they all exist.
    let finished = match mail {
        Some(mail) if finished.deliveries.queued > 0 => {
            send_passwords(&store, &finished, mail, args.format).await?
        }
        _ => finished,
    };

    let outcome = match finished.state {
        ImportState::Completed => Outcome::Done,
        ImportState::Failed => Outcome::Failed,
        _ => Outcome::Incomplete,
    };
    match args.format {
        Format::Json => status::print(&finished, Format::Json)?,
        Format::Text => summary(&store, &finished, &args.mail).await?,
    }
    store.close().await;
    Ok(outcome)
}

/// Sends the import's passwords with a worker in this process, showing
/// progress, until none is queued. Ctrl-C leaves the rest queued for a
/// `roster worker`. Returns the import as it then is.
async fn send_passwords(
    store: &Store,
    import: &Import,
    mail: DeliveryConfig,
    format: Format,
) -> anyhow::Result<Import> {
    let (stop, stopped) = watch::channel(false);
    let mut worker = tokio::spawn(run_password_worker(
        store.clone(),
        "roster-import-mail",
        mail,
        worker::when(stopped),
    ));
    let counts = import.deliveries;
    let total = counts.queued + counts.sent + counts.failed;
    let terminal = std::io::stdout().is_terminal() && format == Format::Text;
    if format == Format::Text {
        println!(
            "sending {} temporary passwords (Ctrl-C leaves them queued for `roster worker`)",
            counts.queued
        );
    }
    let bar = progress_bar(total, terminal, "{bar:40} {pos}/{len} messages  {msg}")?;
    let mut interrupt = std::pin::pin!(tokio::signal::ctrl_c());
    let mut last_line = Instant::now();
    loop {
        let interrupted = tokio::select! {
            _ = &mut interrupt => true,
            joined = &mut worker => {
                // The worker runs until told to stop: it ended on an error.
                joined.context("the password worker stopped")??;
                anyhow::bail!("the password worker stopped");
            }
            _ = tokio::time::sleep(Duration::from_millis(200)) => false,
        };
        let now = store.existing_import(&import.id).await?;
        let d = now.deliveries;
        bar.set_position(d.sent + d.failed);
        bar.set_message(format!(
            "{} sent, {} failed{}",
            d.sent,
            d.failed,
            status::pace(&now)
        ));
        let done = d.queued == 0;
        if !terminal
            && format == Format::Text
            && (done || last_line.elapsed() >= Duration::from_secs(1))
        {
            println!(
                "progress: {}/{} passwords sent, {} failed{}",
                d.sent,
                total,
                d.failed,
                status::pace(&now)
            );
            last_line = Instant::now();
        }
        if interrupted {
            exit_on_second_signal();
            bar.suspend(|| {
                eprintln!(
                    "leaving the rest of the passwords queued for `roster worker` \
                     (Ctrl-C again: at once)…"
                )
            });
            break;
        }
        if done {
            break;
        }
    }
    bar.finish_and_clear();
    worker::stop_within_grace(stop, worker).await;
    // Messages in flight when the loop ended are settled by now.
    Ok(store.existing_import(&import.id).await?)
}

/// A progress bar of `len` on a terminal, a hidden one otherwise.
pub(crate) fn progress_bar(
    len: u64,
    terminal: bool,
    template: &str,
) -> anyhow::Result<ProgressBar> {
    let bar = ProgressBar::new(len);
    if terminal {
        bar.set_style(ProgressStyle::with_template(template)?.progress_chars("##-"));
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    Ok(bar)
}

/// Polls the import until it leaves the active states, showing progress.
async fn follow(store: &Store, import: &Import, format: Format) -> anyhow::Result<Import> {
    let terminal = std::io::stdout().is_terminal() && format == Format::Text;
    let bar = progress_bar(
        import.total,
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
                store.stop_import(&import.id).await?;
                bar.suspend(|| eprintln!(
                    "stopping import {} after the batch in progress (Ctrl-C again: at once)…",
                    import.id
                ));
            }
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        let now = store.existing_import(&import.id).await?;
        bar.set_position(now.processed);
        bar.set_message(counts_line(&now));
        if !terminal && format == Format::Text {
            // A line a second at most, and always the last one.
            let finished = !now.state.is_active();
            let due = last_line.is_none_or(|(at, processed)| {
                processed != now.processed && (finished || at.elapsed() >= Duration::from_secs(1))
            });
            if due && now.state != ImportState::Queued {
                println!(
                    "progress: {}/{} rows, {}",
                    now.processed,
                    now.total,
                    counts_line(&now)
                );
                last_line = Some((Instant::now(), now.processed));
            }
        }
        if !now.state.is_active() {
            bar.finish_and_clear();
            return Ok(now);
        }
    }
}

/// The import's rows by what became of them: `3 created, 1 failed`, with
/// the updated and unchanged ones when its rows may update users.
pub(crate) fn counts_line(import: &Import) -> String {
    if import.mode.plans() {
        format!(
            "{} created, {} updated, {} unchanged, {} failed",
            import.created, import.updated, import.unchanged, import.failed
        )
    } else {
        format!("{} created, {} failed", import.created, import.failed)
    }
}

/// How the import's rows ended, in one line.
fn rows_line(import: &Import, took: Duration) -> String {
    let seconds = took.as_secs_f64();
    format!(
        "import {} {}: {}, {} not processed of {} rows in {:.1} s ({:.0} rows/s)",
        import.id,
        import.state,
        counts_line(import),
        import.not_processed,
        import.total,
        seconds,
        import.processed as f64 / seconds.max(0.001)
    )
}

/// The rest of the import's end in words: why it failed, its passwords,
/// and where its failed rows are.
async fn summary(store: &Store, import: &Import, mail: &MailArgs) -> anyhow::Result<()> {
    if let Some(error) = &import.error {
        println!("the import failed: {error}");
    }
    print!("{}", passwords(import, mail));
    let not_created = import.failed + import.not_processed;
    if not_created == 0 {
        println!(
            "every row was {}; `roster users --account {}` lists the users",
            if import.mode.plans() {
                "applied"
            } else {
                "created"
            },
            import.account_slug
        );
        return Ok(());
    }
    let path = PathBuf::from(format!("failed-rows-{}.csv", &import.id.as_str()[..8]));
    let file =
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    let (store, import_copy, runtime) = (
        store.clone(),
        import.clone(),
        tokio::runtime::Handle::current(),
    );
    tokio::task::spawn_blocking(move || {
        let mut out = std::io::BufWriter::new(file);
        write_failed_rows(&store, &import_copy, runtime, &mut out)
    })
    .await
    .context("the failed-rows task stopped")??;
    let file = path.display();
    let what = match (import.failed, import.not_processed) {
        (failed, 0) => format!("{failed} rows failed: fix them in {file} and import that file"),
        (0, skipped) => format!(
            "{skipped} rows were not processed: the import was stopped before them; \
             import {file} to create them"
        ),
        (failed, skipped) => format!(
            "{failed} rows failed and {skipped} were not processed (the import was stopped \
             before them): fix the failed ones in {file} and import that file to create them all"
        ),
    };
    println!(
        "{what} (`roster failed-rows {}` prints them again, `roster results {}` gives every \
         row's result)",
        import.id, import.id
    );
    Ok(())
}

/// What became of the import's temporary passwords, in a few lines.
fn passwords(import: &Import, mail: &MailArgs) -> String {
    let d = import.deliveries;
    if !import.passwords.sends() {
        return if import.created == 0 {
            String::new()
        } else {
            "passwords: none sent (--passwords none); the new users cannot sign in until an \
             admin resets their passwords\n"
                .to_string()
        };
    }
    let route = match &mail.smtp_url {
        Some(_) => "through the SMTP server".to_string(),
        None => format!("as .eml files in {}", mail.outbox.display()),
    };
    let mut out = format!(
        "passwords: {} sent ({route}), {} failed, {} queued\n",
        d.sent, d.failed, d.queued
    );
    if d.failed > 0 {
        out.push_str(&format!(
            "{} users got no password: `roster results {}` says why; reset their passwords\n",
            d.failed, import.id
        ));
    }
    if d.queued > 0 {
        out.push_str(&format!(
            "{} messages are still queued: `roster worker` sends them\n",
            d.queued
        ));
    }
    out
}

/// The file to read twice (validate, then store): the file itself, or
/// standard input spooled to a temporary file that lives as long as the
/// returned guard.
async fn spool(file: &Path) -> anyhow::Result<(PathBuf, Option<tempfile::TempPath>)> {
    if file.as_os_str() != "-" {
        return Ok((file.to_path_buf(), None));
    }
    let temp =
        tempfile::NamedTempFile::new().context("creating a temporary file for standard input")?;
    let path = temp.into_temp_path();
    let mut out = tokio::fs::File::create(&path)
        .await
        .context("spooling standard input")?;
    tokio::io::copy(&mut tokio::io::stdin(), &mut out)
        .await
        .context("reading standard input")?;
    Ok((path.to_path_buf(), Some(path)))
}

/// The file's name as the import shows it; never used as a path.
fn file_name(file: &Path) -> String {
    if file.as_os_str() == "-" {
        return "standard input".to_string();
    }
    file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
