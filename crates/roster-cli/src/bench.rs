//! `roster bench`: generates N rows, then measures in one run roster's
//! validation against a bare check, and roster's import against a bare
//! insert loop (both baselines in roster-bench), on SQLite and, with
//! `--postgres`, on PostgreSQL with one worker and with two; prints each
//! time, the ratio, rows/s and peak memory, and whether each goal is met.
//!
//! Each measured step runs in a process of its own (`roster bench-step`,
//! hidden) that reports its wall time and the peak resident memory of the
//! work: its children's, when the work is real `roster validate` or
//! `roster worker` processes, or its own, for a bare loop. Steps run one
//! after another, never two at once, and each import starts from a copy of
//! the same freshly loaded account.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use roster_store::{ImportId, ImportState, Store};
use serde::{Deserialize, Serialize};
use tokio::process::{Child, Command};

use crate::Outcome;
use crate::args::{BenchArgs, BenchStep, BenchStepArgs, Format};

/// The generated account.
const SLUG: &str = "bench";
/// Rows per transaction of the bare loops: roster's batch size.
const BARE_BATCH_ROWS: usize = 2000;
/// Peak resident memory allowed in every step.
const MAX_PEAK_KIB: u64 = 300 * 1024;
/// Messages a bare sender works on at once: roster's `--mail-concurrency`
/// default, and the cores of a small machine.
const MAIL_THREADS: usize = 2;
/// How fast passwords must go into the outbox folder, messages a second.
const FOLDER_RATE: f64 = 8000.0;
/// The longest a sweep may take, seconds.
const SWEEP_SECONDS: f64 = 1.0;
/// roster through SMTP against the bare client: at least 80% of its rate.
const SMTP_RATIO: f64 = 1.25;

/// `roster bench`.
pub(crate) async fn run(args: BenchArgs) -> anyhow::Result<Outcome> {
    let scratch = match &args.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            Scratch::Kept(dir.clone())
        }
        None => Scratch::Temporary(tempfile::tempdir().context("creating a temporary folder")?),
    };
    let dir = scratch.path();
    let bench = Bench {
        exe: std::env::current_exe().context("finding the roster binary")?,
        dir: dir.to_path_buf(),
        csv: dir.join("users.csv"),
        account: dir.join("bench.toml"),
        chunk_rows: args.chunk_rows,
        smtp: roster_bench::SmtpSink::start().await?,
    };
    eprintln!("generating {} rows in {}", args.rows, dir.display());
    bench
        .roster(
            None,
            &[
                "generate",
                "--rows",
                &args.rows.to_string(),
                "--csv",
                &path(&bench.csv),
                "--account-file",
                &path(&bench.account),
            ],
        )
        .await?;

    let (mut lines, bare_folder) = bench.on_sqlite().await?;
    if let Some(server) = &args.postgres {
        let names = PgNames::new();
        let measured = bench.on_postgres(server, &names, bare_folder).await;
        for name in names.all() {
            if let Err(e) = roster_bench::postgres::drop_database(server, &name).await {
                eprintln!("warning: dropping the scratch database {name}: {e}");
            }
        }
        lines.extend(measured?);
    }

    remove_outboxes(dir)?;
    let file_bytes = std::fs::metadata(&bench.csv).map_or(0, |m| m.len());
    let summary = Summary::new(args.rows, file_bytes, args.chunk_rows, lines);
    match args.format {
        Format::Text => print!("{}", summary.text()),
        Format::Json => println!("{}", serde_json::to_string_pretty(&summary.json())?),
    }
    Ok(Outcome::Done)
}

/// `roster bench-step`: runs one step and prints what it measured as JSON.
pub(crate) async fn step(db: &str, args: BenchStepArgs) -> anyhow::Result<Outcome> {
    let mut started = Instant::now();
    let exe = std::env::current_exe().context("finding the roster binary")?;
    let peak_kib = match args.step {
        BenchStep::Validate => {
            let status = Command::new(&exe)
                .args([
                    "--db",
                    db,
                    "validate",
                    "--account",
                    SLUG,
                    "--format",
                    "json",
                ])
                .arg(&args.csv)
                .stdout(Stdio::null())
                .status()
                .await
                .context("running roster validate")?;
            if !status.success() {
                bail!("roster validate ended with {status}; the generated file should be valid");
            }
            children_peak_kib()?
        }
        BenchStep::BareValidate => {
            bare_validate(db, &args.csv).await?;
            own_peak_kib()?
        }
        BenchStep::Workers => {
            let id = args
                .import
                .as_deref()
                .context("--import is required for the workers step")?;
            run_workers(&exe, db, id, args.workers, args.logs.as_deref()).await?;
            children_peak_kib()?
        }
        BenchStep::BareImport => {
            bare_import(db, &args.csv).await?;
            own_peak_kib()?
        }
        BenchStep::ImportOnly => {
            let id = args
                .import
                .as_deref()
                .context("--import is required for the import-only step")?;
            import_only(db, id).await?;
            own_peak_kib()?
        }
        BenchStep::Sweep => {
            let dropped = roster_bench::drop_password_jobs(db).await?;
            let store = Store::open(db).await?;
            // Only the sweep is timed, not dropping the jobs.
            started = Instant::now();
            let queued = store.requeue_stranded_deliveries().await?;
            store.close().await;
            if queued == 0 || queued != dropped {
                bail!(
                    "the sweep queued {queued} groups again of {dropped} whose jobs were dropped"
                );
            }
            own_peak_kib()?
        }
        BenchStep::Deliver => {
            let mut flags = vec!["--mail-rate".to_string(), "0".to_string()];
            match (&args.smtp_url, &args.outbox) {
                (Some(url), _) => flags.extend(["--smtp-url".to_string(), url.clone()]),
                (None, Some(folder)) => flags.extend(["--outbox".to_string(), path(folder)]),
                (None, None) => bail!("--outbox or --smtp-url is required for the deliver step"),
            }
            deliver(&exe, db, &flags, args.logs.as_deref()).await?;
            children_peak_kib()?
        }
        BenchStep::BareFolder => {
            let folder = args
                .outbox
                .clone()
                .context("--outbox is required for the bare folder step")?;
            let csv = args.csv.clone();
            // One thread: two writing into one folder wait for each other
            // on the folder's lock (measured: 4,300 messages/s against
            // 19,000/s).
            let written = tokio::task::spawn_blocking(move || {
                roster_bench::mail::write_folder(&csv, &folder, 1)
            })
            .await??;
            eprintln!("bare folder: {written} messages");
            own_peak_kib()?
        }
        BenchStep::BareSmtp => {
            let url = args
                .smtp_url
                .as_deref()
                .context("--smtp-url is required for the bare SMTP step")?;
            let sent = roster_bench::mail::send_smtp(&args.csv, url, MAIL_THREADS).await?;
            eprintln!("bare SMTP: {sent} messages");
            own_peak_kib()?
        }
    };
    let measured = Measured {
        seconds: started.elapsed().as_secs_f64(),
        peak_kib,
    };
    println!("{}", serde_json::to_string(&measured)?);
    Ok(Outcome::Done)
}

/// What one step measured.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Measured {
    seconds: f64,
    peak_kib: u64,
}

/// One line of the table: a task on a database, roster against its
/// baseline, if it has one.
#[derive(Debug)]
struct Line {
    task: &'static str,
    database: &'static str,
    workers: Option<usize>,
    roster: Measured,
    bare: Option<Measured>,
    goal: Goal,
}

#[derive(Debug, Clone, Copy)]
enum Goal {
    /// roster's time at most this many times the baseline's.
    Ratio(f64),
    /// Faster than the same import with one worker, which took this long.
    FasterThan(f64),
    /// At most this many seconds.
    AtMost(f64),
    /// At least this many of the file's rows a second.
    RateAtLeast(f64),
}

/// Where the run keeps its files.
enum Scratch {
    Kept(PathBuf),
    Temporary(tempfile::TempDir),
}

impl Scratch {
    fn path(&self) -> &Path {
        match self {
            Scratch::Kept(dir) => dir,
            Scratch::Temporary(dir) => dir.path(),
        }
    }
}

/// The run's files and settings.
struct Bench {
    exe: PathBuf,
    dir: PathBuf,
    csv: PathBuf,
    account: PathBuf,
    chunk_rows: u64,
    /// Where the SMTP lines send to.
    smtp: roster_bench::SmtpSink,
}

impl Bench {
    /// The SQLite lines, and the bare folder writer's figure for the
    /// PostgreSQL lines.
    async fn on_sqlite(&self) -> anyhow::Result<(Vec<Line>, Measured)> {
        let fresh = self.dir.join("fresh.db");
        let fresh_url = format!("sqlite://{}", path(&fresh));
        remove_sqlite(&fresh)?;
        self.roster(Some(&fresh_url), &["account", "load", &path(&self.account)])
            .await?;
        let roster_db = self.dir.join("roster.db");
        let bare_db = self.dir.join("bare.db");
        copy_sqlite(&fresh, &roster_db)?;
        copy_sqlite(&fresh, &bare_db)?;
        let roster_url = format!("sqlite://{}", path(&roster_db));
        let bare_url = format!("sqlite://{}", path(&bare_db));

        let validate = self.validate_line("SQLite", &roster_url, &bare_url).await?;
        let import = self
            .import_line("SQLite", &roster_url, &bare_url, 1, None)
            .await?;
        let mut lines = vec![validate, import];
        let mail_db = self.dir.join("mail.db");
        copy_sqlite(&fresh, &mail_db)?;
        let mail_url = format!("sqlite://{}", path(&mail_db));
        let (delivery, bare_folder) = self.delivery_lines("SQLite", &mail_url, None).await?;
        lines.extend(delivery);
        remove_sqlite(&mail_db)?;
        copy_sqlite(&fresh, &mail_db)?;
        lines.push(self.smtp_line("SQLite", &mail_url, self.smtp.url()).await?);
        Ok((lines, bare_folder))
    }

    async fn on_postgres(
        &self,
        server: &str,
        names: &PgNames,
        bare_folder: Measured,
    ) -> anyhow::Result<Vec<Line>> {
        use roster_bench::postgres::create_database;
        let fresh_url = create_database(server, &names.fresh, None).await?;
        self.roster(Some(&fresh_url), &["account", "load", &path(&self.account)])
            .await?;
        let one_url = create_database(server, &names.one, Some(&names.fresh)).await?;
        let two_url = create_database(server, &names.two, Some(&names.fresh)).await?;
        let bare_url = create_database(server, &names.bare, Some(&names.fresh)).await?;

        let validate = self
            .validate_line("PostgreSQL", &one_url, &bare_url)
            .await?;
        let one = self
            .import_line("PostgreSQL", &one_url, &bare_url, 1, None)
            .await?;
        // A database written to is dropped before the next measurement:
        // the server would vacuum it meanwhile, on the same cores.
        for name in [&names.one, &names.bare] {
            roster_bench::postgres::drop_database(server, name).await?;
        }
        let two = self
            .import_line("PostgreSQL", &two_url, "", 2, Some(&one))
            .await?;
        roster_bench::postgres::drop_database(server, &names.two).await?;
        let mail_url = create_database(server, &names.mail, Some(&names.fresh)).await?;
        let (delivery, _) = self
            .delivery_lines("PostgreSQL", &mail_url, Some(bare_folder))
            .await?;
        let mut lines = vec![validate, one, two];
        lines.extend(delivery);
        Ok(lines)
    }

    async fn validate_line(
        &self,
        database: &'static str,
        roster_url: &str,
        bare_url: &str,
    ) -> anyhow::Result<Line> {
        let roster = self.step(roster_url, BenchStep::Validate, &[]).await?;
        let bare = self.step(bare_url, BenchStep::BareValidate, &[]).await?;
        Ok(report(Line {
            task: "validate",
            database,
            workers: None,
            roster,
            bare: Some(bare),
            goal: Goal::Ratio(1.5),
        }))
    }

    /// roster's import of the file by `workers` worker processes; against
    /// the bare loop on `bare_url`, or, when `one_worker` is given, against
    /// its baseline and time.
    async fn import_line(
        &self,
        database: &'static str,
        roster_url: &str,
        bare_url: &str,
        workers: usize,
        one_worker: Option<&Line>,
    ) -> anyhow::Result<Line> {
        let id = self.queue_import(roster_url, "none").await?;
        let id = id.as_str();
        let logs = self.dir.join(format!(
            "worker-{}-{workers}",
            database.to_ascii_lowercase()
        ));
        let roster = self
            .step(
                roster_url,
                BenchStep::Workers,
                &[
                    "--import",
                    id,
                    "--workers",
                    &workers.to_string(),
                    "--logs",
                    &path(&logs),
                ],
            )
            .await?;
        let (bare, goal) = match one_worker.and_then(|one| one.bare.map(|bare| (one, bare))) {
            Some((one, bare)) => (bare, Goal::FasterThan(one.roster.seconds)),
            None => {
                let bare = self.step(bare_url, BenchStep::BareImport, &[]).await?;
                let goal = match database {
                    "SQLite" => Goal::Ratio(2.0),
                    _ => Goal::Ratio(1.5),
                };
                (bare, goal)
            }
        };
        Ok(report(Line {
            task: "import",
            database,
            workers: Some(workers),
            roster,
            bare: Some(bare),
            goal,
        }))
    }

    /// Queues an import of the file on `db` sending passwords as asked; its id.
    async fn queue_import(&self, db: &str, passwords: &str) -> anyhow::Result<String> {
        let queued = self
            .roster(
                Some(db),
                &[
                    "import",
                    "--account",
                    SLUG,
                    "--passwords",
                    passwords,
                    "--detach",
                    "--format",
                    "json",
                    "--chunk-rows",
                    &self.chunk_rows.to_string(),
                    &path(&self.csv),
                ],
            )
            .await?;
        let queued: serde_json::Value =
            serde_json::from_str(&queued).context("reading the queued import")?;
        queued["id"]
            .as_str()
            .map(str::to_string)
            .context("roster import --detach gave no id")
    }

    /// On `db`, a fresh copy of the account: the file imported with
    /// passwords, its deliveries all queued and none sent (not measured).
    async fn queue_deliveries(&self, db: &str) -> anyhow::Result<()> {
        let id = self.queue_import(db, "users").await?;
        self.step(db, BenchStep::ImportOnly, &["--import", &id])
            .await?;
        Ok(())
    }

    /// The sweep over the queued deliveries on `db` whose jobs were all
    /// dropped, then roster's workers sending them into a folder, against
    /// the bare writer (measured once, in `bare_folder`, when given).
    async fn delivery_lines(
        &self,
        database: &'static str,
        db: &str,
        bare_folder: Option<Measured>,
    ) -> anyhow::Result<(Vec<Line>, Measured)> {
        self.queue_deliveries(db).await?;
        let sweep = self.step(db, BenchStep::Sweep, &[]).await?;
        let (outbox, logs) = (
            self.folder("outbox", database),
            self.folder("mail", database),
        );
        let deliver = self
            .step(
                db,
                BenchStep::Deliver,
                &["--outbox", &path(&outbox), "--logs", &path(&logs)],
            )
            .await?;
        let bare = match bare_folder {
            Some(bare) => bare,
            None => {
                let folder = self.dir.join("outbox-bare");
                self.step(db, BenchStep::BareFolder, &["--outbox", &path(&folder)])
                    .await?
            }
        };
        let lines = vec![
            report(Line {
                task: "sweep, every password job dropped",
                database,
                workers: None,
                roster: sweep,
                bare: None,
                goal: Goal::AtMost(SWEEP_SECONDS),
            }),
            report(Line {
                task: "passwords into the outbox folder",
                database,
                workers: Some(1),
                roster: deliver,
                bare: Some(bare),
                goal: Goal::RateAtLeast(FOLDER_RATE),
            }),
        ];
        Ok((lines, bare))
    }

    /// roster's workers sending the queued passwords on `db` through the
    /// SMTP server at `url`, against the bare client sending the same
    /// messages to it.
    async fn smtp_line(&self, database: &'static str, db: &str, url: &str) -> anyhow::Result<Line> {
        self.queue_deliveries(db).await?;
        let logs = self.folder("smtp", database);
        let roster = self
            .step(
                db,
                BenchStep::Deliver,
                &["--smtp-url", url, "--logs", &path(&logs)],
            )
            .await?;
        let bare = self
            .step(db, BenchStep::BareSmtp, &["--smtp-url", url])
            .await?;
        Ok(report(Line {
            task: "passwords through SMTP",
            database,
            workers: Some(1),
            roster,
            bare: Some(bare),
            goal: Goal::Ratio(SMTP_RATIO),
        }))
    }

    /// The folder `WHAT-DATABASE` of the run.
    fn folder(&self, what: &str, database: &str) -> PathBuf {
        self.dir
            .join(format!("{what}-{}", database.to_ascii_lowercase()))
    }

    /// Runs a step in a process of its own; what it measured.
    async fn step(&self, db: &str, step: BenchStep, extra: &[&str]) -> anyhow::Result<Measured> {
        let name = clap::ValueEnum::to_possible_value(&step)
            .map(|v| v.get_name().to_string())
            .unwrap_or_default();
        let mut args = vec![
            "bench-step".to_string(),
            "--step".to_string(),
            name,
            "--csv".to_string(),
            path(&self.csv),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.roster(Some(db), &args).await?;
        serde_json::from_str(out.trim())
            .with_context(|| format!("reading what a step measured: {out}"))
    }

    /// Runs roster with these arguments on `db` (or none); its stdout.
    async fn roster(&self, db: Option<&str>, args: &[&str]) -> anyhow::Result<String> {
        let mut command = Command::new(&self.exe);
        if let Some(db) = db {
            command.args(["--db", db]);
        }
        let out = command
            .args(args)
            .stdin(Stdio::null())
            .output()
            .await
            .with_context(|| format!("running roster {}", args.join(" ")))?;
        if !out.status.success() {
            bail!(
                "roster {} ended with {}: {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// The scratch databases of one run on PostgreSQL, named after this process.
struct PgNames {
    fresh: String,
    one: String,
    two: String,
    bare: String,
    mail: String,
}

impl PgNames {
    fn new() -> PgNames {
        let name = |what: &str| format!("roster_bench_{}_{what}", std::process::id());
        PgNames {
            fresh: name("fresh"),
            one: name("one_worker"),
            two: name("two_workers"),
            bare: name("bare"),
            mail: name("mail"),
        }
    }

    fn all(&self) -> [String; 5] {
        [
            self.one.clone(),
            self.two.clone(),
            self.bare.clone(),
            self.mail.clone(),
            self.fresh.clone(),
        ]
    }
}

/// The table and the goals.
#[derive(Debug)]
struct Summary {
    rows: u64,
    file_bytes: u64,
    chunk_rows: u64,
    cores: usize,
    lines: Vec<Line>,
}

/// `roster bench --format json`.
#[derive(Debug, Serialize)]
struct SummaryJson {
    rows: u64,
    file_bytes: u64,
    chunk_rows: u64,
    cores: usize,
    max_peak_kib: u64,
    steps: Vec<LineJson>,
}

#[derive(Debug, Serialize)]
struct LineJson {
    task: &'static str,
    database: &'static str,
    workers: Option<usize>,
    roster_seconds: f64,
    /// Null for a step without a baseline (the sweep).
    bare_seconds: Option<f64>,
    ratio: Option<f64>,
    /// The file's rows (users, messages) per second of roster's time.
    rows_per_second: f64,
    roster_peak_kib: u64,
    bare_peak_kib: Option<u64>,
    goal: String,
    met: bool,
}

impl Summary {
    fn new(rows: u64, file_bytes: u64, chunk_rows: u64, lines: Vec<Line>) -> Summary {
        Summary {
            rows,
            file_bytes,
            chunk_rows,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            lines,
        }
    }

    fn text(&self) -> String {
        let mut out = format!(
            "roster bench: {} rows ({:.1} MB), chunks of {} rows, {} cores\n\n",
            self.rows,
            self.file_bytes as f64 / 1e6,
            self.chunk_rows,
            self.cores
        );
        let header = [
            "step",
            "roster",
            "bare",
            "ratio",
            "rows/s",
            "peak roster",
            "peak bare",
            "goal",
        ];
        let mut table: Vec<[String; 8]> = vec![header.map(str::to_string)];
        for line in &self.lines {
            let none = || "—".to_string();
            table.push([
                line.name(),
                format!("{:.2} s", line.roster.seconds),
                line.bare
                    .map_or_else(none, |b| format!("{:.2} s", b.seconds)),
                line.ratio().map_or_else(none, |r| format!("{r:.2}×")),
                format!("{:.0}", self.rows as f64 / line.roster.seconds),
                mib(line.roster.peak_kib),
                line.bare.map_or_else(none, |b| mib(b.peak_kib)),
                format!("{}: {}", line.goal_text(), met(line.met(self.rows))),
            ]);
        }
        let widths: Vec<usize> = (0..header.len())
            .map(|i| {
                table
                    .iter()
                    .map(|r| r[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in &table {
            let mut cells = Vec::new();
            for (i, cell) in row.iter().enumerate() {
                let pad = widths[i] - cell.chars().count();
                // The name and the goal read left to right; figures line up on the right.
                cells.push(if i == 0 || i == row.len() - 1 {
                    format!("{cell}{}", " ".repeat(pad))
                } else {
                    format!("{}{cell}", " ".repeat(pad))
                });
            }
            out.push_str(cells.join("  ").trim_end());
            out.push('\n');
        }
        let largest = self.largest_peak_kib();
        out.push_str(&format!(
            "\npeak memory at most {} in every step: {} (largest {})\n",
            mib(MAX_PEAK_KIB),
            met(largest <= MAX_PEAK_KIB),
            mib(largest)
        ));
        out
    }

    fn json(&self) -> SummaryJson {
        SummaryJson {
            rows: self.rows,
            file_bytes: self.file_bytes,
            chunk_rows: self.chunk_rows,
            cores: self.cores,
            max_peak_kib: self.largest_peak_kib(),
            steps: self
                .lines
                .iter()
                .map(|line| LineJson {
                    task: line.task,
                    database: line.database,
                    workers: line.workers,
                    roster_seconds: line.roster.seconds,
                    bare_seconds: line.bare.map(|b| b.seconds),
                    ratio: line.ratio(),
                    rows_per_second: self.rows as f64 / line.roster.seconds,
                    roster_peak_kib: line.roster.peak_kib,
                    bare_peak_kib: line.bare.map(|b| b.peak_kib),
                    goal: line.goal_text(),
                    met: line.met(self.rows),
                })
                .collect(),
        }
    }

    fn largest_peak_kib(&self) -> u64 {
        self.lines
            .iter()
            .map(|l| l.roster.peak_kib.max(l.bare.map_or(0, |b| b.peak_kib)))
            .max()
            .unwrap_or(0)
    }
}

impl Line {
    fn name(&self) -> String {
        match self.workers {
            Some(1) => format!("{}, {}, 1 worker", self.task, self.database),
            Some(n) => format!("{}, {}, {n} workers", self.task, self.database),
            None => format!("{}, {}", self.task, self.database),
        }
    }

    fn ratio(&self) -> Option<f64> {
        self.bare.map(|bare| self.roster.seconds / bare.seconds)
    }

    fn goal_text(&self) -> String {
        match self.goal {
            Goal::Ratio(r) => format!("at most {r}× bare"),
            Goal::FasterThan(s) => format!("faster than 1 worker ({s:.2} s)"),
            Goal::AtMost(s) => format!("at most {s} s"),
            Goal::RateAtLeast(r) => format!("at least {r:.0}/s"),
        }
    }

    /// Whether the goal was met, for a file of `rows` rows.
    fn met(&self, rows: u64) -> bool {
        match self.goal {
            Goal::Ratio(r) => self.ratio().is_some_and(|ratio| ratio <= r),
            Goal::FasterThan(s) => self.roster.seconds < s,
            Goal::AtMost(s) => self.roster.seconds <= s,
            Goal::RateAtLeast(r) => rows as f64 / self.roster.seconds >= r,
        }
    }
}

/// Prints a line as soon as it is measured: a long run shows its progress.
fn report(line: Line) -> Line {
    match (line.bare, line.ratio()) {
        (Some(bare), Some(ratio)) => eprintln!(
            "{}: roster {:.2} s, bare {:.2} s, {ratio:.2}×",
            line.name(),
            line.roster.seconds,
            bare.seconds,
        ),
        _ => eprintln!("{}: roster {:.2} s", line.name(), line.roster.seconds),
    }
    line
}

/// Starts `workers` worker processes on `db`, waits until import `id` has
/// finished, stops them with SIGTERM, and checks that every row was created.
async fn run_workers(
    exe: &Path,
    db: &str,
    id: &str,
    workers: usize,
    logs: Option<&Path>,
) -> anyhow::Result<()> {
    let id = ImportId::parse(id).with_context(|| format!("{id:?} is not an import id"))?;
    let store = Store::open(db).await?;
    let mut children = Vec::new();
    for n in 0..workers {
        let log = match logs {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                let file = dir.join(format!("worker-{n}.log"));
                Stdio::from(
                    std::fs::File::create(&file)
                        .with_context(|| format!("creating {}", file.display()))?,
                )
            }
            None => Stdio::null(),
        };
        let child = Command::new(exe)
            .args(["--db", db, "worker", "--concurrency", "1"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("starting a roster worker")?;
        children.push(child);
    }
    let import = loop {
        let import = store.existing_import(&id).await?;
        if !import.state.is_active() {
            break import;
        }
        for child in &mut children {
            if let Some(status) = child.try_wait()? {
                bail!("a roster worker ended with {status} before the import did");
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for child in &mut children {
        terminate(child).await?;
    }
    store.close().await;
    if import.state != ImportState::Completed || import.created != import.total {
        bail!(
            "the import ended {} with {} of {} rows created",
            import.state,
            import.created,
            import.total
        );
    }
    Ok(())
}

/// Runs the import `id` to its end in this process, without sending its
/// passwords.
async fn import_only(db: &str, id: &str) -> anyhow::Result<()> {
    let id = ImportId::parse(id).with_context(|| format!("{id:?} is not an import id"))?;
    let store = Store::open(db).await?;
    roster_jobs::run_import(&store, &id, roster_jobs::RunConfig::default()).await?;
    let import = store.existing_import(&id).await?;
    store.close().await;
    if import.deliveries.queued != import.total {
        bail!(
            "{} of {} deliveries queued after the import",
            import.deliveries.queued,
            import.total
        );
    }
    Ok(())
}

/// Starts a `roster worker` with `flags` on `db`, waits until no password
/// is queued, stops it with SIGTERM, and checks that every one was sent.
async fn deliver(
    exe: &Path,
    db: &str,
    flags: &[String],
    logs: Option<&Path>,
) -> anyhow::Result<()> {
    let store = Store::open(db).await?;
    let account = store
        .existing_account(&roster_store::AccountSlug::parse(SLUG)?)
        .await?;
    let import = store
        .account_imports(&account, 1)
        .await?
        .pop()
        .context("no import to send the passwords of")?;
    let log = match logs {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let file = dir.join("worker.log");
            Stdio::from(
                std::fs::File::create(&file)
                    .with_context(|| format!("creating {}", file.display()))?,
            )
        }
        None => Stdio::null(),
    };
    let mut child = Command::new(exe)
        .args(["--db", db, "worker"])
        .args(flags)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .context("starting a roster worker")?;
    let sent = loop {
        let now = store.existing_import(&import.id).await?;
        if now.deliveries.queued == 0 {
            break now.deliveries;
        }
        if let Some(status) = child.try_wait()? {
            bail!("the roster worker ended with {status} before the passwords were sent");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    terminate(&mut child).await?;
    store.close().await;
    if sent.sent != import.total {
        bail!(
            "{} of {} passwords sent ({} failed)",
            sent.sent,
            import.total,
            sent.failed
        );
    }
    Ok(())
}

/// Removes the folders of messages the steps wrote: a million files are
/// gigabytes. Only at the end: a step that ran right after a million
/// files were removed paid for it (ext4 looks among recently freed inodes
/// for each new file: 6,000 messages a second instead of 19,000).
fn remove_outboxes(dir: &Path) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries {
        let path = entry
            .with_context(|| format!("reading {}", dir.display()))?
            .path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("outbox-") && path.is_dir() {
            std::fs::remove_dir_all(&path)
                .with_context(|| format!("removing {}", path.display()))?;
        }
    }
    Ok(())
}

/// Stops a worker with SIGTERM, as a deployment would, and waits for it.
async fn terminate(child: &mut Child) -> anyhow::Result<()> {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    if let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) {
        kill(Pid::from_raw(pid), Signal::SIGTERM).context("stopping a roster worker")?;
    }
    let status = child.wait().await.context("waiting for a roster worker")?;
    if !status.success() {
        bail!("a roster worker ended with {status} after SIGTERM");
    }
    Ok(())
}

/// The bare check of `csv` against the account on `db`.
async fn bare_validate(db: &str, csv: &Path) -> anyhow::Result<()> {
    let csv = csv.to_path_buf();
    let checked = match sqlite_path(db) {
        Some(file) => {
            tokio::task::spawn_blocking(move || {
                let account = roster_bench::sqlite::account(&file, SLUG)?;
                let directory = roster_bench::sqlite::directory(&file, &account)?;
                roster_bench::check_file(&csv, &account, &directory)
            })
            .await??
        }
        None => {
            let account = roster_bench::postgres::account(db, SLUG).await?;
            let directory = roster_bench::postgres::directory(db, &account).await?;
            tokio::task::spawn_blocking(move || {
                roster_bench::check_file(&csv, &account, &directory)
            })
            .await??
        }
    };
    if checked.valid_rows != checked.rows {
        bail!(
            "the bare check found {} errors in {} of {} rows of a file roster generated valid",
            checked.errors,
            checked.rows - checked.valid_rows,
            checked.rows
        );
    }
    Ok(())
}

/// The bare insert loop over `csv` into the account on `db`.
async fn bare_import(db: &str, csv: &Path) -> anyhow::Result<()> {
    let imported = match sqlite_path(db) {
        Some(file) => {
            let csv = csv.to_path_buf();
            tokio::task::spawn_blocking(move || {
                roster_bench::sqlite::import(&file, SLUG, &csv, BARE_BATCH_ROWS)
            })
            .await??
        }
        // The bare loop reads the file on this thread between its writes:
        // reading and writing take turns, as in the simplest program.
        None => roster_bench::postgres::import(db, SLUG, csv, BARE_BATCH_ROWS).await?,
    };
    eprintln!(
        "bare import: {} users, {} extensions, {} numbers",
        imported.users, imported.extensions, imported.numbers
    );
    Ok(())
}

/// The file of a `sqlite://FILE` URL; `None` for PostgreSQL.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    Some(PathBuf::from(rest.split('?').next().unwrap_or(rest)))
}

/// Copies a SQLite database with its write-ahead log, if it has one.
fn copy_sqlite(from: &Path, to: &Path) -> anyhow::Result<()> {
    remove_sqlite(to)?;
    for suffix in ["", "-wal"] {
        let source = PathBuf::from(format!("{}{suffix}", from.display()));
        if source.exists() {
            let target = PathBuf::from(format!("{}{suffix}", to.display()));
            std::fs::copy(&source, &target)
                .with_context(|| format!("copying {} to {}", source.display(), target.display()))?;
        }
    }
    Ok(())
}

fn remove_sqlite(db: &Path) -> anyhow::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", db.display()));
        if file.exists() {
            std::fs::remove_file(&file).with_context(|| format!("removing {}", file.display()))?;
        }
    }
    Ok(())
}

/// The peak resident memory of the largest child this process waited for.
fn children_peak_kib() -> anyhow::Result<u64> {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).context("reading children's memory use")?;
    Ok(u64::try_from(usage.max_rss()).unwrap_or(0))
}

/// The peak resident memory of this process.
fn own_peak_kib() -> anyhow::Result<u64> {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage = getrusage(UsageWho::RUSAGE_SELF).context("reading memory use")?;
    Ok(u64::try_from(usage.max_rss()).unwrap_or(0))
}

fn mib(kib: u64) -> String {
    format!("{:.0} MiB", kib as f64 / 1024.0)
}

fn met(yes: bool) -> &'static str {
    if yes { "met" } else { "missed" }
}

fn path(p: &Path) -> String {
    p.display().to_string()
}
