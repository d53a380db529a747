//! Row results as stored: one per processed row of an import, read back in
//! file order a page at a time.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::id::ImportKey;
use super::state::ResultStatus;
use super::state::UndoStatus;
use crate::convert::{from_db, to_db};
use crate::db::query;
use crate::error::Context;
use crate::{DeliveryState, DeliveryStatus, Error, Store};

/// What happened to one processed row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowResult {
    /// The line of the file where the row starts.
    pub row: u64,
    pub status: ResultStatus,
    pub email: Option<String>,
    pub extension: Option<String>,
    /// E.164, primary first.
    pub numbers: Vec<String>,
    pub errors: Vec<ResultError>,
    /// The created user's password delivery, when the import sends passwords.
    pub delivery: Option<DeliveryStatus>,
    /// What the import's undo did with the row, once it took it up.
    pub undo: Option<RowUndo>,
}

/// A row's undo outcome, as its result shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowUndo {
    pub status: UndoStatus,
    /// Why the row was not undone (`docs/errors.md`).
    pub code: Option<String>,
    /// Why, or, for a row undone, what could not be (a message sent).
    pub message: Option<String>,
}

/// One reason a row failed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ResultError {
    pub code: String,
    pub column: Option<String>,
    pub message: String,
}

/// Which stored results a page holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredFilter<'a> {
    /// Every processed row.
    All,
    /// Rows with this status, not failed (see [`StoredFilter::Failed`]).
    Status(ResultStatus),
    Failed,
    /// Failed rows with an error of this code.
    Code(&'a str),
}

/// Only failed rows, as the partial index `row_results_failed` names them
/// (its condition, `status = 'failed'`, must be in the text of a query
/// that reads through it; a test holds the word to [`ResultStatus`]).
const ONLY_FAILED: &str = " AND r.status = 'failed'";
/// Only failed rows with an error whose code `$4` matches.
const ONLY_FAILED_WITH_CODE: &str = " AND r.status = 'failed' AND r.errors LIKE $4 ESCAPE '\\'";

/// Rows of failed results read at a time when counting them.
const COUNT_PAGE: i64 = 50_000;

impl Store {
    /// Up to `limit` results of rows after `after_row`, in file order.
    pub async fn results_after(
        &self,
        import: ImportKey,
        after_row: u64,
        limit: u32,
    ) -> Result<Vec<RowResult>, Error> {
        self.results_where(import, after_row, limit, StoredFilter::All)
            .await
    }

    /// Up to `limit` results of rows after `after_row` that `filter` keeps,
    /// in file order. Failures are read through their own index: a page of
    /// them is as quick to find as a page of every row.
    pub async fn results_where(
        &self,
        import: ImportKey,
        after_row: u64,
        limit: u32,
        filter: StoredFilter<'_>,
    ) -> Result<Vec<RowResult>, Error> {
        const SELECT: &str = "SELECT r.row, r.status, r.email, r.extension, r.numbers, r.errors, \
            d.state, d.error, u.status, u.code, u.message FROM row_results r \
            LEFT JOIN deliveries d ON d.user_id = r.user_id \
            LEFT JOIN row_undos u ON u.import_id = r.import_id AND u.row = r.row \
            WHERE r.import_id = $1 AND r.row > $2";
        // Failures are named in the text, not bound: only then do the
        // planners read them through `row_results_failed`, whose condition
        // the text must imply.
        let (condition, status, pattern) = match filter {
            StoredFilter::All => ("", None, None),
            StoredFilter::Status(ResultStatus::Failed) | StoredFilter::Failed => {
                (ONLY_FAILED, None, None)
            }
            StoredFilter::Status(status) => (" AND r.status = $4", Some(status), None),
            StoredFilter::Code(code) => (ONLY_FAILED_WITH_CODE, None, Some(code_pattern(code))),
        };
        // Made of the constants above only.
        let sql = format!("{SELECT}{condition} ORDER BY r.row LIMIT $3");
        let mut select = query(sqlx::AssertSqlSafe(sql))
            .bind(import.0)
            .bind(to_db(after_row))
            .bind(i64::from(limit));
        if let Some(status) = status {
            select = select.bind(status);
        }
        if let Some(pattern) = pattern {
            select = select.bind(pattern);
        }
        let rows: Vec<StoredRow> = select
            .fetch_all(&self.db)
            .await
            .context("reading row results")?;
        rows.into_iter().map(row_result).collect()
    }

    /// How many rows of lines `from..to` have a result.
    pub async fn results_between(
        &self,
        import: ImportKey,
        from: u64,
        to: u64,
    ) -> Result<u64, Error> {
        const SQL: &str =
            "SELECT COUNT(*) FROM row_results WHERE import_id = $1 AND row >= $2 AND row < $3";
        let (count,): (i64,) = query(SQL)
            .bind(import.0)
            .bind(to_db(from))
            .bind(to_db(to))
            .fetch_one(&self.db)
            .await
            .context("counting row results")?;
        Ok(from_db(count))
    }

    /// The import's failed rows' errors counted by code and column.
    pub async fn failure_counts(
        &self,
        import: ImportKey,
    ) -> Result<BTreeMap<(String, Option<String>), u64>, Error> {
        const SQL: &str = "SELECT row, errors FROM row_results \
            WHERE import_id = $1 AND status = 'failed' AND row > $2 ORDER BY row LIMIT $3";
        let mut counts = BTreeMap::new();
        let mut after = 0i64;
        loop {
            let rows: Vec<(i64, Option<String>)> = query(SQL)
                .bind(import.0)
                .bind(after)
                .bind(COUNT_PAGE)
                .fetch_all(&self.db)
                .await
                .context("counting failed rows")?;
            for (_, errors) in &rows {
                for e in parse_errors(errors.as_deref())? {
                    *counts.entry((e.code, e.column)).or_insert(0) += 1;
                }
            }
            match rows.last() {
                Some((row, _)) if rows.len() as i64 == COUNT_PAGE => after = *row,
                _ => return Ok(counts),
            }
        }
    }
}

/// A row of `row_results` joined with its delivery and its undo.
type StoredRow = (
    i64,
    ResultStatus,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<UndoStatus>,
    Option<String>,
    Option<String>,
);

fn row_result(
    (
        row,
        status,
        email,
        extension,
        numbers,
        errors,
        delivery,
        delivery_error,
        undo,
        undo_code,
        undo_message,
    ): StoredRow,
) -> Result<RowResult, Error> {
    Ok(RowResult {
        row: from_db(row),
        status,
        email,
        extension,
        numbers: numbers
            .map(|n| n.split(';').map(str::to_string).collect())
            .unwrap_or_default(),
        errors: parse_errors(errors.as_deref())?,
        // An updated user's delivery is an earlier import's.
        delivery: delivery
            .filter(|_| status == ResultStatus::Created)
            .map(|state| {
                DeliveryState::parse(&state)
                    .map(|state| DeliveryStatus {
                        state,
                        error: delivery_error,
                    })
                    .ok_or(Error::Corrupt("a delivery state"))
            })
            .transpose()?,
        undo: undo.map(|status| RowUndo {
            status,
            code: undo_code,
            message: undo_message,
        }),
    })
}

fn parse_errors(json: Option<&str>) -> Result<Vec<ResultError>, Error> {
    match json {
        Some(json) => {
            serde_json::from_str(json).map_err(|_| Error::Corrupt("a row result's errors"))
        }
        None => Ok(Vec::new()),
    }
}

/// What `LIKE` finds an error of `code` by in a row's errors (stored as
/// `serde_json` writes them: `{"code":"…",`), its wildcards escaped.
fn code_pattern(code: &str) -> String {
    let escaped: String = code
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("%\"code\":\"{escaped}\"%")
}

#[cfg(test)]
mod tests {
    use super::{ONLY_FAILED, ONLY_FAILED_WITH_CODE, ResultStatus};

    #[test]
    fn the_failed_rows_condition_names_the_failed_status() {
        let word = format!("r.status = '{}'", ResultStatus::Failed.as_str());
        assert!(ONLY_FAILED.contains(&word));
        assert!(ONLY_FAILED_WITH_CODE.contains(&word));
    }
}
