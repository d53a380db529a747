//! `roster`: the command line of the bulk user importer.
//!
//! This crate alone knows flags, exit codes and terminals. Each command lives
//! in the file named after it; `main` turns every failure into a message a
//! person can act on and into the exit code `docs/cli.md` promises.

use std::process::ExitCode;

use clap::Parser;

mod account_file;
mod args;
mod bench;
mod generate;
mod import;
mod import_id;
mod imports;
mod mail;
mod report;
mod results;
mod serve;
mod status;
mod stop;
mod token;
mod undo;
mod users;
mod validate;
mod worker;

use args::{AccountCommand, Args, Command, TokenCommand};

/// What a command tells `main` about how it went, beyond success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Exit 0.
    Done,
    /// The file has errors (exit 1).
    Invalid,
    /// The import finished with rows failed or not processed (exit 3).
    Incomplete,
    /// The import itself failed (exit 2).
    Failed,
}

fn main() -> ExitCode {
    let args = Args::parse();
    install_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(args)) {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::Invalid) => ExitCode::from(1),
        Ok(Outcome::Incomplete) => ExitCode::from(3),
        Ok(Outcome::Failed) => ExitCode::from(2),
        // A reader that stopped reading (`roster results ID | head`) is not an error.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> anyhow::Result<Outcome> {
    match args.command {
        Command::Template => {
            print!("{}", roster_template::TEMPLATE_FILE);
            Ok(Outcome::Done)
        }
        Command::Account {
            command: AccountCommand::Load { file },
        } => account_file::load(&args.db, &file).await,
        Command::Validate(v) => validate::run(&args.db, v).await,
        Command::Import(i) => import::run(&args.db, i).await,
        Command::Status { id, format } => status::run(&args.db, &id, format).await,
        Command::Imports {
            account,
            format,
            limit,
        } => imports::run(&args.db, &account, format, limit).await,
        Command::Results { id, format } => results::results(&args.db, &id, format).await,
        Command::FailedRows { id } => results::failed_rows(&args.db, &id).await,
        Command::Stop { id } => stop::run(&args.db, &id).await,
        Command::Undo(u) => undo::run(&args.db, u).await,
        Command::Users { account, format } => users::run(&args.db, &account, format).await,
        Command::Worker(w) => worker::run(&args.db, w).await,
        Command::Token {
            command: TokenCommand::Create { account },
        } => token::create(&args.db, &account).await,
        Command::Serve(s) => serve::run(&args.db, s).await,
        Command::Generate(g) => generate::run(g),
        Command::Bench(b) => bench::run(b).await,
        Command::BenchStep(step) => bench::step(&args.db, step).await,
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Logs go to stderr, at `warn` unless `RUST_LOG` says otherwise.
fn install_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Colours only on a terminal: a log file or a pipe gets plain text.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
