//! Every CSV reader of ingest on arbitrary bytes, in any encoding. Input: one byte choosing the
//! format (see `npsc_fuzz::read_format`: registry, activity, permit reports, coefficient table,
//! key units, caps, targets, the source-category files, the tax tables, monitored emissions,
//! key migrations, canonical CSV, the reference lists), one byte choosing the read options
//! (encoding auto/UTF-8/GB18030, issue cap, sheet), then the file.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    npsc_fuzz::init();
    let [format, options, file @ ..] = data else {
        return;
    };
    let name = if options & 0x20 != 0 {
        "input.txt"
    } else {
        "input.csv"
    };
    let source = ingest::Source::Bytes { name, bytes: file };
    npsc_fuzz::read_format(*format, source, &npsc_fuzz::options(*options));
});
