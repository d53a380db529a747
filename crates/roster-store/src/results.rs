//! Row results as stored: one per processed row of an import, read back in
//! file order a page at a time.

use serde::Deserialize;

use crate::error::Context;
use crate::store::with_pool;
use crate::{DeliveryState, DeliveryStatus, Error, ImportKey, Store};

/// What happened to one processed row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowResult {
    /// The line of the file where the row starts.
    pub row: u64,
    pub created: bool,
    pub email: Option<String>,
    pub extension: Option<String>,
    /// E.164, primary first.
    pub numbers: Vec<String>,
    pub errors: Vec<ResultError>,
    /// The created user's password delivery, when the import sends passwords.
    pub delivery: Option<DeliveryStatus>,
}

/// One reason a row failed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ResultError {
    pub code: String,
    pub column: Option<String>,
    pub message: String,
}

impl Store {
    /// Up to `limit` results of rows after `after_row`, in file order.
    pub async fn results_after(
        &self,
        import: ImportKey,
        after_row: u64,
        limit: u32,
    ) -> Result<Vec<RowResult>, Error> {
        const SQL: &str = "SELECT r.row, r.status, r.email, r.extension, r.numbers, r.errors, \
            d.state, d.error FROM row_results r LEFT JOIN deliveries d ON d.user_id = r.user_id \
            WHERE r.import_id = $1 AND r.row > $2 ORDER BY r.row LIMIT $3";
        type Row = (
            i64,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Row> = with_pool!(&self.db, pool => {
            sqlx::query_as(SQL)
                .bind(import.0)
                .bind(i64::try_from(after_row).unwrap_or(i64::MAX))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
        })
        .context("reading row results")?;
        rows.into_iter()
            .map(
                |(row, status, email, extension, numbers, errors, delivery, delivery_error)| {
                    let errors = match errors {
                        Some(json) => serde_json::from_str(&json)
                            .map_err(|_| Error::Corrupt("a row result's errors"))?,
                        None => Vec::new(),
                    };
                    Ok(RowResult {
                        row: u64::try_from(row).unwrap_or(0),
                        created: status == "created",
                        email,
                        extension,
                        numbers: numbers
                            .map(|n| n.split(';').map(str::to_string).collect())
                            .unwrap_or_default(),
                        errors,
                        delivery: delivery
                            .map(|state| {
                                DeliveryState::parse(&state)
                                    .map(|state| DeliveryStatus {
                                        state,
                                        error: delivery_error,
                                    })
                                    .ok_or(Error::Corrupt("a delivery state"))
                            })
                            .transpose()?,
                    })
                },
            )
            .collect()
    }
}
