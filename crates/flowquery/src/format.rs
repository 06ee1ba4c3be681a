//! Printing a result: an aligned table (the CLI's style: a header, columns two spaces apart,
//! `-` for NULL), CSV with a header, or JSON (one array of objects, NULLs included).

use datafusion::arrow::csv::WriterBuilder as CsvWriterBuilder;
use datafusion::arrow::json::{writer::JsonArray, WriterBuilder as JsonWriterBuilder};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

use underpass_domain::text::sanitize;

use crate::QueryError;

/// How to print a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// Aligned columns.
    Table,
    /// CSV with a header line.
    Csv,
    /// One JSON array of objects.
    Json,
}

fn err(e: impl std::fmt::Display) -> QueryError {
    QueryError::Format(e.to_string())
}

fn table(batches: &[RecordBatch]) -> Result<String, QueryError> {
    let Some(first) = batches.first() else {
        return Ok(String::new());
    };
    let header: Vec<String> = first
        .schema()
        .fields()
        .iter()
        .map(|f| sanitize(f.name()))
        .collect();
    let options = FormatOptions::default().with_null("-");
    let mut rows: Vec<Vec<String>> = Vec::new();
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        for row in 0..batch.num_rows() {
            rows.push(
                formatters
                    .iter()
                    .map(|f| sanitize(&f.value(row).to_string()))
                    .collect(),
            );
        }
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for cells in std::iter::once(&header).chain(&rows) {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    }
    Ok(out)
}

/// Renders `batches` (as [`crate::query`] returns them) in `format`.
pub fn render(batches: &[RecordBatch], format: OutputFormat) -> Result<String, QueryError> {
    match format {
        OutputFormat::Table => table(batches),
        OutputFormat::Csv => {
            let mut w = CsvWriterBuilder::new().with_header(true).build(Vec::new());
            for b in batches {
                w.write(b).map_err(err)?;
            }
            String::from_utf8(w.into_inner()).map_err(err)
        }
        OutputFormat::Json => {
            let mut w = JsonWriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, JsonArray>(Vec::new());
            for b in batches {
                w.write(b).map_err(err)?;
            }
            w.finish().map_err(err)?;
            let mut text = String::from_utf8(w.into_inner()).map_err(err)?;
            if text.is_empty() {
                text.push_str("[]"); // no rows: the writer wrote nothing
            }
            text.push('\n');
            Ok(text)
        }
    }
}
