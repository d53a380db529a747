//! `roster import`: validate, queue, and follow the import to its end.
//!
//! Validation comes first and nothing is queued unless every row passes.
//! Then the file is stored with the import, its job is queued, and — unless
//! `--detach` — a worker runs in this process while the command follows the
//! import: a progress bar on a terminal, plain progress lines otherwise,
//! and a summary at the end. Ctrl-C asks the import to stop.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use roster_jobs::{WorkerConfig, enqueue, prepare, run_worker, write_failed_rows};
use roster_store::{AccountSlug, Import, ImportState, NewImport, Store};
use roster_validate::Limits;

use crate::Outcome;
use crate::args::{Format, ImportArgs};
use crate::{status, validate};

pub(crate) async fn run(db: &str, args: ImportArgs) -> anyhow::Result<Outcome> {
    let slug = AccountSlug::parse(&args.account)?;
    let store = Store::open(db).await?;
    let account = store.existing_account(&slug).await?;
    let (path, _spool) = spool(&args.file).await?;
    let limits = Limits {
        max_bytes: args.max_bytes,
        max_rows: args.max_rows,
        ..Limits::DEFAULT
    };
    let input = validate::open(&path)?;
    let report = validate::check(&store, &account, input, !args.no_voice, limits)
        .await
        .with_context(|| format!("validating {}", args.file.display()))?;
    let shown = args.file.display().to_string();
    if !report.is_valid() {
        validate::print(&report, &shown, args.format)?;
        return Ok(Outcome::Invalid);
    }
    if args.format == Format::Text {
        print!("{}", crate::report::text(&shown, &report));
    }

    let new = NewImport {
        account: account.id,
        file_name: file_name(&args.file),
        voice: !args.no_voice,
        passwords: args.passwords.clone(),
        total: report.rows,
    };
    let mut file = tokio::fs::File::open(&path)
        .await
        .with_context(|| format!("opening {}", args.file.display()))?;
    let import = store.create_import(&new, &mut file).await?;
    prepare(&store).await?;
    enqueue(&store, &import.id).await?;

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

    let (stop_worker, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(run_worker(
        store.clone(),
        "roster-import",
        WorkerConfig::default(),
        async {
            let _ = stopped.await;
        },
    ));
    let started = Instant::now();
    let finished = follow(&store, &import, args.format).await;
    let _ = stop_worker.send(());
    // The worker lets work in hand reach a batch boundary; do not wait forever.
    let _ = tokio::time::timeout(Duration::from_secs(10), worker).await;
    let finished = finished?;

    let outcome = match finished.state {
        ImportState::Completed => Outcome::Done,
        ImportState::Failed => Outcome::Failed,
        _ => Outcome::Incomplete,
    };
    match args.format {
        Format::Json => status::print(&finished, Format::Json)?,
        Format::Text => summary(&store, &finished, started.elapsed()).await?,
    }
    store.close().await;
    Ok(outcome)
}

/// Polls the import until it leaves the active states, showing progress.
async fn follow(store: &Store, import: &Import, format: Format) -> anyhow::Result<Import> {
    let terminal = std::io::stdout().is_terminal() && format == Format::Text;
    let bar = ProgressBar::new(import.total);
    if terminal {
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} rows  {per_sec}  eta {eta}  {msg}")?
                .progress_chars("##-"),
        );
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    let mut interrupt = std::pin::pin!(tokio::signal::ctrl_c());
    let mut stop_asked = false;
    let mut last_line: Option<(Instant, u64)> = None;
    loop {
        tokio::select! {
            _ = &mut interrupt, if !stop_asked => {
                stop_asked = true;
                store.stop_import(&import.id).await?;
                bar.suspend(|| eprintln!("stopping import {} after the batch in progress…", import.id));
            }
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        let now = store.existing_import(&import.id).await?;
        bar.set_position(now.processed);
        bar.set_message(format!("{} created, {} failed", now.created, now.failed));
        if !terminal && format == Format::Text {
            let due = last_line.is_none_or(|(at, processed)| {
                at.elapsed() >= Duration::from_secs(1) && processed != now.processed
            });
            if due && now.state != ImportState::Queued {
                println!(
                    "progress: {}/{} rows, {} created, {} failed",
                    now.processed, now.total, now.created, now.failed
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

/// The end of an import in words, and where its failed rows are.
async fn summary(store: &Store, import: &Import, took: Duration) -> anyhow::Result<()> {
    let seconds = took.as_secs_f64();
    println!(
        "import {} {}: {} created, {} failed, {} not processed of {} rows in {:.1} s ({:.0} rows/s)",
        import.id,
        import.state,
        import.created,
        import.failed,
        import.not_processed,
        import.total,
        seconds,
        import.processed as f64 / seconds.max(0.001)
    );
    if let Some(error) = &import.error {
        println!("the import failed: {error}");
    }
    let not_created = import.failed + import.not_processed;
    if not_created == 0 {
        println!(
            "every row was created; `roster users --account {}` lists the users",
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
    println!(
        "{not_created} rows were not created: fix them in {} and import that file \
         (`roster failed-rows {}` prints them again, `roster results {}` gives every row's result)",
        path.display(),
        import.id,
        import.id
    );
    Ok(())
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
