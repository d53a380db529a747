//! `submit`: what happens to an uploaded file, whoever uploads it (the
//! command line, the HTTP API): validate it against the account, and only
//! if every row passes, store it with a new import and queue the import's
//! job. Nothing is written for a file with errors.

use std::path::Path;

use roster_store::{Account, Import, NewImport, PasswordDelivery, Store, StoreDirectory};
use roster_validate::{Limits, Mode, Options, PlannedRow, Report, validate_into};

use crate::plan_file::FindingsFiles;
use crate::{Error, ErrorsFile, FileScratch, PlanFile, PlanRows, enqueue};

/// An uploaded file and how to import it.
#[derive(Debug, Clone)]
pub struct Submission<'a> {
    pub account: &'a Account,
    /// The file, read twice: to validate, then to store.
    pub path: &'a Path,
    /// The file's name as uploaded, to show.
    pub file_name: String,
    pub voice: bool,
    pub passwords: PasswordDelivery,
    pub limits: Limits,
    /// Data rows per chunk: how finely the import is shared among workers.
    pub chunk_rows: u64,
    /// What the rows do to users whose email they name.
    pub mode: Mode,
}

/// Data rows per chunk unless asked otherwise: a million-row import in ten.
pub const DEFAULT_CHUNK_ROWS: u64 = 100_000;

/// A file checked: its report, and every error of its rows, in file
/// order, in a temporary file.
pub struct Checked {
    pub report: Report,
    pub errors: ErrorsFile,
    /// When the rows may update users: the plan of every row without
    /// errors, in file order.
    pub plan: PlanFile,
    /// How the file was read: to read its rows again.
    pub options: Options,
}

/// What became of a submission.
pub enum Submitted {
    /// The file has errors: nothing was written.
    Invalid(Checked),
    /// Every row passed: the import is queued.
    Queued { report: Report, import: Box<Import> },
}

/// Validates the file and, when it is clean, queues its import. An account
/// with an import already active is [`roster_store::Error::ImportActive`].
pub async fn submit(store: &Store, submission: Submission<'_>) -> Result<Submitted, Error> {
    let unreadable = |source| Error::Upload {
        path: submission.path.display().to_string(),
        source,
    };
    let input = tokio::fs::File::open(submission.path)
        .await
        .map_err(unreadable)?
        .into_std()
        .await;
    let checked = check(
        store,
        submission.account,
        Box::new(input),
        submission.voice,
        submission.limits,
        submission.mode,
    )
    .await?;
    if !checked.report.is_valid() {
        return Ok(Submitted::Invalid(checked));
    }
    let Checked {
        report, mut plan, ..
    } = checked;
    let rows = plan.rows().map_err(Error::Scratch)?;
    let (report, import) = queue(store, &submission, report, Some(rows)).await?;
    Ok(Submitted::Queued {
        report,
        import: Box::new(import),
    })
}

/// Queues the import of a file validated already, whose report has no
/// error: stores the file with its plan (`plan`, the plan of its rows when
/// they may update users: applied as it is, not made again) and queues
/// the job. The report, less the extensions kept with the import.
pub async fn queue(
    store: &Store,
    submission: &Submission<'_>,
    mut report: Report,
    mut plan: Option<PlanRows>,
) -> Result<(Report, Import), Error> {
    let unreadable = |source| Error::Upload {
        path: submission.path.display().to_string(),
        source,
    };
    let new = NewImport {
        account: submission.account.id,
        file_name: submission.file_name.clone(),
        voice: submission.voice,
        passwords: submission.passwords.clone(),
        total: report.rows,
        chunk_rows: submission.chunk_rows,
        // Without voice services no row names an extension.
        reserved_extensions: if submission.voice {
            std::mem::take(&mut report.extensions)
        } else {
            Vec::new()
        },
        mode: submission.mode,
    };
    let mut file = tokio::fs::File::open(submission.path)
        .await
        .map_err(unreadable)?;
    let plan = match &mut plan {
        Some(rows) if submission.mode.plans() => {
            Some(rows as &mut (dyn Iterator<Item = std::io::Result<PlannedRow>> + Send))
        }
        _ => None,
    };
    let import = store.create_import(&new, &mut file, plan).await?;
    enqueue(store, &import.id).await?;
    Ok((report, import))
}

/// Validates `input` against the account, on a blocking thread (the
/// validator is synchronous and blocks on the account's queries), with what
/// it keeps for later and the rows' errors in temporary files: memory does
/// not grow with the file or its errors.
pub async fn check(
    store: &Store,
    account: &Account,
    input: Box<dyn std::io::Read + Send>,
    voice: bool,
    limits: Limits,
    mode: Mode,
) -> Result<Checked, Error> {
    let options = Options {
        voice,
        limits,
        extensions: account.extensions,
        mode,
        default_role: account.default_role,
    };
    let mut directory =
        StoreDirectory::new(store.clone(), account, tokio::runtime::Handle::current());
    tokio::task::spawn_blocking(move || {
        let mut scratch = FileScratch::new().map_err(Error::Scratch)?;
        let mut errors = ErrorsFile::new().map_err(Error::Scratch)?;
        let mut plan = PlanFile::new().map_err(Error::Scratch)?;
        let mut findings = FindingsFiles {
            errors: &mut errors,
            plan: &mut plan,
        };
        let report = validate_into(input, &mut directory, &options, &mut scratch, &mut findings)?;
        Ok(Checked {
            report,
            errors,
            plan,
            options,
        })
    })
    .await
    .map_err(|e| Error::Task(e.to_string()))?
}
