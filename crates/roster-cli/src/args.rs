//! `Args`: every command, flag and default of the `roster` binary.
//!
//! The names here are the outside contract (`docs/cli.md`): add freely,
//! rename never.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use roster_mail::DeliveryConfig;
use roster_store::PasswordDelivery;
use roster_validate::Limits;

#[derive(Debug, Parser)]
#[command(
    name = "roster",
    version,
    about = "Bulk user import for hosted-PBX accounts"
)]
pub(crate) struct Args {
    /// Database URL: sqlite://FILE (created on first use) or postgres://HOST/DATABASE.
    #[arg(long, global = true, env = "ROSTER_DATABASE_URL", default_value = roster_store::DEFAULT_URL)]
    pub(crate) db: String,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Print the CSV template to fill in.
    Template,
    /// Manage accounts.
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// Check a file against the template and the account; writes nothing.
    ///
    /// Exit status: 0 valid, 1 errors found, 2 usage or system error.
    Validate(ValidateArgs),
    /// Validate a file and, if it is clean, create its users in the background.
    ///
    /// Exit status: 0 every row created, 1 validation errors (nothing
    /// queued), 3 finished with failed or not-processed rows, 2 usage or
    /// system error.
    Import(ImportArgs),
    /// Show an import's state and counts.
    Status {
        /// The import's id, or a unique prefix of it (4 characters at least).
        id: String,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// List an account's imports, newest first.
    Imports {
        #[arg(long)]
        account: String,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// The most imports listed: the newest ones.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
    },
    /// Print one result per data row of an import.
    Results {
        /// The import's id, or a unique prefix of it (4 characters at least).
        id: String,
        #[arg(long, value_enum, default_value_t = TableFormat::Csv)]
        format: TableFormat,
    },
    /// Print the rows of an import that were not created, as CSV to fix and import again.
    FailedRows {
        /// The import's id, or a unique prefix of it (4 characters at least).
        id: String,
    },
    /// Stop a queued or running import; rows already created stay.
    Stop {
        /// The import's id, or a unique prefix of it (4 characters at least).
        id: String,
    },
    /// Undo a finished import: delete the users it created (their extensions
    /// freed, numbers parked again, queued password messages cancelled) and
    /// give the users it updated back what they had. A user changed since
    /// the import is left as it is, and its row says why.
    ///
    /// Exit status: 0 every row undone, 3 some rows not undone (or the undo
    /// stopped), 2 usage or system error.
    Undo(UndoArgs),
    /// List an account's users with their extensions and numbers.
    Users {
        #[arg(long)]
        account: String,
        #[arg(long, value_enum, default_value_t = TableFormat::Csv)]
        format: TableFormat,
    },
    /// Run a worker that processes queued imports, until SIGTERM or Ctrl-C.
    Worker(WorkerArgs),
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Serve the HTTP API and the admin web page, with a worker, until
    /// SIGTERM or Ctrl-C.
    Serve(ServeArgs),
    /// Write a file of N valid rows and the account it is valid against (for benchmarks).
    Generate(GenerateArgs),
    /// Generate N rows and measure validation and import against bare
    /// baselines in one run: times, ratios, rows/s and peak memory.
    ///
    /// Runs on SQLite in a scratch folder, and on PostgreSQL too with
    /// --postgres (in scratch databases it creates and drops). Never
    /// touches the database of --db.
    Bench(BenchArgs),
    /// One measured step of `roster bench`, in a process of its own so that
    /// its peak memory is its own.
    #[command(hide = true)]
    BenchStep(BenchStepArgs),
}

#[derive(Debug, Subcommand)]
pub(crate) enum AccountCommand {
    /// Create an account from a TOML file, or bring it up to date.
    Load {
        /// The account file (see fixtures/demo-account.toml).
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Print a new API token for the account, once; only its hash is kept.
    Create {
        #[arg(long)]
        account: String,
    },
}

#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// The address to listen on.
    #[arg(long, env = "ROSTER_BIND", default_value = "127.0.0.1:8080")]
    pub(crate) bind: String,
    /// The most data rows an uploaded file may have.
    #[arg(long, default_value_t = Limits::DEFAULT.max_rows)]
    pub(crate) max_rows: u64,
    /// The largest upload, in bytes (refused while it streams in).
    #[arg(long, default_value_t = Limits::DEFAULT.max_bytes)]
    pub(crate) max_bytes: u64,
    /// Mark the page's session cookie Secure: when the page is reached over
    /// HTTPS (through a proxy in front of roster).
    #[arg(long)]
    pub(crate) secure_cookies: bool,
    #[command(flatten)]
    pub(crate) worker: WorkerArgs,
}

/// What rows do to existing users (`roster_validate::Mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ModeArg {
    Create,
    Upsert,
    Update,
}

impl From<ModeArg> for roster_validate::Mode {
    fn from(mode: ModeArg) -> roster_validate::Mode {
        match mode {
            ModeArg::Create => roster_validate::Mode::Create,
            ModeArg::Upsert => roster_validate::Mode::Upsert,
            ModeArg::Update => roster_validate::Mode::Update,
        }
    }
}

#[derive(Debug, clap::Args)]
pub(crate) struct ValidateArgs {
    /// The account the users are for.
    #[arg(long)]
    pub(crate) account: String,
    /// What rows do to users whose email they name: `create` refuses them
    /// (email_taken), `upsert` updates them and creates the rest, `update`
    /// updates them and refuses unknown emails (unknown_user). In upsert
    /// and update mode the report shows the plan: every row's action and
    /// changes.
    #[arg(long, value_enum, default_value_t = ModeArg::Create)]
    pub(crate) mode: ModeArg,
    /// The CSV file; `-` reads standard input.
    pub(crate) file: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
    /// Without voice services: ignore the phone, extension and location columns.
    #[arg(long)]
    pub(crate) no_voice: bool,
    /// The most data rows a file may have.
    #[arg(long, default_value_t = Limits::DEFAULT.max_rows)]
    pub(crate) max_rows: u64,
    /// The largest file, in bytes.
    #[arg(long, default_value_t = Limits::DEFAULT.max_bytes)]
    pub(crate) max_bytes: u64,
}

#[derive(Debug, clap::Args)]
pub(crate) struct UndoArgs {
    /// The import's id, or a unique prefix of it (4 characters at least).
    pub(crate) id: String,
    /// Queue the undo and return at once; a worker (`roster worker` or
    /// `roster serve`) runs it.
    #[arg(long)]
    pub(crate) detach: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ImportArgs {
    /// The account the users are for.
    #[arg(long)]
    pub(crate) account: String,
    /// What rows do to users whose email they name: `create` refuses them
    /// (email_taken), `upsert` updates them and creates the rest, `update`
    /// updates them and refuses unknown emails (unknown_user). In upsert
    /// and update mode the report shows the plan: every row's action and
    /// changes.
    #[arg(long, value_enum, default_value_t = ModeArg::Create)]
    pub(crate) mode: ModeArg,
    /// The CSV file; `-` reads standard input.
    pub(crate) file: PathBuf,
    /// Temporary passwords: to each user's email (`users`), not at all
    /// (`none`), or all to one address (`to:ADDRESS`).
    #[arg(long, default_value = "users", value_parser = parse_passwords)]
    pub(crate) passwords: PasswordDelivery,
    /// Without voice services: ignore the phone, extension and location columns.
    #[arg(long)]
    pub(crate) no_voice: bool,
    /// Queue the import, print its id and return without waiting.
    #[arg(long)]
    pub(crate) detach: bool,
    /// Data rows per chunk: a large import is split into chunks that any
    /// worker may take.
    #[arg(long, default_value_t = roster_jobs::DEFAULT_CHUNK_ROWS, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) chunk_rows: u64,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
    /// The most data rows a file may have.
    #[arg(long, default_value_t = Limits::DEFAULT.max_rows)]
    pub(crate) max_rows: u64,
    /// The largest file, in bytes.
    #[arg(long, default_value_t = Limits::DEFAULT.max_bytes)]
    pub(crate) max_bytes: u64,
    #[command(flatten)]
    pub(crate) mail: MailArgs,
}

#[derive(Debug, clap::Args)]
pub(crate) struct WorkerArgs {
    /// Chunks of imports written at once by this process (on PostgreSQL;
    /// SQLite has one writer). Each writes two batches at once already.
    #[arg(long, default_value_t = 1)]
    pub(crate) concurrency: usize,
    /// Seconds before work held by a worker that stopped sending heartbeats
    /// is taken over by another.
    #[arg(long, default_value_t = 300)]
    pub(crate) orphan_after: u64,
    #[command(flatten)]
    pub(crate) mail: MailArgs,
}

/// How this process sends the messages that carry temporary passwords.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Password delivery")]
pub(crate) struct MailArgs {
    /// Send through this SMTP server: smtp://HOST:PORT, smtps://HOST for
    /// TLS, smtp://HOST:587?tls=required for STARTTLS, USER:PASSWORD@HOST
    /// for credentials. Without it, messages are written to --outbox.
    #[arg(long, env = "ROSTER_SMTP_URL", hide_env_values = true)]
    pub(crate) smtp_url: Option<String>,
    /// A PEM file with the certificate of an authority to trust besides
    /// the system's, for an SMTP server whose certificate a private
    /// authority signed.
    #[arg(long, env = "ROSTER_SMTP_CA", requires = "smtp_url")]
    pub(crate) smtp_ca: Option<PathBuf>,
    /// The folder messages are written to, one .eml file each, when no SMTP
    /// server is given.
    #[arg(long, env = "ROSTER_OUTBOX", default_value = "outbox")]
    pub(crate) outbox: PathBuf,
    /// The sender of the messages: an address, or `Name <address>`.
    #[arg(long, env = "ROSTER_MAIL_FROM", default_value = DeliveryConfig::DEFAULT_FROM)]
    pub(crate) mail_from: String,
    /// Where users sign in, as the messages name it.
    #[arg(long, env = "ROSTER_SIGN_IN_URL", default_value = DeliveryConfig::DEFAULT_SIGN_IN_URL)]
    pub(crate) sign_in_url: String,
    /// Messages sent per second by this process, at most; 0: no limit.
    /// Default: 20 through SMTP, no limit into the outbox folder.
    #[arg(long, env = "ROSTER_MAIL_RATE")]
    pub(crate) mail_rate: Option<u32>,
    /// Messages sent at once by this process through SMTP, over as many
    /// reused connections; into the outbox folder, groups of messages
    /// written at once.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub(crate) mail_concurrency: u32,
    /// Attempts at a message the server refuses for now (4xx, no
    /// connection) before it counts as not delivered.
    #[arg(long, default_value_t = DeliveryConfig::DEFAULT_ATTEMPTS, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) mail_attempts: u32,
    /// Seconds before the second attempt; the wait doubles after each
    /// attempt, up to an hour.
    #[arg(long, default_value_t = DeliveryConfig::DEFAULT_RETRY_AFTER.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) mail_retry_after: u64,
}

#[derive(Debug, clap::Args)]
pub(crate) struct GenerateArgs {
    /// How many user rows.
    #[arg(long)]
    pub(crate) rows: u64,
    /// Where to write the CSV file.
    #[arg(long)]
    pub(crate) csv: PathBuf,
    /// Where to write the account file the rows are valid against.
    #[arg(long)]
    pub(crate) account_file: PathBuf,
    /// The slug of that account.
    #[arg(long, default_value = "bench")]
    pub(crate) slug: String,
    /// Start at this user: the rows are users FROM to FROM + ROWS - 1, with
    /// the numbers and extensions those users have in every generated file
    /// (the account file parks the numbers of users 0 to FROM + ROWS - 1).
    #[arg(long, default_value_t = 0)]
    pub(crate) from: u64,
    /// Change the first N rows, as a file that updates those users: a new
    /// department, and for every other one a new job title too (one or two
    /// fields); for `roster import --mode upsert` benchmarks.
    #[arg(long, default_value_t = 0)]
    pub(crate) changed: u64,
}

#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {
    /// How many user rows to generate and import.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=8_000_000))]
    pub(crate) rows: u64,
    /// Also measure on this PostgreSQL server (a URL whose user may create
    /// databases); scratch databases named roster_bench_* are made there
    /// and dropped afterwards.
    #[arg(long, env = "ROSTER_BENCH_POSTGRES_URL", hide_env_values = true)]
    pub(crate) postgres: Option<String>,
    /// Keep the generated files, databases and worker logs in this folder
    /// (default: a temporary folder, removed afterwards).
    #[arg(long)]
    pub(crate) dir: Option<PathBuf>,
    /// Data rows per chunk of the import.
    #[arg(long, default_value_t = roster_jobs::DEFAULT_CHUNK_ROWS, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) chunk_rows: u64,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
}

#[derive(Debug, clap::Args)]
pub(crate) struct BenchStepArgs {
    #[arg(long, value_enum)]
    pub(crate) step: BenchStep,
    /// The file to read.
    #[arg(long)]
    pub(crate) csv: PathBuf,
    /// The import the workers run.
    #[arg(long)]
    pub(crate) import: Option<String>,
    /// Worker processes.
    #[arg(long, default_value_t = 1)]
    pub(crate) workers: usize,
    /// Where worker processes write their logs.
    #[arg(long)]
    pub(crate) logs: Option<PathBuf>,
    /// The folder messages are written to.
    #[arg(long)]
    pub(crate) outbox: Option<PathBuf>,
    /// The SMTP server messages are sent to, instead of a folder.
    #[arg(long)]
    pub(crate) smtp_url: Option<String>,
}

/// The measured steps of `roster bench`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum BenchStep {
    /// `roster validate` on the file.
    Validate,
    /// The bare check of the file.
    BareValidate,
    /// `roster worker` processes running a queued import to its end.
    Workers,
    /// The bare insert loop.
    BareImport,
    /// A queued import with passwords run to its end in this process: its
    /// users' deliveries are then queued, none sent.
    ImportOnly,
    /// Every password job dropped, then the sweep that queues them again:
    /// the sweep's time.
    Sweep,
    /// `roster worker` processes sending every queued password.
    Deliver,
    /// The bare writer of the file's messages into a folder.
    BareFolder,
    /// The bare SMTP client sending the file's messages.
    BareSmtp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TableFormat {
    Csv,
    Json,
}

fn parse_passwords(s: &str) -> Result<PasswordDelivery, String> {
    PasswordDelivery::parse(s).ok_or_else(|| {
        format!(
            "'{s}' is not a delivery: use users, none, or to:ADDRESS with a valid email address"
        )
    })
}
