//! Applying a plan's updates: the rows of an import that the plan says
//! update a user or leave one unchanged, written inside their batch's
//! transaction beside the rows that create users.
//!
//! A row is applied only to a user who is still as the plan saw them;
//! one who changed since fails alone (`changed_since_plan`, with what
//! changed). The numbers and extensions the batch's users give up are
//! given back first ([`release`]), so that the batch's other rows, new
//! users included, can take them; then the users' fields are written and
//! what they take is assigned ([`assign`]).

use std::collections::{HashMap, HashSet};

use roster_template::Column;
use roster_validate::{
    Action, Code, E164, Extension, MAIN_LOCATION, RowError, UserState, ValidRow, changes,
    location_key,
};

use crate::bulk::{Bulk, NewResult, UserUpdate, UsersBy};
use crate::db::Tx;
use crate::import::state::ResultStatus;
use crate::plan::user_states;
use crate::users::{Batch, Checks, WriteError, failure};

/// A row the plan applies to an existing user, and what it makes of them.
pub(crate) struct Update<'r> {
    pub(crate) row: &'r ValidRow,
    pub(crate) before: UserState,
    pub(crate) after: UserState,
}

/// The batch's updates, their users' old keys given back.
#[derive(Default)]
pub(crate) struct Released<'r> {
    /// Rows whose user changes.
    pub(crate) updates: Vec<Update<'r>>,
    /// The results of rows that change nothing, or failed.
    pub(crate) results: Vec<NewResult>,
    pub(crate) unchanged: u64,
    pub(crate) failed: u64,
}

/// Decides each planned row against its user as they are now, and gives
/// back what the changing users no longer have. When `checks` asks, what
/// they take is checked first (free now, or given up in this batch), and
/// a row that cannot have it fails alone.
pub(crate) async fn release<'r>(
    tx: &mut Tx<'_>,
    cx: &Batch<'_>,
    planned: &[(&'r ValidRow, &UserState)],
    checks: Checks,
) -> Result<Released<'r>, WriteError> {
    let mut out = Released::default();
    if planned.is_empty() {
        return Ok(out);
    }
    let ids: Vec<i64> = planned.iter().map(|(_, before)| before.id).collect();
    let now: HashMap<i64, UserState> = user_states(tx, UsersBy::Ids(&ids))
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let mut updates = Vec::new();
    for (row, before) in planned {
        let Some(current) = now.get(&before.id) else {
            let error = changed(row.line, "the user is gone".to_string());
            out.results
                .push(failure(row.line, Some(row.email.to_string()), &[error]));
            out.failed += 1;
            continue;
        };
        let differences = changes(before, current);
        if !differences.is_empty() {
            let what: Vec<String> = differences
                .iter()
                .map(|c| {
                    format!(
                        "{} was '{}' then, is '{}' now",
                        c.column.header(),
                        c.from,
                        c.to
                    )
                })
                .collect();
            let error = changed(row.line, what.join("; "));
            out.results
                .push(failure(row.line, Some(row.email.to_string()), &[error]));
            out.failed += 1;
            continue;
        }
        let after = current.edited(row, cx.account.default_role);
        if changes(current, &after).is_empty() {
            out.results
                .push(result(row, None, &after, ResultStatus::Unchanged));
            out.unchanged += 1;
            continue;
        }
        updates.push(Update {
            row,
            before: current.clone(),
            after,
        });
    }
    match checks {
        Checks::Ask => updates = refuse_taken(tx, cx, updates, &mut out).await?,
        // A location is not a constraint the writes meet: the account's
        // locations as this import loaded them decide.
        Checks::Trust => {
            if updates
                .iter()
                .any(|u| !cx.locations.contains_key(&u.after.location.key))
            {
                return Err(WriteError::Conflict(None));
            }
        }
    }
    let mut extensions = Vec::new();
    let mut numbers = Vec::new();
    for update in &updates {
        let id = update.before.id;
        for e in gone(&update.before.extensions, &update.after.extensions) {
            extensions.push((e.to_string(), id));
        }
        for (n, _) in gone(&held(&update.before), &held(&update.after)) {
            numbers.push((n.digits() as i64, id));
        }
    }
    let account = cx.account.id.get();
    if tx.release_extensions(account, &extensions).await? != extensions.len() as u64
        || tx.release_numbers(account, &numbers).await? != numbers.len() as u64
    {
        // The users were read as the plan saw them in this transaction: a
        // key they no longer have was taken from them by another writer.
        return Err(WriteError::Conflict(None));
    }
    out.updates = updates;
    Ok(out)
}

/// Writes the changing users' fields and gives them what they take; a
/// result for each.
pub(crate) async fn assign(
    tx: &mut Tx<'_>,
    cx: &Batch<'_>,
    updates: &[Update<'_>],
    results: &mut Vec<NewResult>,
) -> Result<(), WriteError> {
    if updates.is_empty() {
        return Ok(());
    }
    let main = cx
        .locations
        .get(&location_key(MAIN_LOCATION))
        .copied()
        .unwrap_or(0);
    let rows: Vec<UserUpdate<'_>> = updates
        .iter()
        .map(|u| UserUpdate {
            id: u.after.id,
            display_name: &u.after.display_name,
            first_name: u.after.first_name.as_deref(),
            last_name: u.after.last_name.as_deref(),
            job_title: u.after.job_title.as_deref(),
            department: u.after.department.as_deref(),
            organizational_unit: u.after.organizational_unit.as_deref(),
            role: u.after.role.as_str(),
            location_id: cx
                .locations
                .get(&u.after.location.key)
                .copied()
                .unwrap_or(main),
        })
        .collect();
    tx.update_users(&rows).await?;
    let mut extensions = Vec::new();
    let mut numbers = Vec::new();
    for update in updates {
        let id = update.after.id;
        for e in gone(&update.after.extensions, &update.before.extensions) {
            extensions.push((e.to_string(), id));
        }
        for (n, primary) in gone(&held(&update.after), &held(&update.before)) {
            numbers.push((n.digits() as i64, id, primary));
        }
        results.push(result(
            update.row,
            Some(&update.before),
            &update.after,
            ResultStatus::Updated,
        ));
    }
    let account = cx.account.id.get();
    tx.insert_extensions(account, &extensions).await?;
    if tx.claim_numbers(account, &numbers).await? != numbers.len() as u64 {
        return Err(WriteError::Conflict(Some(Code::NumberAssigned)));
    }
    Ok(())
}

/// The updates whose new numbers and extensions are free now or given up
/// in this batch; the others fail, with the rules' codes.
async fn refuse_taken<'r>(
    tx: &mut Tx<'_>,
    cx: &Batch<'_>,
    updates: Vec<Update<'r>>,
    out: &mut Released<'r>,
) -> Result<Vec<Update<'r>>, WriteError> {
    let mut given_up: HashSet<String> = HashSet::new();
    let mut wanted_numbers = Vec::new();
    let mut wanted_extensions = Vec::new();
    for u in &updates {
        for e in gone(&u.before.extensions, &u.after.extensions) {
            given_up.insert(e.to_string());
        }
        for (n, _) in gone(&held(&u.before), &held(&u.after)) {
            given_up.insert(n.to_string());
        }
        wanted_extensions.extend(
            gone(&u.after.extensions, &u.before.extensions)
                .into_iter()
                .map(|e| e.to_string()),
        );
        wanted_numbers.extend(
            gone(
                &u.after.numbers().collect::<Vec<_>>(),
                &u.before.numbers().collect::<Vec<_>>(),
            )
            .into_iter()
            .map(|n| n.digits() as i64),
        );
    }
    let locations: Vec<&str> = updates
        .iter()
        .map(|u| u.after.location.key.as_str())
        .collect();
    let answers = tx
        .look_up(
            cx.account.id.get(),
            &[],
            &wanted_numbers,
            &wanted_extensions,
            &locations,
        )
        .await?;
    let bad_numbers: HashMap<i64, bool> = answers.bad_numbers.into_iter().collect();
    let taken: HashSet<String> = answers.taken_extensions.into_iter().collect();
    let unknown: HashSet<String> = answers.unknown_locations.into_iter().collect();
    let mut kept = Vec::new();
    for u in updates {
        let line = u.row.line;
        let mut errors = Vec::new();
        for n in gone(
            &u.after.numbers().collect::<Vec<_>>(),
            &u.before.numbers().collect::<Vec<_>>(),
        ) {
            let column = if u.after.primary == Some(n) {
                Column::PrimaryPhone
            } else {
                Column::AdditionalPhones
            };
            match bad_numbers.get(&(n.digits() as i64)) {
                Some(true) if !given_up.contains(&n.to_string()) => errors.push(taken_now(
                    line,
                    column,
                    Code::NumberAssigned,
                    format!("{n} was assigned to another user since the plan"),
                )),
                Some(false) => errors.push(taken_now(
                    line,
                    column,
                    Code::NumberNotParked,
                    format!("{n} is no longer the account's"),
                )),
                _ => {}
            }
        }
        for e in gone(&u.after.extensions, &u.before.extensions) {
            if taken.contains(&e.to_string()) && !given_up.contains(&e.to_string()) {
                errors.push(taken_now(
                    line,
                    Column::Extension,
                    Code::ExtensionTaken,
                    format!("{e} was given to another user since the plan"),
                ));
            }
        }
        if unknown.contains(&u.after.location.key) {
            errors.push(taken_now(
                line,
                Column::VoiceLocation,
                Code::UnknownLocation,
                format!(
                    "{} is no longer a location of the account",
                    u.after.location.name
                ),
            ));
        }
        if errors.is_empty() {
            kept.push(u);
        } else {
            out.results
                .push(failure(line, Some(u.row.email.to_string()), &errors));
            out.failed += 1;
        }
    }
    Ok(kept)
}

fn taken_now(line: u64, column: Column, code: Code, what: String) -> RowError {
    RowError {
        row: line,
        column: Some(column),
        code,
        message: format!("{what}; plan the row again"),
    }
}

/// The row's user changed since the plan.
fn changed(line: u64, what: String) -> RowError {
    RowError {
        row: line,
        column: None,
        code: Code::ChangedSincePlan,
        message: format!(
            "the user changed since the plan ({what}); validate the file again to see the plan \
             as the account is now, and import it again"
        ),
    }
}

/// A user's numbers with whether each is the primary one.
pub(crate) fn held(user: &UserState) -> Vec<(E164, bool)> {
    user.primary
        .iter()
        .map(|n| (*n, true))
        .chain(user.additional.iter().map(|n| (*n, false)))
        .collect()
}

/// What `from` has that `to` has not.
pub(crate) fn gone<T: PartialEq + Copy>(from: &[T], to: &[T]) -> Vec<T> {
    from.iter().filter(|x| !to.contains(x)).copied().collect()
}

/// The result of a row applied to `user`; an update keeps the user as it
/// found them and as it left them, to be undone.
fn result(
    row: &ValidRow,
    before: Option<&UserState>,
    user: &UserState,
    status: ResultStatus,
) -> NewResult {
    let numbers: Vec<String> = user.numbers().map(|n| n.to_string()).collect();
    let extensions: Vec<String> = user.extensions.iter().map(Extension::to_string).collect();
    NewResult {
        row: row.line as i64,
        status,
        user_id: Some(user.id),
        email: Some(row.email.to_string()),
        extension: (!extensions.is_empty()).then(|| extensions.join(";")),
        numbers: (!numbers.is_empty()).then(|| numbers.join(";")),
        errors: None,
        before_image: before.map(UserState::to_image),
        after_image: before.map(|_| user.to_image()),
    }
}

/// What the plan says a row does, when it applies to an existing user.
pub(crate) fn updates_user(action: Action) -> bool {
    action != Action::Create
}
