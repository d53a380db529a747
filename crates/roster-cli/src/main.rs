//! `roster`: the command line of the bulk user importer.
//!
//! This crate alone knows flags, exit codes and terminals. Each command lives
//! in the file named after it; `main` turns every failure into a message a
//! person can act on and into the exit code `CONTRACT.md` promises.

use std::process::ExitCode;

use clap::Parser;

mod account_file;
mod args;
mod generate;
mod report;
mod validate;

use args::{AccountCommand, Args, Command};

/// What a command tells `main` about how it went, beyond success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Exit 0.
    Done,
    /// The file has errors (exit 1).
    Invalid,
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
        Command::Generate(g) => generate::run(g),
    }
}

/// Logs go to stderr, at `warn` unless `RUST_LOG` says otherwise.
fn install_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
