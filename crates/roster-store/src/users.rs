//! Creating an import's users, a batch of rows at a time, and listing an
//! account's users.
//!
//! A batch is one transaction. Each row's user, extension, numbers, row
//! result and password delivery (with its queued job) are written in it
//! together, so a row is there whole or not at all, and its result cannot
//! exist without it.
//!
//! A batch is first written as it is: its rows were validated moments ago,
//! and the schema's constraints refuse whatever changed since (an email or
//! extension taken, a number no longer parked, a row written by an earlier
//! delivery). If anything is refused, the batch is rolled back and written
//! again, this time asking the database first what is wrong with its keys
//! now (the validation rules again) and failing those rows alone. If a write
//! still hits a constraint — another writer got there between the check and
//! the write — the batch is rolled back once more and written row by row,
//! each in a savepoint, so the one row fails and the rest commit.

use std::collections::{HashMap, HashSet, VecDeque};

use roster_template::Column;
use roster_validate::{
    Code, E164, Extension, ExtensionPolicy, Facts, MAIN_LOCATION, RowError, UserState, ValidRow,
    location_key,
};
use serde::Serialize;

use crate::apply::{self, updates_user};
use crate::bulk::{Answers, Bulk, NewResult, NewUser};
use crate::conflict::refusal_code;
use crate::convert::to_db;
use crate::db::{Db, Tx, query};
use crate::delivery;
use crate::error::Context;
use crate::import::state::ResultStatus;
use crate::{Account, Error, Import, Plan, Store};

/// A data row of an import on its way to the database.
// Nearly every row is valid: boxing the large variant would cost an
// allocation per row to save memory on the rare invalid one.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowInput {
    /// Passed the file's rules; the account's are checked as it is written.
    Valid(ValidRow),
    /// Failed the file's rules (the file changed since it was validated).
    Invalid {
        line: u64,
        email: Option<String>,
        errors: Vec<RowError>,
    },
}

impl RowInput {
    /// The line of the file where the row starts.
    pub fn line(&self) -> u64 {
        line(self)
    }
}

/// What a batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchCounts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub failed: u64,
    /// Rows that already had a result (a job delivered twice): left alone.
    pub skipped: u64,
    /// Password deliveries queued for the users created.
    pub deliveries: u64,
}

/// A user of the account, as `roster users` lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub display_name: String,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub organizational_unit: Option<String>,
    pub role: String,
    pub location: String,
    pub extensions: Vec<String>,
    /// E.164, primary first.
    pub numbers: Vec<String>,
    /// Whether the first of `numbers` is the primary one.
    pub has_primary: bool,
}

/// What a batch writer needs to know about the import and its account.
pub(crate) struct Batch<'a> {
    pub(crate) import: &'a Import,
    pub(crate) account: &'a Account,
    pub(crate) locations: &'a HashMap<String, i64>,
    /// The plan of the batch's rows, when they may update users.
    pub(crate) plan: &'a Plan,
    /// The batch is the plan's linked rows: those are written, not passed
    /// over.
    pub(crate) linked: bool,
}

/// How a batch learns what is wrong with its rows' keys now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Checks {
    /// It does not ask: the constraints refuse what changed since the file
    /// was validated, and any refusal rolls the batch back.
    Trust,
    /// It asks the database first, and fails those rows alone.
    Ask,
}

/// A write that hit a constraint: another writer changed the account
/// between the check and the write.
pub(crate) enum WriteError {
    /// What was taken, when the constraint says: an email, an extension or
    /// a number.
    Conflict(Option<Code>),
    Db(sqlx::Error),
}

impl From<sqlx::Error> for WriteError {
    fn from(e: sqlx::Error) -> WriteError {
        let Some(d) = e.as_database_error() else {
            return WriteError::Db(e);
        };
        if !(d.is_unique_violation() || d.is_check_violation() || d.is_foreign_key_violation()) {
            return WriteError::Db(e);
        }
        WriteError::Conflict(refusal_code(d))
    }
}

impl Store {
    /// The account's locations by key, for the batches of an import.
    pub async fn location_ids(&self, account: &Account) -> Result<HashMap<String, i64>, Error> {
        const SQL: &str = "SELECT name_key, id FROM locations WHERE account_id = $1";
        let rows: Vec<(String, i64)> = query(SQL)
            .bind(account.id.get())
            .fetch_all(&self.db)
            .await
            .context("reading the account's locations")?;
        Ok(rows.into_iter().collect())
    }

    /// Writes a batch of rows of `import`: users for the rows that pass the
    /// account's rules now, a failure for the others, a result for each, and
    /// the import's counts — in one transaction. A row that names no
    /// extension takes the next of `extensions` (claimed before, see
    /// `Store::claim_extensions`) once it has passed; what is left there
    /// afterwards was not used.
    pub async fn create_users(
        &self,
        import: &Import,
        account: &Account,
        locations: &HashMap<String, i64>,
        rows: &[RowInput],
        extensions: &mut VecDeque<Extension>,
    ) -> Result<BatchCounts, Error> {
        self.write_users(
            import,
            account,
            locations,
            rows,
            extensions,
            &Plan::new(),
            false,
        )
        .await
    }

    /// Like [`Store::create_users`], for an import whose rows may update
    /// users: `plan` is the plan of the batch's rows (see
    /// [`Store::plan_rows`]). A row the plan links to others is passed over
    /// unless `linked` says the batch is the linked rows, written together.
    #[allow(clippy::too_many_arguments)]
    pub async fn write_users(
        &self,
        import: &Import,
        account: &Account,
        locations: &HashMap<String, i64>,
        rows: &[RowInput],
        extensions: &mut VecDeque<Extension>,
        plan: &Plan,
        linked: bool,
    ) -> Result<BatchCounts, Error> {
        let cx = Batch {
            import,
            account,
            locations,
            plan,
            linked,
        };
        write_batch(&self.db, &cx, rows, extensions).await
    }

    /// The account's parked numbers (E.164), in order: with its users, the
    /// whole directory.
    pub async fn parked_numbers(&self, account: &Account) -> Result<Vec<String>, Error> {
        const SQL: &str = "SELECT number FROM numbers WHERE account_id = $1 AND user_id IS NULL \
            ORDER BY number";
        let rows: Vec<(i64,)> = query(SQL)
            .bind(account.id.get())
            .fetch_all(&self.db)
            .await
            .context("listing parked numbers")?;
        Ok(rows.into_iter().map(|(n,)| format!("+{n}")).collect())
    }

    /// The account's users, by email, with their extensions and numbers.
    pub async fn users(&self, account: &Account) -> Result<Vec<User>, Error> {
        const USERS: &str = "SELECT u.id, u.display_name, u.email, u.first_name, u.last_name, \
            u.job_title, u.department, u.organizational_unit, u.role, l.name FROM users u \
            JOIN locations l ON l.id = u.location_id WHERE u.account_id = $1 ORDER BY lower(u.email)";
        const EXTENSIONS: &str =
            "SELECT user_id, extension FROM extensions WHERE account_id = $1 ORDER BY extension";
        const NUMBERS: &str = "SELECT user_id, number, is_primary FROM numbers WHERE account_id = $1 \
            AND user_id IS NOT NULL ORDER BY is_primary DESC, number";
        type Row = (
            i64,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            String,
            String,
        );
        let id = account.id.get();
        let users: Vec<Row> = query(USERS)
            .bind(id)
            .fetch_all(&self.db)
            .await
            .context("listing users")?;
        let extensions: Vec<(i64, String)> = query(EXTENSIONS)
            .bind(id)
            .fetch_all(&self.db)
            .await
            .context("listing extensions")?;
        let numbers: Vec<(i64, i64, bool)> = query(NUMBERS)
            .bind(id)
            .fetch_all(&self.db)
            .await
            .context("listing numbers")?;
        let mut by_user_ext: HashMap<i64, Vec<String>> = HashMap::new();
        for (user, extension) in extensions {
            by_user_ext.entry(user).or_default().push(extension);
        }
        let mut by_user_num: HashMap<i64, (bool, Vec<String>)> = HashMap::new();
        for (user, number, primary) in numbers {
            let held = by_user_num.entry(user).or_default();
            held.0 |= primary;
            held.1.push(format!("+{number}"));
        }
        Ok(users
            .into_iter()
            .map(|row| {
                let (has_primary, numbers) = by_user_num.remove(&row.0).unwrap_or_default();
                User {
                    display_name: row.1,
                    email: row.2,
                    first_name: row.3,
                    last_name: row.4,
                    job_title: row.5,
                    department: row.6,
                    organizational_unit: row.7,
                    role: row.8,
                    location: row.9,
                    extensions: by_user_ext.remove(&row.0).unwrap_or_default(),
                    numbers,
                    has_primary,
                }
            })
            .collect())
    }
}

/// Adds a batch's rows and queued deliveries to the import's counts.
const ADD_COUNTS: &str = "UPDATE imports SET processed = processed + $2, created = created + $3, \
    failed = failed + $4, deliveries_queued = deliveries_queued + $5, updated = updated + $6, \
    unchanged = unchanged + $7 WHERE id = $1";

/// Writes every row of `rows` in `tx`, a transaction or a savepoint.
async fn write_rows(
    tx: &mut Tx<'_>,
    cx: &Batch<'_>,
    rows: &[RowInput],
    extensions: &mut VecDeque<Extension>,
    checks: Checks,
) -> Result<BatchCounts, WriteError> {
    tx.prepare().await?;
    let import = cx.import.key.0;
    // The group the batch's deliveries travel in: the line it starts on.
    let group = rows.first().map_or(0, |r| line(r) as i64);
    let (rows, mut skipped) = without_results(tx, import, rows, checks).await?;
    // The rows the plan applies to existing users: decided, and what their
    // users give up given back, before the new users take anything.
    let mut creating = Vec::with_capacity(rows.len());
    let mut planned = Vec::new();
    for row in rows {
        let entry = match row {
            RowInput::Valid(v) => cx.plan.get(&v.line).map(|e| (v, e)),
            RowInput::Invalid { .. } => None,
        };
        match entry {
            Some((_, e)) if e.linked && !cx.linked => skipped += 1,
            Some((v, e)) if updates_user(e.action) => match &e.before {
                Some(before) => planned.push((v, before)),
                None => creating.push(row),
            },
            _ => creating.push(row),
        }
    }
    let released = apply::release(tx, cx, &planned, checks).await?;
    let facts = facts_now(tx, cx, &creating, checks).await?;
    let (mut results, creates) = decide(cx, &creating, &facts, extensions);
    let users = insert_creates(tx, cx, &creates, &mut results).await?;
    apply::assign(tx, cx, &released.updates, &mut results).await?;
    let created_or_failed = results.len() - released.updates.len();
    results.extend(released.results);
    results.sort_by_key(|r| r.row);
    tx.insert_results(import, &results).await?;
    let mut counts = BatchCounts {
        skipped,
        created: creates.len() as u64,
        updated: released.updates.len() as u64,
        unchanged: released.unchanged,
        failed: (created_or_failed - creates.len()) as u64 + released.failed,
        deliveries: 0,
    };
    if cx.import.passwords.sends() && !users.is_empty() {
        delivery::queue_group(tx, import, group, &users).await?;
        counts.deliveries = users.len() as u64;
    }
    query(ADD_COUNTS)
        .bind(import)
        .bind(to_db(
            counts.created + counts.updated + counts.unchanged + counts.failed,
        ))
        .bind(to_db(counts.created))
        .bind(to_db(counts.failed))
        .bind(to_db(counts.deliveries))
        .bind(to_db(counts.updated))
        .bind(to_db(counts.unchanged))
        .execute(tx)
        .await?;
    Ok(counts)
}

/// The rows that have no result yet, and how many had one (a job
/// delivered twice). Only asked when the batch asks the database first.
async fn without_results<'r>(
    tx: &mut Tx<'_>,
    import: i64,
    rows: &'r [RowInput],
    checks: Checks,
) -> Result<(Vec<&'r RowInput>, u64), WriteError> {
    let done: HashSet<i64> = match checks {
        Checks::Trust => HashSet::new(),
        Checks::Ask => {
            let lines: Vec<i64> = rows.iter().map(|r| line(r) as i64).collect();
            tx.rows_with_results(import, &lines)
                .await?
                .into_iter()
                .collect()
        }
    };
    let rows = rows
        .iter()
        .filter(|r| !done.contains(&(line(r) as i64)))
        .collect();
    Ok((rows, done.len() as u64))
}

/// What is wrong now with the keys of the valid rows: nothing, when the
/// batch trusts the constraints to refuse what changed.
async fn facts_now(
    tx: &mut Tx<'_>,
    cx: &Batch<'_>,
    rows: &[&RowInput],
    checks: Checks,
) -> Result<Facts, WriteError> {
    let valid: Vec<&ValidRow> = rows
        .iter()
        .filter_map(|r| match r {
            RowInput::Valid(v) => Some(v),
            RowInput::Invalid { .. } => None,
        })
        .collect();
    match checks {
        Checks::Trust => {
            // A location is not a constraint the inserts meet: the account's
            // locations as this import loaded them decide.
            let unknown = valid
                .iter()
                .filter_map(|v| v.location.as_ref())
                .any(|location| !cx.locations.contains_key(&location.key));
            if unknown {
                return Err(WriteError::Conflict(None));
            }
            Ok(Facts::default())
        }
        Checks::Ask => {
            let email_keys: Vec<String> = valid.iter().map(|v| v.email.key()).collect();
            let emails: Vec<&str> = email_keys.iter().map(String::as_str).collect();
            let numbers: Vec<i64> = valid
                .iter()
                .flat_map(|v| v.primary_number.iter().chain(&v.additional_numbers))
                .map(|n| n.digits() as i64)
                .collect();
            let explicit: Vec<String> = valid
                .iter()
                .filter_map(|v| v.extension)
                .map(|e| e.to_string())
                .collect();
            let locations: Vec<&str> = valid
                .iter()
                .filter_map(|v| v.location.as_ref())
                .map(|location| location.key.as_str())
                .collect();
            let answers = tx
                .look_up(
                    cx.account.id.get(),
                    &emails,
                    &numbers,
                    &explicit,
                    &locations,
                )
                .await?;
            Ok(answers.into_facts())
        }
    }
}

/// Decides each row: a failure result, or a user to create. The rows that
/// pass and name no extension take the next of those claimed for them.
fn decide<'r>(
    cx: &Batch<'_>,
    rows: &[&'r RowInput],
    facts: &Facts,
    extensions: &mut VecDeque<Extension>,
) -> (Vec<NewResult>, Vec<(&'r ValidRow, Option<Extension>)>) {
    let mut results: Vec<NewResult> = Vec::with_capacity(rows.len());
    let mut creates = Vec::new();
    for row in rows {
        match row {
            RowInput::Invalid {
                line,
                email,
                errors,
            } => results.push(failure(*line, email.clone(), errors)),
            RowInput::Valid(v) => {
                let mut errors = v.account_errors(facts);
                if cx.import.mode.plans() {
                    since_plan(&mut errors);
                }
                if !errors.is_empty() {
                    results.push(failure(v.line, Some(v.email.to_string()), &errors));
                } else if v.extension.is_some() || !cx.import.voice {
                    creates.push((v, v.extension));
                } else if let Some(assigned) = extensions.pop_front() {
                    creates.push((v, Some(assigned)));
                } else {
                    let error = no_free_extension(v.line, cx.account);
                    results.push(failure(v.line, Some(v.email.to_string()), &[error]));
                }
            }
        }
    }
    (results, creates)
}

/// Inserts the users to create with their extensions and numbers, and a
/// result for each; their ids.
async fn insert_creates(
    tx: &mut Tx<'_>,
    cx: &Batch<'_>,
    creates: &[(&ValidRow, Option<Extension>)],
    results: &mut Vec<NewResult>,
) -> Result<Vec<i64>, WriteError> {
    let account = cx.account.id.get();
    let main = cx
        .locations
        .get(&location_key(MAIN_LOCATION))
        .copied()
        .unwrap_or(0);
    let new_users: Vec<NewUser<'_>> = creates
        .iter()
        .map(|(v, _)| NewUser {
            display_name: &v.display_name,
            email: v.email.as_str(),
            first_name: v.first_name.as_deref(),
            last_name: v.last_name.as_deref(),
            job_title: v.job_title.as_deref(),
            department: v.department.as_deref(),
            organizational_unit: v.organizational_unit.as_deref(),
            role: v.role.unwrap_or(cx.account.default_role).as_str(),
            location_id: v
                .location
                .as_ref()
                .and_then(|location| cx.locations.get(&location.key).copied())
                .unwrap_or(main),
        })
        .collect();
    let ids: HashMap<String, i64> = tx
        .insert_users(account, cx.import.key.0, &new_users)
        .await?
        .into_iter()
        .map(|(id, email)| (email, id))
        .collect();
    let mut extension_rows = Vec::new();
    let mut number_rows = Vec::new();
    let mut users = Vec::with_capacity(creates.len());
    for (v, extension) in creates {
        let Some(&user) = ids.get(&v.email.key()) else {
            return Err(WriteError::Conflict(Some(Code::EmailTaken)));
        };
        users.push(user);
        if let Some(e) = extension {
            extension_rows.push((e.to_string(), user));
        }
        for (i, n) in v
            .primary_number
            .iter()
            .chain(&v.additional_numbers)
            .enumerate()
        {
            number_rows.push((n.digits() as i64, user, i == 0));
        }
        let after = UserState::created(user, v, *extension, cx.account.default_role);
        results.push(NewResult {
            row: v.line as i64,
            status: ResultStatus::Created,
            user_id: Some(user),
            email: Some(v.email.to_string()),
            extension: extension.map(|e| e.to_string()),
            numbers: numbers_text(v),
            errors: None,
            before_image: None,
            after_image: Some(after.to_image()),
        });
    }
    tx.insert_extensions(account, &extension_rows).await?;
    if tx.claim_numbers(account, &number_rows).await? != number_rows.len() as u64 {
        return Err(WriteError::Conflict(Some(Code::NumberAssigned)));
    }
    Ok(users)
}

/// A batch in one transaction; on a constraint hit, rolled back and
/// written again asking first, then row by row.
async fn write_batch(
    db: &Db,
    cx: &Batch<'_>,
    rows: &[RowInput],
    extensions: &mut VecDeque<Extension>,
) -> Result<BatchCounts, Error> {
    // A batch rolled back gives its extensions back.
    let claimed = extensions.clone();
    for checks in [Checks::Trust, Checks::Ask] {
        // On SQLite the write lock is taken up front: the checks then see
        // what the writes will meet.
        let mut tx = db.begin_writing().await.context("starting a batch")?;
        match write_rows(&mut tx, cx, rows, extensions, checks).await {
            Ok(counts) => {
                tx.commit().await.context("committing a batch")?;
                return Ok(counts);
            }
            Err(WriteError::Db(e)) => {
                return Err(Error::Query {
                    what: "writing a batch",
                    source: e,
                });
            }
            Err(WriteError::Conflict(_)) => {
                tx.rollback().await.context("rolling back a batch")?;
                extensions.clone_from(&claimed);
            }
        }
    }
    let mut tx = db.begin_writing().await.context("starting a batch")?;
    let counts = write_one_by_one(&mut tx, cx, rows, extensions).await?;
    tx.commit().await.context("committing a batch")?;
    Ok(counts)
}

/// The slow path: each row in its own savepoint. A row that conflicts is
/// tried once more (its checks then see what it conflicted with and fail
/// it with the right code); a second conflict fails it as such.
async fn write_one_by_one(
    tx: &mut Tx<'_>,
    cx: &Batch<'_>,
    rows: &[RowInput],
    extensions: &mut VecDeque<Extension>,
) -> Result<BatchCounts, Error> {
    let mut total = BatchCounts::default();
    for row in rows {
        let counts = match write_in_savepoint(tx, cx, row, extensions).await? {
            Ok(counts) => counts,
            Err(taken) => {
                let failed = taken_meanwhile(row, taken);
                let written = write_rows(
                    tx,
                    cx,
                    std::slice::from_ref(&failed),
                    extensions,
                    Checks::Ask,
                );
                match written.await {
                    Ok(counts) => counts,
                    Err(WriteError::Conflict(_)) => BatchCounts::default(),
                    Err(WriteError::Db(e)) => {
                        return Err(Error::Query {
                            what: "writing a row",
                            source: e,
                        });
                    }
                }
            }
        };
        total.created += counts.created;
        total.updated += counts.updated;
        total.unchanged += counts.unchanged;
        total.failed += counts.failed;
        total.skipped += counts.skipped;
        total.deliveries += counts.deliveries;
    }
    Ok(total)
}

/// Writes one row in a savepoint, twice at most; what the second conflict
/// said was taken, when both conflicted.
async fn write_in_savepoint(
    tx: &mut Tx<'_>,
    cx: &Batch<'_>,
    row: &RowInput,
    extensions: &mut VecDeque<Extension>,
) -> Result<Result<BatchCounts, Option<Code>>, Error> {
    let mut taken = None;
    for _attempt in 0..2 {
        let mut savepoint = tx.savepoint().await.context("starting a savepoint")?;
        let claimed = extensions.clone();
        let written = write_rows(
            &mut savepoint,
            cx,
            std::slice::from_ref(row),
            extensions,
            Checks::Ask,
        );
        match written.await {
            Ok(counts) => {
                savepoint.commit().await.context("releasing a savepoint")?;
                return Ok(Ok(counts));
            }
            Err(WriteError::Conflict(code)) => {
                taken = code;
                *extensions = claimed;
                savepoint
                    .rollback()
                    .await
                    .context("rolling back a savepoint")?
            }
            Err(WriteError::Db(e)) => {
                return Err(Error::Query {
                    what: "writing a row",
                    source: e,
                });
            }
        }
    }
    Ok(Err(taken))
}

/// The row failed: another writer holds what it needs (`taken`, when the
/// constraint said), twice over.
fn taken_meanwhile(row: &RowInput, taken: Option<Code>) -> RowInput {
    let (line, email) = match row {
        RowInput::Valid(v) => (v.line, Some(v.email.to_string())),
        RowInput::Invalid { line, email, .. } => (*line, email.clone()),
    };
    let code = taken.unwrap_or(Code::EmailTaken);
    let (column, what) = match code {
        Code::ExtensionTaken => (Column::Extension, "extension"),
        Code::NumberAssigned => (Column::PrimaryPhone, "number"),
        _ => (Column::Email, "email address"),
    };
    let error = RowError {
        row: line,
        column: Some(column),
        code,
        message: format!(
            "another change to the account took this row's {what} while it was being \
             written; import the failed rows again"
        ),
    };
    RowInput::Invalid {
        line,
        email,
        errors: vec![error],
    }
}

fn line(row: &RowInput) -> u64 {
    match row {
        RowInput::Valid(v) => v.line,
        RowInput::Invalid { line, .. } => *line,
    }
}

fn numbers_text(v: &ValidRow) -> Option<String> {
    let numbers: Vec<String> = v
        .primary_number
        .iter()
        .chain(&v.additional_numbers)
        .map(E164::to_string)
        .collect();
    (!numbers.is_empty()).then(|| numbers.join(";"))
}

fn no_free_extension(line: u64, account: &Account) -> RowError {
    RowError {
        row: line,
        column: Some(Column::Extension),
        code: Code::InvalidExtension,
        message: format!(
            "no free extension is left from {} up to {} digits under the account's policy; \
             give one in the Extension column",
            account.extension_first, account.extensions.max_digits
        ),
    }
}

/// A row's errors as a result stores them.
#[derive(Serialize)]
struct StoredError<'a> {
    code: &'static str,
    column: Option<&'static str>,
    message: &'a str,
}

/// A new user's row, when the plan said it creates one: an address taken
/// now was taken since the plan.
fn since_plan(errors: &mut [RowError]) {
    for e in errors.iter_mut().filter(|e| e.code == Code::EmailTaken) {
        e.code = Code::ChangedSincePlan;
        e.message = "a user with this address was created since the plan; validate the file \
                     again to see the plan as the account is now, and import it again"
            .to_string();
    }
}

pub(crate) fn failure(line: u64, email: Option<String>, errors: &[RowError]) -> NewResult {
    let stored: Vec<StoredError<'_>> = errors
        .iter()
        .map(|e| StoredError {
            code: e.code.as_str(),
            column: e.column.map(Column::header),
            message: &e.message,
        })
        .collect();
    NewResult {
        row: line as i64,
        status: ResultStatus::Failed,
        user_id: None,
        email,
        extension: None,
        numbers: None,
        errors: Some(serde_json::to_string(&stored).unwrap_or_else(|_| "[]".to_string())),
        before_image: None,
        after_image: None,
    }
}

impl Answers {
    /// The answers as the validator's facts.
    pub(crate) fn into_facts(self) -> Facts {
        let mut facts = Facts {
            taken_emails: self.taken_emails.into_iter().collect(),
            unknown_locations: self.unknown_locations.into_iter().collect(),
            ..Facts::default()
        };
        for (digits, assigned) in self.bad_numbers {
            let Some(number) = u64::try_from(digits)
                .ok()
                .and_then(|d| E164::from_digits(d).ok())
            else {
                continue;
            };
            if assigned {
                facts.assigned_numbers.insert(number);
            } else {
                facts.unowned_numbers.insert(number);
            }
        }
        // Extensions in the table were valid under some policy; read them
        // back under the widest one.
        let any_length = ExtensionPolicy {
            min_digits: 1,
            max_digits: ExtensionPolicy::MAX_DIGITS,
        };
        facts.taken_extensions = self
            .taken_extensions
            .iter()
            .filter_map(|e| Extension::parse(e, any_length).ok())
            .collect();
        facts
    }
}
