//! The plan of a file that may update users: for every row, what it does
//! to the account — a new user, an update with each field it changes, or
//! nothing — worked out before anything is written, and applied as shown.
//!
//! A row is matched to a user by its email. [`UserState`] is the user as
//! the account holds it; [`UserState::edited`] is what the row makes of
//! them, under the update rules: an absent column or an empty cell keeps a
//! field, [`CLEAR_MARKER`] clears an optional one, numbers and extensions
//! the user no longer has go back to the account. [`changes`] lists what
//! differs, as the report shows it.

use std::io::{self, Read};

use roster_template::Column;

use crate::scratch::{Spilled, read_array};
use crate::{E164, Extension, Location, MAIN_LOCATION, Role, ValidRow};

/// A cell that clears an optional field of an existing user (for a new
/// user it is an empty cell). Matched trimmed, in any case.
pub const CLEAR_MARKER: &str = "#clear";

/// True when `cell` is [`CLEAR_MARKER`].
pub fn is_clear_marker(cell: &str) -> bool {
    cell.trim().eq_ignore_ascii_case(CLEAR_MARKER)
}

/// A user as the account holds them: every field a row may change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserState {
    /// The user's id in the store.
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub organizational_unit: Option<String>,
    pub role: Role,
    /// The location's name as the account spells it, and its key.
    pub location: Location,
    /// Ascending.
    pub extensions: Vec<Extension>,
    pub primary: Option<E164>,
    /// Ascending.
    pub additional: Vec<E164>,
}

/// The columns of a row that hold [`CLEAR_MARKER`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cleared(u16);

impl Cleared {
    pub fn insert(&mut self, column: Column) {
        self.0 |= 1 << column.index();
    }

    pub fn contains(self, column: Column) -> bool {
        self.0 & (1 << column.index()) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// One field a row changes: its column, as it is and as it will be, as
/// the report shows them (numbers in E.164, lists separated by `;`, an
/// empty text for none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub column: Column,
    pub from: String,
    pub to: String,
}

/// What a row does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Create,
    Update,
    Unchanged,
}

impl Action {
    pub const ALL: [Action; 3] = [Action::Create, Action::Update, Action::Unchanged];

    /// As the report spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Unchanged => "unchanged",
        }
    }
}

/// The plan of one row without errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRow {
    /// The line of the file where the row starts.
    pub row: u64,
    pub email: String,
    pub action: Action,
    /// What an update changes, in column order.
    pub changes: Vec<Change>,
    /// The user as the plan saw them (updates and unchanged rows): an
    /// import applies the row only to a user who still is so.
    pub before: Option<UserState>,
    /// The row takes a number or extension another row of the file gives
    /// up (or gives one up that another row takes): an import applies such
    /// rows together, in one transaction, before the others.
    pub linked: bool,
}

/// How many rows of a plan do what.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanCounts {
    pub create: u64,
    pub update: u64,
    pub unchanged: u64,
}

impl PlanCounts {
    pub(crate) fn add(&mut self, action: Action) {
        match action {
            Action::Create => self.create += 1,
            Action::Update => self.update += 1,
            Action::Unchanged => self.unchanged += 1,
        }
    }
}

impl UserState {
    /// The user as `row` leaves them. A cleared role becomes
    /// `default_role`, a cleared location Main Company Address. Whether the
    /// result is a valid user (a primary number under additional ones) is
    /// for the caller to check.
    pub fn edited(&self, row: &ValidRow, default_role: Role) -> UserState {
        let cleared = row.cleared;
        let text = |column: Column, cell: &Option<String>, was: &Option<String>| {
            if cleared.contains(column) {
                None
            } else {
                cell.clone().or_else(|| was.clone())
            }
        };
        let primary = if cleared.contains(Column::PrimaryPhone) {
            None
        } else {
            row.primary_number.or(self.primary)
        };
        let mut additional = if cleared.contains(Column::AdditionalPhones) {
            Vec::new()
        } else if row.additional_numbers.is_empty() {
            // Kept, less a number the row makes the primary one.
            self.additional
                .iter()
                .copied()
                .filter(|n| Some(*n) != primary)
                .collect()
        } else {
            row.additional_numbers.clone()
        };
        additional.sort_unstable();
        UserState {
            id: self.id,
            email: self.email.clone(),
            display_name: if row.display_name.is_empty() {
                self.display_name.clone()
            } else {
                row.display_name.clone()
            },
            first_name: text(Column::FirstName, &row.first_name, &self.first_name),
            last_name: text(Column::LastName, &row.last_name, &self.last_name),
            job_title: text(Column::JobTitle, &row.job_title, &self.job_title),
            department: text(Column::Department, &row.department, &self.department),
            organizational_unit: text(
                Column::OrganizationalUnit,
                &row.organizational_unit,
                &self.organizational_unit,
            ),
            role: if cleared.contains(Column::Role) {
                default_role
            } else {
                row.role.unwrap_or(self.role)
            },
            location: if cleared.contains(Column::VoiceLocation) {
                main_location()
            } else {
                match &row.location {
                    Some(l) if l.key != self.location.key => l.clone(),
                    _ => self.location.clone(),
                }
            },
            extensions: match row.extension {
                Some(e) => vec![e],
                None => self.extensions.clone(),
            },
            primary,
            additional,
        }
    }

    /// The user `row` creates, with the id the store gave them and the
    /// extension they were given (a row may leave it to roster): what an
    /// import keeps of a new user, to undo the row.
    pub fn created(
        id: i64,
        row: &ValidRow,
        extension: Option<Extension>,
        default_role: Role,
    ) -> UserState {
        let mut additional = row.additional_numbers.clone();
        additional.sort_unstable();
        UserState {
            id,
            email: row.email.to_string(),
            display_name: row.display_name.clone(),
            first_name: row.first_name.clone(),
            last_name: row.last_name.clone(),
            job_title: row.job_title.clone(),
            department: row.department.clone(),
            organizational_unit: row.organizational_unit.clone(),
            role: row.role.unwrap_or(default_role),
            location: row.location.clone().unwrap_or_else(main_location),
            extensions: extension.into_iter().collect(),
            primary: row.primary_number,
            additional,
        }
    }

    /// The state as an import keeps it with a row's result, to undo the
    /// row: compact (lengths and numbers as varints, extensions as their
    /// digits), without the id and email the result holds beside it.
    /// [`UserState::from_image`] reads it back.
    pub fn to_image(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        image_text(&mut out, &self.display_name);
        let texts = [
            &self.first_name,
            &self.last_name,
            &self.job_title,
            &self.department,
            &self.organizational_unit,
        ];
        let present = texts
            .iter()
            .enumerate()
            .fold(0u8, |bits, (i, t)| bits | (u8::from(t.is_some()) << i));
        out.push(present);
        for text in texts.into_iter().flatten() {
            image_text(&mut out, text);
        }
        out.push(Role::ALL.iter().position(|r| *r == self.role).unwrap_or(0) as u8);
        image_text(&mut out, &self.location.name);
        varint(&mut out, self.extensions.len() as u64);
        for e in &self.extensions {
            image_text(&mut out, &e.to_string());
        }
        varint(&mut out, self.primary.map_or(0, E164::digits));
        varint(&mut out, self.additional.len() as u64);
        for n in &self.additional {
            varint(&mut out, n.digits());
        }
        out
    }

    /// The user of id `id` and address `email` that [`UserState::to_image`]
    /// wrote; `None` for bytes it did not write.
    pub fn from_image(bytes: &[u8], id: i64, email: &str) -> Option<UserState> {
        let mut input = bytes;
        let display_name = read_image_text(&mut input)?;
        let present = take(&mut input, 1)?[0];
        let mut texts: [Option<String>; 5] = Default::default();
        for (i, text) in texts.iter_mut().enumerate() {
            if present & (1 << i) != 0 {
                *text = Some(read_image_text(&mut input)?);
            }
        }
        let [
            first_name,
            last_name,
            job_title,
            department,
            organizational_unit,
        ] = texts;
        let role = *Role::ALL.get(usize::from(take(&mut input, 1)?[0]))?;
        let location = Location::parse(&read_image_text(&mut input)?).unwrap_or_else(main_location);
        let any_length = crate::ExtensionPolicy {
            min_digits: 1,
            max_digits: crate::ExtensionPolicy::MAX_DIGITS,
        };
        let mut extensions = Vec::new();
        for _ in 0..read_varint(&mut input)? {
            extensions.push(Extension::parse(&read_image_text(&mut input)?, any_length).ok()?);
        }
        let primary = match read_varint(&mut input)? {
            0 => None,
            digits => Some(E164::from_digits(digits).ok()?),
        };
        let mut additional = Vec::new();
        for _ in 0..read_varint(&mut input)? {
            additional.push(E164::from_digits(read_varint(&mut input)?).ok()?);
        }
        input.is_empty().then(|| UserState {
            id,
            email: email.to_string(),
            display_name,
            first_name,
            last_name,
            job_title,
            department,
            organizational_unit,
            role,
            location,
            extensions,
            primary,
            additional,
        })
    }

    /// Every number the user has, primary first.
    pub fn numbers(&self) -> impl Iterator<Item = E164> + '_ {
        self.primary.iter().chain(&self.additional).copied()
    }

    /// The state as bytes, which [`UserState::read_from`] reads back: for
    /// a plan kept until its import runs.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.id.to_le_bytes());
        write_text(out, &self.email);
        write_text(out, &self.display_name);
        for text in [
            &self.first_name,
            &self.last_name,
            &self.job_title,
            &self.department,
            &self.organizational_unit,
        ] {
            match text {
                Some(t) => {
                    out.push(1);
                    write_text(out, t);
                }
                None => out.push(0),
            }
        }
        out.push(Role::ALL.iter().position(|r| *r == self.role).unwrap_or(0) as u8);
        write_text(out, &self.location.name);
        out.push(self.extensions.len() as u8);
        for e in &self.extensions {
            out.extend_from_slice(&e.packed().to_le_bytes());
        }
        out.extend_from_slice(&self.primary.map_or(0, E164::digits).to_le_bytes());
        out.extend_from_slice(&(self.additional.len() as u32).to_le_bytes());
        for n in &self.additional {
            out.extend_from_slice(&n.digits().to_le_bytes());
        }
    }

    /// The state [`UserState::write_to`] wrote.
    pub fn read_from(input: &mut dyn Read) -> io::Result<Option<UserState>> {
        let Some(id) = read_array::<8>(input)? else {
            return Ok(None);
        };
        let email = read_text(input)?;
        let display_name = read_text(input)?;
        let mut texts: [Option<String>; 5] = Default::default();
        for text in &mut texts {
            if must_read::<1>(input)?[0] == 1 {
                *text = Some(read_text(input)?);
            }
        }
        let [
            first_name,
            last_name,
            job_title,
            department,
            organizational_unit,
        ] = texts;
        let role = *Role::ALL
            .get(usize::from(must_read::<1>(input)?[0]))
            .ok_or_else(corrupt)?;
        let location = Location::parse(&read_text(input)?).unwrap_or_else(main_location);
        let mut extensions = Vec::new();
        for _ in 0..must_read::<1>(input)?[0] {
            let packed = u128::from_le_bytes(must_read::<16>(input)?);
            extensions.push(Extension::unpacked(packed).ok_or_else(corrupt)?);
        }
        let number = |digits: u64| E164::from_digits(digits).map_err(|_| corrupt());
        let primary = match u64::from_le_bytes(must_read::<8>(input)?) {
            0 => None,
            digits => Some(number(digits)?),
        };
        let mut additional = Vec::new();
        for _ in 0..u32::from_le_bytes(must_read::<4>(input)?) {
            additional.push(number(u64::from_le_bytes(must_read::<8>(input)?))?);
        }
        Ok(Some(UserState {
            id: i64::from_le_bytes(id),
            email,
            display_name,
            first_name,
            last_name,
            job_title,
            department,
            organizational_unit,
            role,
            location,
            extensions,
            primary,
            additional,
        }))
    }
}

/// Main Company Address, as a location.
pub(crate) fn main_location() -> Location {
    Location::parse(MAIN_LOCATION).expect("the main location has a name")
}

/// What differs between `before` and `after`, in column order. Equal
/// fields cost a comparison, not a text.
pub fn changes(before: &UserState, after: &UserState) -> Vec<Change> {
    let mut changes = Vec::new();
    let text = |t: &Option<String>| t.clone().unwrap_or_default();
    if before.display_name != after.display_name {
        changes.push(Change {
            column: Column::DisplayName,
            from: before.display_name.clone(),
            to: after.display_name.clone(),
        });
    }
    for (column, from, to) in [
        (Column::FirstName, &before.first_name, &after.first_name),
        (Column::LastName, &before.last_name, &after.last_name),
        (Column::JobTitle, &before.job_title, &after.job_title),
        (Column::Department, &before.department, &after.department),
        (
            Column::OrganizationalUnit,
            &before.organizational_unit,
            &after.organizational_unit,
        ),
    ] {
        // None and an empty text read the same in a file.
        if from.as_deref().unwrap_or("") != to.as_deref().unwrap_or("") {
            changes.push(Change {
                column,
                from: text(from),
                to: text(to),
            });
        }
    }
    let number = |n: Option<E164>| n.map(|n| n.to_string()).unwrap_or_default();
    if before.primary != after.primary {
        changes.push(Change {
            column: Column::PrimaryPhone,
            from: number(before.primary),
            to: number(after.primary),
        });
    }
    if before.additional != after.additional {
        changes.push(Change {
            column: Column::AdditionalPhones,
            from: list(&before.additional),
            to: list(&after.additional),
        });
    }
    if before.extensions != after.extensions {
        changes.push(Change {
            column: Column::Extension,
            from: list(&before.extensions),
            to: list(&after.extensions),
        });
    }
    if before.location.key != after.location.key {
        changes.push(Change {
            column: Column::VoiceLocation,
            from: before.location.name.clone(),
            to: after.location.name.clone(),
        });
    }
    if before.role != after.role {
        changes.push(Change {
            column: Column::Role,
            from: before.role.as_str().to_string(),
            to: after.role.as_str().to_string(),
        });
    }
    changes
}

/// Values separated by `;`, as the template lists several.
fn list<T: std::fmt::Display>(values: &[T]) -> String {
    let shown: Vec<String> = values.iter().map(T::to_string).collect();
    shown.join(";")
}

impl Spilled for PlannedRow {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.row.to_le_bytes());
        out.push(
            Action::ALL
                .iter()
                .position(|a| *a == self.action)
                .unwrap_or(0) as u8,
        );
        out.push(u8::from(self.linked));
        write_text(out, &self.email);
        out.extend_from_slice(&(self.changes.len() as u32).to_le_bytes());
        for change in &self.changes {
            out.push(change.column.index() as u8);
            write_text(out, &change.from);
            write_text(out, &change.to);
        }
        match &self.before {
            Some(before) => {
                out.push(1);
                before.write_to(out);
            }
            None => out.push(0),
        }
    }

    fn read(input: &mut dyn Read) -> io::Result<Option<PlannedRow>> {
        let Some(row) = read_array::<8>(input)? else {
            return Ok(None);
        };
        let [action, linked] = must_read::<2>(input)?;
        let action = *Action::ALL.get(usize::from(action)).ok_or_else(corrupt)?;
        let email = read_text(input)?;
        let mut changes = Vec::new();
        for _ in 0..u32::from_le_bytes(must_read::<4>(input)?) {
            let column = *Column::ALL
                .get(usize::from(must_read::<1>(input)?[0]))
                .ok_or_else(corrupt)?;
            let from = read_text(input)?;
            let to = read_text(input)?;
            changes.push(Change { column, from, to });
        }
        let before = match must_read::<1>(input)?[0] {
            1 => Some(UserState::read_from(input)?.ok_or_else(corrupt)?),
            _ => None,
        };
        Ok(Some(PlannedRow {
            row: u64::from_le_bytes(row),
            email,
            action,
            changes,
            before,
            linked: linked == 1,
        }))
    }
}

/// `value` in LEB128: seven bits a byte, low first.
fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn read_varint(input: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = take(input, 1)?[0];
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(value);
        }
    }
    None
}

fn image_text(out: &mut Vec<u8>, text: &str) {
    varint(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

fn read_image_text(input: &mut &[u8]) -> Option<String> {
    let len = usize::try_from(read_varint(input)?).ok()?;
    String::from_utf8(take(input, len)?.to_vec()).ok()
}

/// The next `n` bytes of `input`, taken off it.
fn take<'a>(input: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if input.len() < n {
        return None;
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Some(head)
}

fn write_text(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
}

fn read_text(input: &mut dyn Read) -> io::Result<String> {
    let len = u32::from_le_bytes(must_read::<4>(input)?) as usize;
    let mut bytes = vec![0u8; len];
    input.read_exact(&mut bytes)?;
    String::from_utf8(bytes).map_err(|_| corrupt())
}

fn must_read<const N: usize>(input: &mut dyn Read) -> io::Result<[u8; N]> {
    read_array::<N>(input)?
        .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "a plan cut short"))
}

fn corrupt() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "a plan read back wrong")
}

impl PlannedRow {
    /// The row as bytes, which [`PlannedRow::read_from`] reads back.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        Spilled::write(self, out);
    }

    /// The next row [`PlannedRow::write_to`] wrote; `None` at the end.
    pub fn read_from(input: &mut dyn Read) -> io::Result<Option<PlannedRow>> {
        <PlannedRow as Spilled>::read(input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ExtensionPolicy;

    fn state() -> UserState {
        let policy = ExtensionPolicy {
            min_digits: 1,
            max_digits: ExtensionPolicy::MAX_DIGITS,
        };
        UserState {
            id: 42,
            email: "ann@acme.example".to_string(),
            display_name: "Ann Ö".to_string(),
            first_name: Some("Ann".to_string()),
            last_name: None,
            job_title: Some(String::new()),
            department: None,
            organizational_unit: Some("R&D".to_string()),
            role: Role::ALL[1],
            location: Location::parse("Boston Office").expect("a location"),
            extensions: vec![
                Extension::parse("0070", policy).expect("valid"),
                Extension::parse("123456789012345", policy).expect("valid"),
            ],
            primary: Some(E164::parse("+16172000001").expect("valid")),
            additional: vec![
                E164::parse("+16172000002").expect("valid"),
                E164::parse("+16172000003").expect("valid"),
            ],
        }
    }

    #[test]
    fn an_image_reads_back_as_the_user_and_cut_short_as_nothing() {
        let user = state();
        let image = user.to_image();
        assert_eq!(
            UserState::from_image(&image, 42, "ann@acme.example"),
            Some(user.clone())
        );
        let mut bare = user.clone();
        (bare.first_name, bare.job_title, bare.organizational_unit) = (None, None, None);
        (bare.primary, bare.additional, bare.extensions) = (None, Vec::new(), Vec::new());
        assert_eq!(
            UserState::from_image(&bare.to_image(), 42, "ann@acme.example"),
            Some(bare)
        );
        for cut in 0..image.len() {
            assert_eq!(UserState::from_image(&image[..cut], 42, "x"), None, "{cut}");
        }
        let mut longer = image.clone();
        longer.push(0);
        assert_eq!(UserState::from_image(&longer, 42, "x"), None);
        // Smaller than the plan's encoding, which carries the id and email.
        let mut plan = Vec::new();
        user.write_to(&mut plan);
        assert!(
            image.len() + 40 < plan.len(),
            "{} against {}",
            image.len(),
            plan.len()
        );
    }
}
