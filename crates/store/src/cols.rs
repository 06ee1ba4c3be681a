//! Reading typed values out of rows, shared by every repository.

use crate::db::Row;

use crate::StoreError;

/// A TEXT column parsed into `T`; a value that no longer parses is corruption, not user error.
pub(crate) fn parse_col<T: std::str::FromStr>(row: &Row, col: &str) -> Result<T, StoreError> {
    let s = row.text(col)?;
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("column {col}: {s:?}")))
}

/// The error for a missing row of `kind`.
pub(crate) fn not_found(kind: &'static str, id: impl ToString) -> StoreError {
    StoreError::NotFound {
        kind,
        id: id.to_string(),
    }
}
