//! Excel ingest on mutated real workbooks: the input is a workbook's members (name, newline,
//! content, separated by `npsc_fuzz::PART_SEPARATOR`), zipped by the target (stored, so the
//! CRCs are always right), so that the fuzzer mutates the XML calamine parses rather than the
//! ZIP around it. Seeds: the members of the workbooks in tests/fixtures (`seeds.sh` writes them).
//! The first byte chooses ingest's format, the second the read options.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [format, options, parts @ ..] = data else {
        return;
    };
    let Some(file) = npsc_fuzz::zip_parts(parts) else {
        return;
    };
    npsc_fuzz::calamine_all("input.xlsx", &file);
    let source = ingest::Source::Bytes {
        name: "input.xlsx",
        bytes: &file,
    };
    npsc_fuzz::read_format(*format, source, &npsc_fuzz::options(*options));
});
