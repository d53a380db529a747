//! `Planner`: the plan of a file whose rows may update users, made batch by
//! batch as validation reads it, and finished once every row is read.
//!
//! The account's rules are checked against the account as the file leaves
//! it, not row by row: a number or extension another user has may be taken
//! when a row of the same file gives it up, wherever that row is. So a claim
//! on what another user has waits (`Pending`) until the end, when every row
//! has said what it gives up; a claim nothing gives up is then an error
//! naming the user who has it, and a claim some row gives up links the two
//! rows, which an import applies together.

use std::collections::{HashMap, HashSet};
use std::io;

use roster_template::Column;

use crate::check::{Claims, Errors, additional_without_primary, quote, required_name};
use crate::report::Found;
use crate::scratch::{Scratch, SpillBuffer, Spilled};
use crate::{
    Action, Code, E164, Error, Extension, Facts, Findings, Holder, Mode, PlanCounts, PlannedRow,
    Role, RowError, UserState, ValidRow, changes,
};

/// The scratch area of the planned rows.
pub(crate) const PLAN_AREA: usize = 1;
/// Bytes of planned rows kept in memory before they go to the scratch.
const PLAN_BUDGET: usize = 4 * 1024 * 1024;

/// A number or an extension: what one user at a time may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Number(E164),
    Extension(Extension),
}

/// A row's claim on what another user has now.
struct Pending {
    line: u64,
    column: Column,
    key: Key,
    holder: String,
}

/// The plan of a file, as it is made.
pub(crate) struct Planner {
    mode: Mode,
    default_role: Role,
    /// The rows planned so far, in file order.
    planned: SpillBuffer,
    pending: Vec<Pending>,
    /// What rows give up, and the row that does.
    released: HashMap<Key, u64>,
    /// Rows that take what another row gives up, and those rows.
    linked: HashSet<u64>,
}

impl Planner {
    pub(crate) fn new(mode: Mode, default_role: Role) -> Planner {
        Planner {
            mode,
            default_role,
            planned: SpillBuffer::new(PLAN_AREA, PLAN_BUDGET),
            pending: Vec::new(),
            released: HashMap::new(),
            linked: HashSet::new(),
        }
    }

    /// Plans one row: `valid` is the row parsed, `None` when it has errors
    /// of its own (only what the account says of its keys is added then).
    /// Its errors go to `errors`. The row's user is taken out of `facts`;
    /// `planned_here` keeps the addresses of the batch planned so far.
    pub(crate) fn plan_row(
        &mut self,
        claims: &Claims<'_>,
        valid: Option<&ValidRow>,
        facts: &mut Facts,
        planned_here: &mut HashSet<String>,
        errors: &mut Vec<RowError>,
        scratch: &mut dyn Scratch,
    ) -> io::Result<()> {
        let line = claims.line;
        let before_errors = errors.len();
        let mut out = Errors::new(line, errors);
        let Some(row) = valid else {
            // Its own errors stop the plan; what the account says of its
            // keys is still worth knowing.
            for (n, column) in claims.numbers() {
                not_parked(facts, n, column, &mut out);
            }
            unknown_location(claims, facts, &mut out);
            return Ok(());
        };
        // Each user is planned once (an address repeated in the file is an
        // error): the batch's facts give the user up to the plan.
        let key = row.email.key();
        let owned = facts.users.remove(&key);
        if owned.is_none() && planned_here.contains(&key) {
            // The address is an earlier row's of this batch: a duplicate,
            // which that rule reports; there is no second plan of the user.
            return Ok(());
        }
        planned_here.insert(key);
        let facts = &*facts;
        let before = owned.as_ref();
        let after = match before {
            Some(before) => before.edited(row, self.default_role),
            None if self.mode == Mode::Update => {
                let message = format!(
                    "{} is not the address of a user of this account; update mode changes \
                     existing users only: fix the address, or import the row in upsert mode \
                     to create the user",
                    row.email
                );
                out.push(Some(Column::Email), Code::UnknownUser, message);
                return Ok(());
            }
            None => {
                if row.display_name.is_empty() {
                    out.push(Some(Column::DisplayName), Code::Required, required_name());
                }
                new_user(row, self.default_role)
            }
        };
        if !after.additional.is_empty() && after.primary.is_none() {
            out.push(
                Some(Column::AdditionalPhones),
                Code::AdditionalWithoutPrimary,
                additional_without_primary(),
            );
        }
        let had = |key: Key| match (before, key) {
            (Some(b), Key::Number(n)) => b.numbers().any(|m| m == n),
            (Some(b), Key::Extension(e)) => b.extensions.contains(&e),
            (None, _) => false,
        };
        for n in after.numbers() {
            if had(Key::Number(n)) || not_parked(facts, n, column_of(&after, n), &mut out) {
                continue;
            }
            let holder = facts.number_holders.get(&n);
            if holder.is_none() && facts.assigned_numbers.contains(&n) {
                let message = format!(
                    "{n} is already assigned to another user; use a number that is parked on the account"
                );
                out.push(Some(column_of(&after, n)), Code::NumberAssigned, message);
            }
            self.wait(line, column_of(&after, n), Key::Number(n), holder);
        }
        for &e in &after.extensions {
            if had(Key::Extension(e)) {
                continue;
            }
            let holder = facts.extension_holders.get(&e);
            if holder.is_none() && facts.taken_extensions.contains(&e) {
                let message = format!(
                    "{e} is already used by another user of this account; pick a free \
                     extension or leave the cell empty"
                );
                out.push(Some(Column::Extension), Code::ExtensionTaken, message);
            }
            self.wait(line, Column::Extension, Key::Extension(e), holder);
        }
        unknown_location(claims, facts, &mut out);
        if let Some(before) = before {
            for n in before
                .numbers()
                .filter(|n| !after.numbers().any(|m| m == *n))
            {
                self.released.insert(Key::Number(n), line);
            }
            for e in before
                .extensions
                .iter()
                .filter(|e| !after.extensions.contains(e))
            {
                self.released.insert(Key::Extension(*e), line);
            }
        }
        if errors.len() > before_errors {
            return Ok(());
        }
        let (action, changes) = match before {
            None => (Action::Create, Vec::new()),
            Some(before) => match changes(before, &after) {
                changes if changes.is_empty() => (Action::Unchanged, changes),
                changes => (Action::Update, changes),
            },
        };
        let planned = PlannedRow {
            row: line,
            email: row.email.to_string(),
            action,
            changes,
            before: owned,
            linked: false,
        };
        self.planned.push(&planned, scratch)
    }

    /// A claim on what `holder` has: decided once the file is read.
    fn wait(&mut self, line: u64, column: Column, key: Key, holder: Option<&Holder>) {
        if let Some(holder) = holder {
            self.pending.push(Pending {
                line,
                column,
                key,
                holder: holder.email.clone(),
            });
        }
    }

    /// Every row is planned: the claims on what other users have that no
    /// row gives up, as errors in file order (the rows that take what
    /// another gives up are linked).
    pub(crate) fn unreleased(&mut self) -> Vec<Found> {
        let mut found = Vec::new();
        for pending in std::mem::take(&mut self.pending) {
            if let Some(&giver) = self.released.get(&pending.key) {
                self.linked.insert(pending.line);
                self.linked.insert(giver);
                continue;
            }
            let (code, message) = match pending.key {
                Key::Number(n) => (
                    Code::NumberAssigned,
                    format!(
                        "{n} is assigned to {}, and no row of this file gives it up; use a \
                         number parked on the account, or give that user another number in \
                         this file",
                        pending.holder
                    ),
                ),
                Key::Extension(e) => (
                    Code::ExtensionTaken,
                    format!(
                        "{e} is used by {}, and no row of this file gives it up; pick a free \
                         extension, or give that user another one in this file",
                        pending.holder
                    ),
                ),
            };
            found.push(Found::account(RowError {
                row: pending.line,
                column: Some(pending.column),
                code,
                message,
            }));
        }
        self.released = HashMap::new();
        found.sort_by_key(Found::order);
        found
    }

    /// Hands the plan of every row without errors to `findings`, in file
    /// order; `failed` holds the rows with errors, ascending. The counts.
    pub(crate) fn deliver(
        &mut self,
        failed: &[u64],
        scratch: &mut dyn Scratch,
        findings: &mut dyn Findings,
    ) -> Result<PlanCounts, Error> {
        let mut counts = PlanCounts::default();
        let mut read = self.planned.drain(scratch).map_err(Error::Scratch)?;
        let mut failed = failed.iter().peekable();
        while let Some(mut planned) = PlannedRow::read(read.as_mut()).map_err(Error::Scratch)? {
            while failed.next_if(|f| **f < planned.row).is_some() {}
            if failed.peek() == Some(&&planned.row) {
                continue;
            }
            planned.linked = self.linked.contains(&planned.row);
            counts.add(planned.action);
            findings.planned(planned)?;
        }
        Ok(counts)
    }
}

/// The user a new row makes, as the plan checks it.
fn new_user(row: &ValidRow, default_role: Role) -> UserState {
    let mut additional = row.additional_numbers.clone();
    additional.sort_unstable();
    UserState {
        id: 0,
        email: row.email.to_string(),
        display_name: row.display_name.clone(),
        first_name: row.first_name.clone(),
        last_name: row.last_name.clone(),
        job_title: row.job_title.clone(),
        department: row.department.clone(),
        organizational_unit: row.organizational_unit.clone(),
        role: row.role.unwrap_or(default_role),
        location: row
            .location
            .clone()
            .unwrap_or_else(crate::plan::main_location),
        extensions: row.extension.into_iter().collect(),
        primary: row.primary_number,
        additional,
    }
}

/// The column that lists `n` for `user`.
fn column_of(user: &UserState, n: E164) -> Column {
    if user.primary == Some(n) {
        Column::PrimaryPhone
    } else {
        Column::AdditionalPhones
    }
}

/// Adds `number_not_parked` when the account does not own `n`; true then.
fn not_parked(facts: &Facts, n: E164, column: Column, out: &mut Errors<'_>) -> bool {
    if !facts.unowned_numbers.contains(&n) {
        return false;
    }
    let message = format!(
        "{n} is not parked on this account; park the number on the account first, \
         or leave the cell empty"
    );
    out.push(Some(column), Code::NumberNotParked, message);
    true
}

fn unknown_location(claims: &Claims<'_>, facts: &Facts, out: &mut Errors<'_>) {
    if let Some(location) = &claims.location
        && facts.unknown_locations.contains(&location.key)
    {
        let message = format!(
            "{} is not a location of this account; create the location first, or leave \
             the cell empty to keep the user's (Main Company Address for a new user)",
            quote(&location.name)
        );
        out.push(Some(Column::VoiceLocation), Code::UnknownLocation, message);
    }
}
