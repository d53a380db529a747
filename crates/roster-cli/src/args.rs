//! `Args`: every command, flag and default of the `roster` binary.
//!
//! The names here are the outside contract (`CONTRACT.md`): add freely,
//! rename never.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
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
    /// Write a file of N valid rows and the account it is valid against (for benchmarks).
    Generate(GenerateArgs),
}

#[derive(Debug, Subcommand)]
pub(crate) enum AccountCommand {
    /// Create an account from a TOML file, or bring it up to date.
    Load {
        /// The account file (see fixtures/demo-account.toml).
        file: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
pub(crate) struct ValidateArgs {
    /// The account the users are for.
    #[arg(long)]
    pub(crate) account: String,
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
}
