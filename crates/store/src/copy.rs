//! PostgreSQL `COPY … FROM STDIN` in text format, for a stored run's bulk rows: one `COPY` per
//! table inside the run's transaction (the `Any` driver has no `COPY`, so a run on PostgreSQL
//! is written through a native connection), fed with chunks of bounded size
//! ([`COPY_CHUNK`]) as they are encoded: PostgreSQL stores one chunk while the next is made.
//!
//! Text format: columns separated by a tab, rows ended by a newline, `\N` for NULL; a backslash,
//! tab, newline or carriage return inside a value is escaped (`\\`, `\t`, `\n`, `\r`), so no
//! value can end a column, a row or the data (`\.`). Numbers are written as Rust displays them:
//! integers exactly, floats as the shortest decimal that reads back as the same `f64`
//! (PostgreSQL's `float8in` rounds correctly), so a value is stored bit for bit as a bound
//! parameter would be. Non-finite floats are refused (see [`CopyRows::float`]).

use std::io::Write as _;

use crate::StoreError;

/// Bytes of encoded rows per chunk sent to a `COPY`: with the chunks queued for sending, the
/// memory a run's writer holds for them.
pub(crate) const COPY_CHUNK: usize = 1 << 20;

/// Rows per `COPY` statement. PostgreSQL queues one foreign-key check per row (the run id) until
/// the end of the statement, about 20 bytes each in the server's memory, so a run of millions of
/// rows is sent as several statements; each costs one round trip.
#[cfg(not(test))]
pub(crate) const COPY_STATEMENT_ROWS: u64 = 500_000;
/// Small in tests, so that their runs of a few thousand rows take several statements.
#[cfg(test)]
pub(crate) const COPY_STATEMENT_ROWS: u64 = 100;

/// Rows being encoded for `COPY … FROM STDIN` (text format).
#[derive(Debug, Default)]
pub(crate) struct CopyRows {
    buffer: Vec<u8>,
    /// Whether the current row has a column yet.
    in_row: bool,
    /// Rows in the buffer.
    rows: u64,
}

impl CopyRows {
    pub(crate) fn with_capacity(bytes: usize) -> CopyRows {
        CopyRows {
            buffer: Vec::with_capacity(bytes),
            ..CopyRows::default()
        }
    }

    fn separate(&mut self) {
        if self.in_row {
            self.buffer.push(b'\t');
        }
        self.in_row = true;
    }

    /// A text column.
    pub(crate) fn text(&mut self, value: &str) {
        self.separate();
        let bytes = value.as_bytes();
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let escaped: &[u8] = match b {
                b'\\' => b"\\\\",
                b'\t' => b"\\t",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                _ => continue,
            };
            self.buffer.extend_from_slice(&bytes[start..i]);
            self.buffer.extend_from_slice(escaped);
            start = i + 1;
        }
        self.buffer.extend_from_slice(&bytes[start..]);
    }

    /// A nullable text column.
    pub(crate) fn optional_text(&mut self, value: Option<&str>) {
        match value {
            Some(value) => self.text(value),
            None => {
                self.separate();
                self.buffer.extend_from_slice(b"\\N");
            }
        }
    }

    /// An integer column.
    pub(crate) fn int(&mut self, value: i64) {
        self.separate();
        // Writing into a Vec cannot fail.
        let _ = write!(self.buffer, "{value}");
    }

    /// A float column: the shortest decimal that reads back as the same value. NaN and the
    /// infinities are refused: a stored quantity is a finite number (SQLite would store NaN
    /// as NULL, which the columns refuse; PostgreSQL would keep it).
    pub(crate) fn float(
        &mut self,
        value: f64,
        what: impl FnOnce() -> String,
    ) -> Result<(), StoreError> {
        if !value.is_finite() {
            return Err(non_finite(value, what));
        }
        self.separate();
        let _ = write!(self.buffer, "{value}");
        Ok(())
    }

    /// Ends the current row.
    pub(crate) fn end_row(&mut self) {
        self.buffer.push(b'\n');
        self.in_row = false;
        self.rows += 1;
    }

    /// Bytes encoded so far.
    pub(crate) fn len(&self) -> usize {
        self.buffer.len()
    }

    /// The rows encoded since the last `take` and how many they are, leaving an empty buffer
    /// of the same capacity behind.
    pub(crate) fn take(&mut self) -> (Vec<u8>, u64) {
        let capacity = self.buffer.capacity();
        self.in_row = false;
        let rows = std::mem::take(&mut self.rows);
        (
            std::mem::replace(&mut self.buffer, Vec::with_capacity(capacity)),
            rows,
        )
    }
}

/// Sends `bytes` (whole rows) into an open `COPY`; aborts it when that fails.
pub(crate) async fn send(
    copy: &mut sqlx::postgres::PgCopyIn<&mut sqlx::PgConnection>,
    bytes: &[u8],
) -> Result<(), StoreError> {
    if bytes.is_empty() {
        return Ok(());
    }
    copy.send(bytes).await?;
    Ok(())
}

/// Ends a `COPY` and checks that PostgreSQL took `expected` rows.
pub(crate) async fn finish(
    copy: sqlx::postgres::PgCopyIn<&mut sqlx::PgConnection>,
    expected: u64,
    what: &str,
) -> Result<(), StoreError> {
    let stored = copy.finish().await?;
    if stored != expected {
        return Err(StoreError::Integrity(format!(
            "COPY stored {stored} {what} of {expected}"
        )));
    }
    Ok(())
}

/// The error of a NaN or infinite quantity.
pub(crate) fn non_finite(value: f64, what: impl FnOnce() -> String) -> StoreError {
    StoreError::Invalid(format!(
        "{} is `{value}`, not a finite number: nothing was stored",
        what()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(f: impl FnOnce(&mut CopyRows)) -> String {
        let mut rows = CopyRows::default();
        f(&mut rows);
        String::from_utf8(rows.buffer).expect("utf-8")
    }

    #[test]
    fn values_are_escaped_for_the_text_format() {
        let line = encoded(|r| {
            r.int(-7);
            r.text("a\tb\nc\rd\\e");
            r.optional_text(None);
            r.optional_text(Some("\\N"));
            r.text("");
            r.text("中文 \"q\" ,;");
            r.float(0.1 + 0.2, String::new).expect("finite");
            r.end_row();
            r.text("\\.");
            r.end_row();
        });
        assert_eq!(
            line,
            "-7\ta\\tb\\nc\\rd\\\\e\t\\N\t\\\\N\t\t中文 \"q\" ,;\t0.30000000000000004\n\\\\.\n"
        );
    }

    #[test]
    fn floats_read_back_bit_for_bit_and_non_finite_ones_are_refused() {
        for value in [
            0.0,
            -0.0,
            1e-300,
            5e-324,
            1e300,
            f64::MAX,
            2.0 / 3.0,
            123.25,
        ] {
            let text = encoded(|r| r.float(value, String::new).expect("finite"));
            let back: f64 = text.parse().expect("a number");
            assert_eq!(back.to_bits(), value.to_bits(), "{text}");
        }
        for value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut rows = CopyRows::default();
            let error = rows
                .float(value, || "emitted of activity row 3".to_string())
                .expect_err("refused");
            assert!(
                error
                    .to_string()
                    .starts_with("emitted of activity row 3 is `"),
                "{error}"
            );
            assert!(rows.buffer.is_empty());
        }
    }
}
