//! The bad-input corpus, `tests/bad-inputs/`: every file there (and every case built here in
//! memory because it is too large to commit) goes through the real reader of its format, and
//! `tests/bad-inputs/expected.csv` says what must come out: a located issue (its code, its
//! location exactly as displayed, and text of its message), or a documented acceptance (text of
//! what was read). Never a panic. A representative subset also goes through the real command
//! line, where a refused import must leave the database exactly as it was.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use accounting::activity::Registry;
use ingest::reference::Reference;
use ingest::table::ReadOptions;
use ingest::{Issues, Source};

use crate::support::{npsc, s};

/// The corpus, relative to the `tests` package (where cargo runs the tests), so that the file
/// names in locations are stable.
const CORPUS: &str = "bad-inputs";
const MANIFEST: &str = "bad-inputs/expected.csv";
const SAMPLE_REGISTRY: &str = "../datasets/sample-synthetic/registry.csv";

/// One line of the manifest.
#[derive(Debug, Clone)]
struct Case {
    /// The file under `bad-inputs/`, or `generated/NAME` for a case built by [`generated`].
    file: String,
    /// Which reader: activity, registry, coefficients, permit, domestic, mobile, caps.
    reader: String,
    /// `refused`, `accepted` or `warned` (accepted with a warning).
    outcome: String,
    /// The issue code (refused, warned).
    code: String,
    /// The issue's location as displayed (refused, warned).
    location: String,
    /// Text the issue's display must contain (refused, warned), or text the summary of what
    /// was read must contain (accepted).
    message: String,
}

fn cases() -> Vec<Case> {
    let mut reader = csv::Reader::from_path(MANIFEST).expect("the manifest opens");
    reader
        .records()
        .map(|record| {
            let record = record.expect("a manifest line");
            let field = |i: usize| record.get(i).unwrap_or_default().to_string();
            Case {
                file: field(0),
                reader: field(1),
                outcome: field(2),
                code: field(3),
                location: field(4),
                message: field(5),
            }
        })
        .collect()
}

/// What a reader made of a case.
enum Outcome {
    /// The issues of a refused file.
    Refused(Issues),
    /// A summary of what was read, and the warnings.
    Accepted(String, Vec<ingest::Issue>),
}

/// A case's bytes, for the generated ones.
fn generated_bytes(name: &str) -> Vec<u8> {
    const ACT_H: &str =
        "year,uscc,product,raw_material,process,scale,treatment,activity,activity_unit";
    let act = |activity: &str| {
        format!(
            "2022,91152502MA2BPPBJ0K,冻羊肉,羊,屠宰、分割,≥1500头/天屠宰,沉淀分离,{activity},头"
        )
    };
    match name {
        // A header of 10^6 columns: the schema's nine, then 999 991 unknown ones.
        "activity-million-columns-header.csv" => {
            let mut text = ACT_H.to_string();
            for i in 9..1_000_000 {
                let _ = write!(text, ",c{i}");
            }
            text.push('\n');
            text.push_str(&act("612000"));
            text.push_str(&",".repeat(1_000_000 - 9));
            text.push('\n');
            text.into_bytes()
        }
        // A good header, then a row of 10^6 fields.
        "activity-million-columns-row.csv" => {
            let mut text = format!("{ACT_H}\n{}", act("612000"));
            text.push_str(&",x".repeat(1_000_000 - 9));
            text.push('\n');
            text.into_bytes()
        }
        // An integer of 5 000 digits: far beyond f64.
        "activity-5000-digit-integer.csv" => {
            format!("{ACT_H}\n{}\n", act(&format!("1{}", "0".repeat(4999)))).into_bytes()
        }
        // 5 000 decimals: rounded to the nearest double, 1/3.
        "activity-5000-decimals.csv" => {
            format!("{ACT_H}\n{}\n", act(&format!("0.{}", "3".repeat(5000)))).into_bytes()
        }
        // More than the 64 KiB the encoding is guessed from in UTF-8, then one GBK line.
        "activity-gbk-after-64-kib.csv" => {
            let mut bytes = format!("{ACT_H}\n").into_bytes();
            for _ in 0..800 {
                bytes.extend_from_slice(act("612000").as_bytes());
                bytes.push(b'\n');
            }
            let line = act("612000");
            let (gbk, _, _) = encoding_rs::GBK.encode(&line);
            bytes.extend_from_slice(&gbk);
            bytes.push(b'\n');
            bytes
        }
        // A JSON row of 10^6 keys: the schema's nine, then 999 991 unknown ones.
        "activity-million-keys.json" => {
            let mut text = String::from(
                r#"[{"year":2022,"uscc":"91152502MA2BPPBJ0K","product":"冻羊肉","raw_material":"羊","process":"屠宰、分割","scale":"≥1500头/天屠宰","treatment":"沉淀分离","activity":612000,"activity_unit":"头""#,
            );
            for i in 9..1_000_000 {
                let _ = write!(text, r#","c{i}":"""#);
            }
            text.push_str("}]");
            text.into_bytes()
        }
        // 100 000 opening parentheses as a coefficient formula.
        "coefficients-100k-parentheses.csv" => format!(
            "industry_code,product,raw_material,process,scale,pollutant,unit,\
             generation_coefficient,treatment,removal_efficiency\n\
             4430,蒸汽,煤炭,层燃炉,所有规模,二氧化硫,千克/吨-原料,{},直排,0\n",
            "(".repeat(100_000)
        )
        .into_bytes(),
        // A workbook whose sheet has a cell in A1 and one in XFD1048576: a few hundred bytes
        // whose used area is 16 384 × 1 048 576 cells.
        "excel-far-cell.xlsx" => xlsx(&[(
            "xl/worksheets/sheet1.xml",
            SHEET_FAR_CELL.as_bytes().to_vec(),
        )]),
        // A real ZIP bomb: 16 MiB of deflate that inflate to a 2.5 GiB sheet of spaces.
        "excel-zip-bomb.xlsx" => {
            let spaces = 5u64 << 29;
            let head = br#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#;
            let tail = b"</sheetData></worksheet>";
            let deflated = deflate_bomb(head, spaces, tail);
            let size = head.len() as u64 + spaces + tail.len() as u64;
            let mut parts = xlsx_parts();
            parts.push(("xl/worksheets/sheet1.xml", Part::Deflated(deflated, size)));
            zip(&parts)
        }
        // One shared string of 32 767 characters (Excel's most), in 30 000 cells: a workbook of
        // 1.7 MB here (stored; 156 KB deflated) whose cells would hold 2.9 GB of text.
        "excel-shared-string-bomb.xlsx" => {
            let mut sheet = String::from(
                r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1">"#,
            );
            for (i, name) in ACT_H.split(',').enumerate() {
                let _ = write!(
                    sheet,
                    r#"<c r="{}1" t="inlineStr"><is><t>{name}</t></is></c>"#,
                    char::from(b'A' + i as u8)
                );
            }
            sheet.push_str("</row>");
            for row in 2..30_002 {
                let _ = write!(
                    sheet,
                    r#"<row r="{row}"><c r="C{row}" t="s"><v>0</v></c></row>"#
                );
            }
            sheet.push_str("</sheetData></worksheet>");
            let strings = format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="30000" uniqueCount="1"><si><t>{}</t></si></sst>"#,
                "污".repeat(32_767)
            );
            xlsx(&[
                ("xl/sharedStrings.xml", strings.into_bytes()),
                ("xl/worksheets/sheet1.xml", sheet.into_bytes()),
            ])
        }
        // The same in a legacy workbook: one shared string of 32 767 characters, in 30 000
        // cells.
        "xls-shared-string-bomb.xls" => {
            let long = "污".repeat(32_767);
            let mut cells: Vec<(u16, u16, &str)> = ACT_H
                .split(',')
                .enumerate()
                .map(|(c, h)| (0, c as u16, h))
                .collect();
            cells.extend((1..30_001).map(|r| (r, 2, long.as_str())));
            compound_file(&biff8("活动水平", &cells))
        }
        other => panic!("no generated case {other}"),
    }
}

/// The BIFF8 `Workbook` stream of a workbook of one sheet whose cells are text, through the
/// shared string table (with CONTINUE records for long strings), as tests/bad-inputs/make.py
/// writes them.
fn biff8(sheet: &str, cells: &[(u16, u16, &str)]) -> Vec<u8> {
    fn rec(kind: u16, data: &[u8]) -> Vec<u8> {
        [
            &kind.to_le_bytes()[..],
            &(data.len() as u16).to_le_bytes(),
            data,
        ]
        .concat()
    }
    let bof = |kind: u16| {
        let mut data = [0x0600u16, kind, 0x0DBB, 0x07CC]
            .map(u16::to_le_bytes)
            .concat();
        data.extend_from_slice(&[0, 0, 0, 0, 6, 0, 0, 0]);
        rec(0x0809, &data)
    };
    let mut strings: Vec<&str> = Vec::new();
    for &(_, _, text) in cells {
        if !strings.contains(&text) {
            strings.push(text);
        }
    }
    // The table's strings, each split across records at an even number of bytes, a
    // continuation starting with the flags byte (2-byte characters).
    let mut records = Vec::new();
    let mut part = [strings.len() as u32; 2].map(u32::to_le_bytes).concat();
    for text in &strings {
        let units: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        if part.len() + 3 + 2 > 8224 {
            records.push(std::mem::take(&mut part));
        }
        part.extend_from_slice(&(units.len() as u16 / 2).to_le_bytes());
        part.push(1);
        let mut rest = units.as_slice();
        loop {
            let room = (8224 - part.len()) & !1;
            let (now, later) = rest.split_at(room.min(rest.len()));
            part.extend_from_slice(now);
            rest = later;
            if rest.is_empty() {
                break;
            }
            records.push(std::mem::replace(&mut part, vec![1]));
        }
    }
    records.push(part);
    let mut sst = rec(0x00FC, &records[0]);
    for continued in &records[1..] {
        sst.extend(rec(0x003C, continued));
    }
    let mut body = bof(0x0010);
    let rows = cells.iter().map(|c| u32::from(c.0)).max().unwrap_or(0) + 1;
    let columns = cells.iter().map(|c| c.1).max().unwrap_or(0) + 1;
    let mut dims = [0, rows].map(u32::to_le_bytes).concat();
    dims.extend([0, columns, 0].map(u16::to_le_bytes).concat());
    body.extend(rec(0x0200, &dims));
    for &(row, column, text) in cells {
        let index = strings.iter().position(|s| *s == text).unwrap_or(0) as u32;
        let mut data = [row, column, 15].map(u16::to_le_bytes).concat();
        data.extend_from_slice(&index.to_le_bytes());
        body.extend(rec(0x00FD, &data));
    }
    body.extend(rec(0x000A, &[]));
    let name: Vec<u8> = sheet.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let bound_len = 4 + 8 + name.len();
    let head = [bof(0x0005), rec(0x0042, &1200u16.to_le_bytes())].concat();
    let position = (head.len() + bound_len + sst.len() + 4) as u32;
    let mut bound = position.to_le_bytes().to_vec();
    bound.extend_from_slice(&[0, 0, sheet.encode_utf16().count() as u8, 1]);
    bound.extend_from_slice(&name);
    [head, rec(0x0085, &bound), sst, rec(0x000A, &[]), body].concat()
}

/// An OLE compound file (version 3, 512-byte sectors) whose one stream, `Workbook`, is
/// `stream`, padded to 4 096 bytes so that it lives in ordinary sectors (as make.py's `cfb`).
fn compound_file(stream: &[u8]) -> Vec<u8> {
    const END: u32 = 0xFFFF_FFFE;
    const FREE: u32 = 0xFFFF_FFFF;
    let mut stream = stream.to_vec();
    stream.resize(stream.len().max(4096).next_multiple_of(512), 0);
    let sectors = stream.len() / 512;
    let mut fat_sectors = 1;
    while fat_sectors * 128 < fat_sectors + 1 + sectors {
        fat_sectors += 1;
    }
    assert!(
        fat_sectors <= 109,
        "a stream this large needs DIFAT sectors"
    );
    let directory = fat_sectors as u32;
    let first = directory + 1;
    let mut fat = vec![0xFFFF_FFFDu32; fat_sectors];
    fat.push(END);
    fat.extend((1..sectors as u32).map(|i| first + i));
    fat.push(END);
    fat.resize(fat_sectors * 128, FREE);
    let mut out = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1".to_vec();
    out.resize(24, 0);
    out.extend([0x3Eu16, 3, 0xFFFE, 9, 6].map(u16::to_le_bytes).concat());
    out.resize(40, 0);
    out.extend(
        [0, fat_sectors as u32, directory, 0, 4096, END, 0, END, 0]
            .map(u32::to_le_bytes)
            .concat(),
    );
    let mut difat: Vec<u32> = (0..fat_sectors as u32).collect();
    difat.resize(109, FREE);
    out.extend(difat.iter().flat_map(|v| v.to_le_bytes()));
    let entry = |name: &str, kind: u8, start: u32, size: u32, child: u32| {
        let mut raw: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
        raw.extend_from_slice(&[0, 0]);
        let length = raw.len() as u16;
        raw.resize(64, 0);
        raw.extend_from_slice(&length.to_le_bytes());
        raw.extend_from_slice(&[kind, 1]);
        raw.extend([FREE, FREE, child].map(u32::to_le_bytes).concat());
        raw.resize(116, 0);
        raw.extend([start, size, 0].map(u32::to_le_bytes).concat());
        raw
    };
    out.extend(fat.iter().flat_map(|v| v.to_le_bytes()));
    let mut dirs = entry("Root Entry", 5, END, 0, 1);
    dirs.extend(entry("Workbook", 2, first, stream.len() as u32, FREE));
    dirs.resize(512, 0);
    out.extend(dirs);
    out.extend(stream);
    out
}

const SHEET_FAR_CELL: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>year</t></is></c></row><row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData></worksheet>"#;

/// A minimal `.xlsx` with one sheet, `Sheet1`, whose parts are given (stored, not compressed).
fn xlsx(sheets: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut parts = xlsx_parts();
    parts.extend(
        sheets
            .iter()
            .map(|(name, data)| (*name, Part::Stored(data.clone()))),
    );
    zip(&parts)
}

/// A part of a ZIP archive: stored as is, or deflated with its inflated size (its CRC is left
/// 0: the archives built here are refused before any part is inflated, or hold stored parts).
enum Part {
    Stored(Vec<u8>),
    Deflated(Vec<u8>, u64),
}

/// The parts of a minimal workbook except its sheet.
fn xlsx_parts() -> Vec<(&'static str, Part)> {
    let parts: Vec<(&str, Vec<u8>)> = vec![
        (
            "[Content_Types].xml",
            br#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#.to_vec(),
        ),
        (
            "_rels/.rels",
            br#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_vec(),
        ),
        (
            "xl/workbook.xml",
            br#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#.to_vec(),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            br#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#.to_vec(),
        ),
    ];
    parts
        .into_iter()
        .map(|(name, data)| (name, Part::Stored(data)))
        .collect()
}

/// A ZIP archive (32-bit sizes: an inflated size of 4 GiB or more is written as 0xFFFFFFFE).
fn zip(parts: &[(&str, Part)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, part) in parts {
        let offset = out.len() as u32;
        let (method, data, size, crc) = match part {
            Part::Stored(data) => (0u16, data, data.len() as u64, crc32(data)),
            Part::Deflated(data, size) => (8u16, data, *size, 0),
        };
        let size = u32::try_from(size).unwrap_or(u32::MAX - 1);
        let header = |signature: u32, central: bool| {
            let mut h = Vec::new();
            h.extend_from_slice(&signature.to_le_bytes());
            if central {
                h.extend_from_slice(&20u16.to_le_bytes()); // made by
            }
            h.extend_from_slice(&20u16.to_le_bytes()); // needed
            h.extend_from_slice(&0u16.to_le_bytes()); // flags
            h.extend_from_slice(&method.to_le_bytes());
            h.extend_from_slice(&0u32.to_le_bytes()); // time and date
            h.extend_from_slice(&crc.to_le_bytes());
            h.extend_from_slice(&(data.len() as u32).to_le_bytes());
            h.extend_from_slice(&size.to_le_bytes());
            h.extend_from_slice(&(name.len() as u16).to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes()); // extra
            if central {
                h.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
                h.extend_from_slice(&0u32.to_le_bytes()); // external attributes
                h.extend_from_slice(&offset.to_le_bytes());
            }
            h.extend_from_slice(name.as_bytes());
            h
        };
        out.extend(header(0x0403_4b50, false));
        out.extend_from_slice(data);
        central.extend(header(0x0201_4b50, true));
    }
    let start = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(parts.len() as u16).to_le_bytes());
    out.extend_from_slice(&(parts.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&start.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// A raw deflate stream (one block of fixed Huffman codes) of `head`, `count` spaces and
/// `tail`: the spaces as one literal then back-references of 258 bytes at distance 1, 13 bits
/// each, so about 160 times smaller than what they inflate to.
fn deflate_bomb(head: &[u8], count: u64, tail: &[u8]) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        bit: u32,
    }
    impl Bits {
        /// `n` bits of `value`, most significant first (Huffman codes), into the stream whose
        /// bytes fill from their least significant bit.
        fn code(&mut self, value: u32, n: u32) {
            for i in (0..n).rev() {
                if self.bit == 0 {
                    self.out.push(0);
                }
                let last = self.out.len() - 1;
                self.out[last] |= (((value >> i) & 1) as u8) << self.bit;
                self.bit = (self.bit + 1) % 8;
            }
        }
        /// A literal byte below 144: its fixed code is 8 bits, 0x30 + byte.
        fn literal(&mut self, byte: u8) {
            assert!(byte < 144);
            self.code(0x30 + u32::from(byte), 8);
        }
    }
    let mut bits = Bits {
        out: Vec::new(),
        bit: 0,
    };
    bits.code(1, 1); // last block
    bits.code(0b10, 2); // fixed Huffman codes (type 1, written least significant bit first)
    head.iter().for_each(|&b| bits.literal(b));
    bits.literal(b' ');
    let mut left = count - 1;
    let repeat = |bits: &mut Bits| {
        bits.code(0b1100_0101, 8); // length 258 (symbol 285)
        bits.code(0, 5); // distance 1
    };
    while left >= 258 && bits.bit != 0 {
        repeat(&mut bits);
        left -= 258;
    }
    // Byte-aligned, eight references are 13 bytes, the same every time.
    let start = bits.out.len();
    if left >= 8 * 258 {
        (0..8).for_each(|_| repeat(&mut bits));
        left -= 8 * 258;
    }
    let group = bits.out[start..].to_vec();
    while left >= 8 * 258 {
        bits.out.extend_from_slice(&group);
        left -= 8 * 258;
    }
    while left >= 258 {
        repeat(&mut bits);
        left -= 258;
    }
    for _ in 0..left {
        bits.literal(b' ');
    }
    tail.iter().for_each(|&b| bits.literal(b));
    bits.code(0, 7); // end of block (symbol 256)
    bits.out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// Runs a case through its reader.
fn read(case: &Case, reference: &Reference, registry: &Registry) -> Outcome {
    let path = Path::new(CORPUS).join(&case.file);
    let bytes;
    let source = match case.file.strip_prefix("generated/") {
        Some(name) => {
            bytes = generated_bytes(name);
            if let Some(dir) = std::env::var_os("BAD_CORPUS_DUMP") {
                std::fs::write(Path::new(&dir).join(name), &bytes).expect("dump");
            }
            Source::Bytes {
                name: &case.file,
                bytes: &bytes,
            }
        }
        None => Source::Path(&path),
    };
    let options = ReadOptions::default();
    let debug = |value: &dyn std::fmt::Debug| format!("{value:?}");
    let result: Result<(String, Vec<ingest::Issue>), Issues> = match case.reader.as_str() {
        "activity" => read_activity(source, &options, reference, registry),
        "registry" => ingest::registry::read_registry(source, reference, &options)
            .map(|r| (debug(&r.iter().collect::<Vec<_>>()), Vec::new())),
        "coefficients" => match source {
            Source::Path(path) => {
                ingest::coefficients::load_set_with_notes(path, reference, &options)
            }
            Source::Bytes { name, .. } => ingest::coefficients::build_with_notes(
                accounting::coefficient::SetMeta {
                    id: "generated".to_string(),
                    edition: 0,
                    title: "generated".to_string(),
                    effective_from: None,
                    synthetic: true,
                    provenance: "generated".to_string(),
                    key_migrations: Vec::new(),
                },
                &[(source, name.to_string())],
                reference,
                &options,
            ),
        }
        .map(|(set, notes)| {
            let rows: String = set
                .rows()
                .iter()
                .map(|row| {
                    format!(
                        "row {}: generation={} unit={} removal={:?}; ",
                        row.origin.row,
                        row.generation.canonical(),
                        row.unit,
                        row.removal
                    )
                })
                .collect();
            (format!("{} rows: {rows}", set.rows().len()), notes)
        }),
        "permit" => ingest::permit::read_permit_reports_with_warnings(source, reference, &options)
            .map(|(lines, warnings)| (debug(&lines), warnings.into_vec())),
        "domestic" => ingest::sources::read_area_activity(
            source,
            accounting::sources::AreaKind::Domestic,
            reference,
            &options,
        )
        .map(|rows| (debug(&rows.rows), Vec::new())),
        "mobile" => ingest::sources::read_mobile(source, reference, &options)
            .map(|rows| (debug(&rows.rows), Vec::new())),
        "caps" => ingest::quota::read_caps(source, reference, &options)
            .map(|caps| (debug(&caps), Vec::new())),
        other => panic!("unknown reader {other}"),
    };
    match result {
        Ok((summary, warnings)) => Outcome::Accepted(summary, warnings),
        Err(issues) => Outcome::Refused(issues),
    }
}

/// Reads an activity file row by row against the sample registry; refused when any issue is
/// an error, else the activity values read, `activity=V` each.
fn read_activity(
    source: Source<'_>,
    options: &ReadOptions,
    reference: &Reference,
    registry: &Registry,
) -> Result<(String, Vec<ingest::Issue>), Issues> {
    let mut issues = Issues::new();
    let mut reader = ingest::activity::ActivityReader::open(source, options)?;
    let mut summary = String::new();
    loop {
        let next = reader.next(reference, registry, &mut issues, |item| {
            let parameters = item.row.parameters;
            format!(
                "row {}: product={:?} activity={:?} parameters={parameters:?}; ",
                item.row.row, item.row.product, item.row.activity
            )
        });
        match next {
            Ok(ingest::activity::Next::Row(text)) => summary.push_str(&text),
            Ok(ingest::activity::Next::Bad) => {}
            Ok(ingest::activity::Next::End) => break,
            Err(issue) => {
                issues.push(issue);
                break;
            }
        }
    }
    if issues.has_errors() {
        return Err(issues);
    }
    let warnings = issues.into_vec();
    Ok((
        format!("{} rows: {summary}", summary.matches("row ").count()),
        warnings,
    ))
}

/// Whether `outcome` is what `case` expects; the reason when not.
fn check(case: &Case, outcome: &Outcome) -> Result<(), String> {
    match (case.outcome.as_str(), outcome) {
        ("refused", Outcome::Refused(_)) | ("warned", Outcome::Accepted(_, _)) => {
            let found: Vec<&ingest::Issue> = match outcome {
                Outcome::Refused(issues) => issues.iter().collect(),
                Outcome::Accepted(_, warnings) => warnings.iter().collect(),
            };
            let matching = found.iter().any(|issue| {
                issue.code == case.code
                    && issue.location.to_string() == case.location
                    && issue.to_string().contains(&case.message)
            });
            if matching {
                Ok(())
            } else {
                Err(format!("no issue matches; found:\n{}", render(&found)))
            }
        }
        ("accepted", Outcome::Accepted(summary, _)) if summary.contains(&case.message) => Ok(()),
        ("accepted", Outcome::Accepted(summary, _)) => Err(format!(
            "accepted, but the summary lacks `{}`: {summary}",
            case.message
        )),
        (expected, Outcome::Refused(issues)) => Err(format!(
            "expected {expected}, refused:\n{}",
            render(&issues.iter().collect::<Vec<_>>())
        )),
        (expected, Outcome::Accepted(summary, _)) => {
            Err(format!("expected {expected}, accepted: {summary}"))
        }
    }
}

fn render(issues: &[&ingest::Issue]) -> String {
    issues
        .iter()
        .take(12)
        .map(|i| format!("    {} | {} | {i}\n", i.code, i.location))
        .collect()
}

/// Every case of the manifest, through its reader; no panic; every failure listed at once.
#[test]
fn every_case_gives_its_located_issue_or_its_documented_acceptance() {
    let reference = crate::support::reference();
    let registry = ingest::registry::read_registry(
        Source::Path(Path::new(SAMPLE_REGISTRY)),
        &reference,
        &ReadOptions::default(),
    )
    .expect("the sample registry reads");
    let show = std::env::var_os("BAD_CORPUS_SHOW").is_some();
    let mut failures = String::new();
    for case in cases() {
        let outcome = catch_unwind(AssertUnwindSafe(|| read(&case, &reference, &registry)));
        let verdict = match &outcome {
            Ok(outcome) => check(&case, outcome),
            Err(_) => Err("PANICKED".to_string()),
        };
        if show {
            match &outcome {
                Ok(Outcome::Refused(issues)) => println!(
                    "{} [{}] refused:\n{}",
                    case.file,
                    case.reader,
                    render(&issues.iter().collect::<Vec<_>>())
                ),
                Ok(Outcome::Accepted(summary, warnings)) => println!(
                    "{} [{}] accepted: {}\n{}",
                    case.file,
                    case.reader,
                    summary.chars().take(300).collect::<String>(),
                    render(&warnings.iter().collect::<Vec<_>>())
                ),
                Err(_) => println!("{} PANICKED", case.file),
            }
        }
        if let Err(why) = verdict {
            let _ = writeln!(failures, "{} ({}): {why}", case.file, case.reader);
        }
    }
    assert!(failures.is_empty(), "cases that failed:\n{failures}");
}

/// Every file of the corpus has a line in the manifest and every line names a file, so that a
/// case cannot be added without its expectation, nor an expectation outlive its file.
#[test]
fn the_manifest_and_the_corpus_list_the_same_files() {
    let mut on_disk = BTreeSet::new();
    for dir in std::fs::read_dir(CORPUS).expect("the corpus") {
        let dir = dir.expect("an entry").path();
        if !dir.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&dir).expect("a folder") {
            let path = file.expect("an entry").path();
            let relative = path.strip_prefix(CORPUS).expect("inside the corpus");
            on_disk.insert(relative.to_string_lossy().into_owned());
        }
    }
    let listed: BTreeSet<String> = cases()
        .into_iter()
        .map(|c| c.file)
        .filter(|f| !f.starts_with("generated/"))
        .collect();
    let missing: Vec<_> = on_disk.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&on_disk).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "files without an expectation: {missing:?}; expectations without a file: {stale:?}"
    );
}

/// A UTF-8 file with one damaged character is read as UTF-8: the damaged cell is the one
/// reported, not every Chinese cell of the file as mojibake of GB18030.
#[test]
fn a_damaged_utf8_character_is_reported_alone() {
    let reference = crate::support::reference();
    let registry = ingest::registry::read_registry(
        Source::Path(Path::new(SAMPLE_REGISTRY)),
        &reference,
        &ReadOptions::default(),
    )
    .expect("the sample registry reads");
    for (file, cell) in [
        ("activity/invalid-utf8.csv", "row 2, column `product`"),
        (
            "activity/truncated-mid-character.csv",
            "row 3, column `activity_unit`",
        ),
    ] {
        let path = Path::new(CORPUS).join(file);
        let Err(issues) = read_activity(
            Source::Path(&path),
            &ReadOptions::default(),
            &reference,
            &registry,
        ) else {
            panic!("{file} is refused");
        };
        let encoding: Vec<_> = issues.iter().filter(|i| i.code == "bad-encoding").collect();
        assert_eq!(encoding.len(), 1, "{file}: {issues}");
        assert!(
            encoding[0].location.to_string().ends_with(cell),
            "{file}: {issues}"
        );
        assert!(
            encoding[0]
                .to_string()
                .contains("UTF-8 but for a few bytes"),
            "{issues}"
        );
    }
}

/// Bad files through `npsc validate`: exit status 1 and the reader's located issue on standard
/// output; the documented acceptances exit 0.
#[test]
fn validate_reports_each_case_located() {
    let mut failures = String::new();
    for case in cases() {
        let kind = match case.reader.as_str() {
            "activity" | "registry" | "coefficients" => case.reader.as_str(),
            _ => continue,
        };
        if case.file.starts_with("generated/") {
            continue;
        }
        let path = format!("{CORPUS}/{}", case.file);
        let (status, out, err) = npsc(&["validate", "--kind", kind, &path]);
        let expected_status = if case.outcome == "refused" { 1 } else { 0 };
        let located = case.outcome != "refused"
            || out.lines().any(|l| {
                l.starts_with(&format!("error[{}]: {}: ", case.code, case.location))
                    && l.contains(&case.message)
            });
        if status != expected_status || !located {
            let _ = writeln!(failures, "{path}: status {status}\n{out}{err}");
        }
    }
    assert!(failures.is_empty(), "{failures}");
}

/// The database of a refused import is byte for byte what it was, and so are its listings.
struct Db {
    dir: tempfile::TempDir,
    url: String,
}

impl Db {
    fn new() -> Db {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("npsc.db").display());
        Db { dir, url }
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let mut all = args.to_vec();
        all.extend(["--database", &self.url, "--actor", "tester"]);
        npsc(&all)
    }

    /// Every file of the database folder (the database, its journal or WAL) with its bytes,
    /// and the listings a user sees.
    fn state(&self) -> (Vec<(String, Vec<u8>)>, String) {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(self.dir.path())
            .expect("the folder")
            .map(|e| {
                let path = e.expect("an entry").path();
                let bytes = std::fs::read(&path).expect("a file");
                (path.display().to_string(), bytes)
            })
            .collect();
        files.sort();
        let mut listing = String::new();
        for args in [
            &["coeff", "list"][..],
            &["registry", "show", "91152502MA2BPPBJ0K"][..],
            &["audit"][..],
        ] {
            let (_, out, _) = self.run(args);
            listing.push_str(&out);
        }
        (files, listing)
    }
}

#[test]
fn refused_imports_leave_the_database_unchanged() {
    let db = Db::new();
    let (status, _, err) = db.run(&["coeff", "import", "../coefficients/npsc1-excerpt"]);
    assert_eq!(status, 0, "{err}");
    let (status, _, err) = db.run(&["registry", "import", SAMPLE_REGISTRY, "--apply"]);
    assert_eq!(status, 0, "{err}");
    let before = db.state();
    assert!(before.1.contains("npsc1-excerpt@1"), "{}", before.1);

    // Large cases are written to a folder of their own.
    let generated = tempfile::tempdir().expect("tempdir");
    let mut imports: Vec<(String, &str, String)> = Vec::new();
    for case in cases().into_iter().filter(|c| c.outcome == "refused") {
        let command = match case.reader.as_str() {
            "coefficients" => "coeff",
            "registry" => "registry",
            _ => continue,
        };
        let path = match case.file.strip_prefix("generated/") {
            Some(name) => {
                let path = generated.path().join(name);
                std::fs::write(&path, generated_bytes(name)).expect("write");
                path.display().to_string()
            }
            None => format!("{CORPUS}/{}", case.file),
        };
        imports.push((path, command, case.code.clone()));
    }
    // The workbook bombs, as coefficient tables and as registries.
    for (name, code) in [
        ("excel-far-cell.xlsx", "sheet-too-large"),
        ("excel-zip-bomb.xlsx", "workbook-too-large"),
        ("excel-shared-string-bomb.xlsx", "sheet-too-large"),
        ("xls-shared-string-bomb.xls", "sheet-too-large"),
        ("excel/xls-far-cell.xls", "sheet-too-large"),
        ("excel/xls-dimensions-claim.xls", "sheet-too-large"),
        ("excel/xls-four-full-sheets.xls", "sheet-too-large"),
        ("excel/xls-sector-loop.xls", "bad-workbook"),
        ("excel/xlsb-far-cell.xlsb", "sheet-too-large"),
        ("excel/ods-repeat-bomb.ods", "sheet-too-large"),
        ("excel/ods-sheets-together.ods", "sheet-too-large"),
        ("excel/ods-unclosed-table.ods", "bad-workbook"),
    ] {
        let path = if name.starts_with("excel/") {
            format!("{CORPUS}/{name}")
        } else {
            let path = generated.path().join(name);
            std::fs::write(&path, generated_bytes(name)).expect("write");
            path.display().to_string()
        };
        for command in ["coeff", "registry"] {
            imports.push((path.clone(), command, code.to_string()));
        }
    }
    assert!(imports.len() > 30, "{}", imports.len());
    for (path, command, code) in &imports {
        let args: Vec<&str> = match *command {
            "coeff" => vec!["coeff", "import", path],
            _ => vec!["registry", "import", path, "--apply"],
        };
        let (status, out, err) = db.run(&args);
        assert_eq!(status, 1, "{path} is refused: {out}{err}");
        assert!(err.contains(&format!("[{code}]")), "{path}: {err}");
        assert!(db.state() == before, "{path}: the database changed");
    }
}

/// A formula that divides by zero only for some parameter values is stored, and accounting a
/// row that hits the division is refused with the row's location, writing nothing.
#[test]
fn division_by_zero_at_accounting_is_located_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coefficients = crate::support::write(
        dir.path(),
        "coefficients.csv",
        "industry_code,product,raw_material,process,scale,pollutant,unit,generation_coefficient,\
         treatment,removal_efficiency\n\
         4430,蒸汽,煤炭,层燃炉,所有规模,二氧化硫,千克/吨-原料,16/(S-1.2),直排,0\n",
    );
    let activity = crate::support::write(
        dir.path(),
        "activity.csv",
        "year,uscc,product,raw_material,process,scale,treatment,activity,activity_unit,parameters\n\
         2022,91130109MAK4GR6066,蒸汽,煤炭,层燃炉,所有规模,直排,12000,吨,S=1.3\n\
         2022,91130109MAK4GR6066,蒸汽,煤炭,层燃炉,所有规模,直排,12000,吨,S=1.2\n",
    );
    let out = dir.path().join("totals.csv");
    let (status, stdout, stderr) = npsc(&[
        "account",
        "--coefficients",
        s(&coefficients),
        "--registry",
        SAMPLE_REGISTRY,
        "--activity",
        s(&activity),
        "--out",
        s(&out),
    ]);
    assert_eq!(status, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains("row 3") && stderr.contains("division by zero"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing is written");
}

/// Bad activity files through `npsc account`: exit 1, the located issue, no output file.
#[test]
fn account_refuses_bad_activity_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    for case in cases()
        .into_iter()
        .filter(|c| c.reader == "activity" && c.outcome == "refused")
    {
        let path = match case.file.strip_prefix("generated/") {
            Some(name) => {
                let path = dir.path().join(name);
                std::fs::write(&path, generated_bytes(name)).expect("write");
                path.display().to_string()
            }
            None => format!("{CORPUS}/{}", case.file),
        };
        let out = dir.path().join("totals.csv");
        let (status, stdout, stderr) = npsc(&[
            "account",
            "--coefficients",
            "../coefficients/npsc1-excerpt",
            "--registry",
            SAMPLE_REGISTRY,
            "--activity",
            &path,
            "--out",
            s(&out),
        ]);
        assert_eq!(status, 1, "{path}: {stdout}{stderr}");
        assert!(
            stderr.contains(&format!("[{}]", case.code)),
            "{path}: {stderr}"
        );
        if !case.file.starts_with("generated/") {
            assert!(stderr.contains(&case.location), "{path}: {stderr}");
        }
        assert!(!out.exists(), "{path}: nothing is written");
    }
}
