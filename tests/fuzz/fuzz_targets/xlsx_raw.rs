//! Excel ingest on arbitrary bytes: calamine's own readers (xlsx, xls, xlsb, ods, every sheet's
//! cells and formulas) and ingest's readers of every format over a workbook. Input: one byte
//! choosing the format, one byte for the read options and the workbook kind (bits 0x30: xlsx,
//! xlsb, xls, ods), then the file. Seeds are the real workbooks of tests/fixtures and the
//! legacy ones of tests/bad-inputs/excel; the mutations mostly break the ZIP (its CRCs), so
//! `xlsx_parts` fuzzes the XML inside a well-formed ZIP.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [format, options, file @ ..] = data else {
        return;
    };
    let name = match options & 0x30 {
        0x00 => "input.xlsx",
        0x10 => "input.xlsb",
        0x20 => "input.xls",
        _ => "input.ods",
    };
    npsc_fuzz::calamine_all(name, file);
    let source = ingest::Source::Bytes { name, bytes: file };
    npsc_fuzz::read_format(*format, source, &npsc_fuzz::options(*options));
});
