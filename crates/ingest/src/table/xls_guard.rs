//! What calamine will allocate for an `.xls` workbook, checked before it opens it.
//!
//! calamine's `Xls::new` reads every sheet of the workbook at once (unlike `.xlsx` and `.xlsb`,
//! whose sheets ingest reads cell by cell), and while doing so it
//! - reserves 40 bytes a cell for the rectangle a sheet's DIMENSIONS record claims,
//! - makes each sheet's used area dense, 32 bytes a cell from the first to the last cell, and
//!   the area of its formulas too (24 bytes a cell),
//! - copies a shared string into every cell that refers to it,
//! - follows the compound file's sector chains as far as they claim to go (forever, for a
//!   directory chain that loops).
//!
//! A few kilobytes can so ask for terabytes, and an allocation that fails aborts the process
//! (no panic to catch). [`check`] walks the same bytes the way calamine 0.38 does (`cfb.rs`, and
//! `Xls::parse_workbook` in `xls.rs`), allocating nothing proportional to what the file claims,
//! and refuses the workbook before calamine sees it when one sheet's area, the sheets' areas
//! together, their text together or a DIMENSIONS claim is past ingest's limits, or when a sector
//! chain loops. Where calamine would stop with an error the walk stops too and leaves the
//! message to calamine; where it is unsure, it counts more than calamine would, never less.

use std::cmp::min;

use encoding_rs::{BIG5, EUC_KR, Encoding, GBK, SHIFT_JIS, UTF_16LE, WINDOWS_1252};

use super::{MAX_SHEET_CELLS, MAX_SHEET_TEXT, WorkbookProblem, column_letter};

const SIGNATURE: &[u8; 8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";
const RESERVED_SECTORS: u32 = 0xFFFF_FFFA;
const DIFSECT: u32 = 0xFFFF_FFFC;
const ENDOFCHAIN: u32 = 0xFFFF_FFFE;

/// Why the walk ended early.
enum Stop {
    /// calamine fails here too, with its own message (or a panic, which ingest catches).
    Calamine,
    /// The workbook is refused.
    Refuse(WorkbookProblem),
}

type Step<T> = Result<T, Stop>;

/// Whether bytes are an OLE compound file (what `.xls` workbooks are).
pub(super) fn is_compound_file(bytes: &[u8]) -> bool {
    bytes.starts_with(SIGNATURE)
}

/// Refuses an `.xls` workbook that calamine could not open within ingest's limits (see the
/// module documentation); `Ok` when it can, or when calamine will refuse it by itself.
pub(super) fn check(bytes: &[u8]) -> Result<(), WorkbookProblem> {
    let walked = workbook_stream(bytes).and_then(|stream| scan_workbook(&stream));
    match walked {
        Ok(()) | Err(Stop::Calamine) => Ok(()),
        Err(Stop::Refuse(problem)) => Err(problem),
    }
}

// ---------------------------------------------------------------------------------------------
// The compound file (MS-CFB), as calamine's `cfb.rs` reads it.

/// calamine reads the file through a cursor shared by the sectors and the mini sectors.
struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl Reader<'_> {
    fn read(&mut self, into: &mut [u8]) -> usize {
        let n = min(into.len(), self.bytes.len() - self.position);
        into[..n].copy_from_slice(&self.bytes[self.position..self.position + n]);
        self.position += n;
        n
    }
}

/// calamine's `Sectors`: the sectors read so far (zero-padded past the end of the file).
struct Sectors {
    data: Vec<u8>,
    size: usize,
    maxid: u32,
}

impl Sectors {
    fn get(&mut self, id: u32, reader: &mut Reader<'_>) -> Step<&[u8]> {
        if self.maxid < id {
            return Err(Stop::Calamine);
        }
        let start = id as usize * self.size;
        let end = start + self.size;
        if end > self.data.len() {
            let mut len = self.data.len();
            self.data.resize(end, 0);
            while len < end {
                let read = reader.read(&mut self.data[len..end]);
                if read == 0 {
                    // calamine slices `data[start..len]`, which panics when `len < start`.
                    return self.data.get(start..len).ok_or(Stop::Calamine);
                }
                len += read;
            }
        }
        Ok(&self.data[start..end])
    }

    /// calamine's `get_chain`, refusing a chain longer than the file has sectors: it must
    /// visit a sector twice, so it loops, and calamine would follow it until `len` bytes (for
    /// the directory, forever).
    fn chain(
        &mut self,
        mut id: u32,
        fats: &[u32],
        reader: &mut Reader<'_>,
        len: usize,
    ) -> Step<Vec<u8>> {
        let mut chain = Vec::new();
        let mut steps = 0u64;
        while id != ENDOFCHAIN {
            steps += 1;
            if steps > u64::from(self.maxid) + 1 {
                return Err(Stop::Refuse(damaged(
                    "a sector chain of its compound file loops (calamine would follow it \
                     without end)",
                )));
            }
            let sector = self.get(id, reader)?;
            let to_copy = sector.len().min(len - chain.len());
            chain.extend_from_slice(&sector[..to_copy]);
            if chain.len() >= len {
                break;
            }
            id = *fats.get(id as usize).ok_or(Stop::Calamine)?;
        }
        Ok(chain)
    }
}

struct Directory {
    name: String,
    start: u32,
    len: usize,
}

fn u16_at(bytes: &[u8], at: usize) -> Step<u16> {
    let b = bytes.get(at..at + 2).ok_or(Stop::Calamine)?;
    Ok(u16::from_le_bytes([b[0], b[1]]))
}

fn u32_at(bytes: &[u8], at: usize) -> Step<u32> {
    let b = bytes.get(at..at + 4).ok_or(Stop::Calamine)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// calamine's `to_u32`, which asserts whole words.
fn words(bytes: &[u8]) -> Step<impl Iterator<Item = u32> + '_> {
    if !bytes.len().is_multiple_of(4) {
        return Err(Stop::Calamine);
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]])))
}

/// The `Workbook` (or `Book`) stream, as calamine's `Cfb::new` and `get_stream` find it.
fn workbook_stream(bytes: &[u8]) -> Step<Vec<u8>> {
    let mut reader = Reader { bytes, position: 0 };
    let mut header = [0u8; 512];
    let n = reader.read(&mut header);
    if n < header.len() || !header.starts_with(SIGNATURE) {
        return Err(Stop::Calamine);
    }
    let version = u16_at(&header, 26)?;
    let large = match u16_at(&header, 30)? {
        0x0009 => false,
        0x000C => {
            let mut rest = [0u8; 4096 - 512];
            if reader.read(&mut rest) < rest.len() {
                return Err(Stop::Calamine);
            }
            true
        }
        _ => return Err(Stop::Calamine),
    };
    if u16_at(&header, 32)? != 0x0006 {
        return Err(Stop::Calamine);
    }
    let size = if large { 4096 } else { 512 };
    let dir_start = u32_at(&header, 48)?;
    let mini_fat_start = u32_at(&header, 60)?;
    let mini_fat_len = u32_at(&header, 64)? as usize;
    let difat_start = u32_at(&header, 68)?;
    let mut difat: Vec<u32> = words(&header[76..512])?.collect();
    let maxid = bytes.len() / size;
    let mut sectors = Sectors {
        data: Vec::new(),
        size,
        maxid: u32::try_from(maxid).map_err(|_| Stop::Calamine)?,
    };

    let mut id = difat_start;
    let mut difat_sectors = 0usize;
    while id < RESERVED_SECTORS {
        difat_sectors += 1;
        if difat_sectors > maxid.saturating_add(1) {
            return Err(Stop::Calamine);
        }
        difat.extend(words(sectors.get(id, &mut reader)?)?);
        id = difat.pop().ok_or(Stop::Calamine)?;
    }
    // calamine loads every sector the DIFAT lists as a FAT sector, however often it is listed:
    // more than the 109 of the header plus one per sector of the file is a damaged file (and
    // up to 128 times its size in memory).
    let listed = difat.iter().filter(|&&id| id < DIFSECT).count();
    if listed > 109 + maxid + 1 {
        return Err(Stop::Refuse(damaged(&format!(
            "its compound file's allocation table lists {listed} sectors, more than the \
             file's {maxid}"
        ))));
    }
    let mut fats = Vec::new();
    for id in difat.into_iter().filter(|&id| id < DIFSECT) {
        fats.extend(words(sectors.get(id, &mut reader)?)?);
    }

    let directory = sectors.chain(dir_start, &fats, &mut reader, usize::MAX)?;
    let mut directories = Vec::new();
    for entry in directory.chunks_exact(128) {
        let mut name = UTF_16LE.decode(&entry[..64]).0.into_owned();
        if let Some(end) = name.bytes().position(|b| b == 0) {
            name.truncate(end);
        }
        let len = if large {
            let b = &entry[120..128];
            usize::try_from(u64::from_le_bytes(
                b.try_into().map_err(|_| Stop::Calamine)?,
            ))
            .map_err(|_| Stop::Calamine)?
        } else {
            u32_at(entry, 120)? as usize
        };
        directories.push(Directory {
            name,
            start: u32_at(entry, 116)?,
            len,
        });
    }
    if directories.is_empty() || (version != 3 && directories[0].start == ENDOFCHAIN) {
        return Err(Stop::Calamine);
    }
    let (mini_fats, mini_stream) = if mini_fat_len > 0 {
        let mini_stream =
            sectors.chain(directories[0].start, &fats, &mut reader, directories[0].len)?;
        let mini_fat = sectors.chain(mini_fat_start, &fats, &mut reader, mini_fat_len * size)?;
        (words(&mini_fat)?.collect(), mini_stream)
    } else {
        (Vec::new(), Vec::new())
    };
    let mut mini_sectors = Sectors {
        data: mini_stream,
        size: 64,
        maxid: u32::try_from(maxid * 8).map_err(|_| Stop::Calamine)?,
    };

    let mut stream = |name: &str| -> Step<Vec<u8>> {
        let entry = directories
            .iter()
            .find(|d| d.name.as_bytes().eq_ignore_ascii_case(name.as_bytes()))
            .ok_or(Stop::Calamine)?;
        if entry.len < 4096 {
            mini_sectors.chain(entry.start, &mini_fats, &mut reader, entry.len)
        } else {
            sectors.chain(entry.start, &fats, &mut reader, entry.len)
        }
    };
    match stream("Workbook") {
        Err(Stop::Refuse(problem)) => Err(Stop::Refuse(problem)),
        Ok(workbook) => Ok(workbook),
        Err(Stop::Calamine) => stream("Book"),
    }
}

fn damaged(what: &str) -> WorkbookProblem {
    WorkbookProblem {
        code: "bad-workbook",
        message: format!("the workbook is damaged: {what}"),
        hint: "open it in Excel and save it again as .xlsx".to_string(),
        sheet: None,
    }
}

// ---------------------------------------------------------------------------------------------
// The BIFF records (MS-XLS), as calamine's `Xls::parse_workbook` reads them.

/// One record with the data of the CONTINUE records that follow it.
struct Record<'a> {
    kind: u16,
    data: &'a [u8],
    cont: Vec<&'a [u8]>,
}

impl<'a> Record<'a> {
    fn continue_record(&mut self) -> bool {
        if self.cont.is_empty() {
            false
        } else {
            self.data = self.cont.remove(0);
            true
        }
    }

    fn skip(&mut self, mut len: usize) -> Option<()> {
        while len > 0 {
            if self.data.is_empty() && !self.continue_record() {
                return None;
            }
            let l = min(len, self.data.len());
            self.data = &self.data[l..];
            len -= l;
        }
        Some(())
    }
}

/// calamine's `RecordIter`.
struct Records<'a> {
    stream: &'a [u8],
}

impl<'a> Iterator for Records<'a> {
    type Item = Step<Record<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.stream.len() < 4 {
            return (!self.stream.is_empty()).then_some(Err(Stop::Calamine));
        }
        let kind = u16::from_le_bytes([self.stream[0], self.stream[1]]);
        let len = usize::from(u16::from_le_bytes([self.stream[2], self.stream[3]]));
        if self.stream.len() < len + 4 {
            return Some(Err(Stop::Calamine));
        }
        let (record, next) = self.stream.split_at(len + 4);
        self.stream = next;
        let mut cont = Vec::new();
        while self.stream.len() > 4 && self.stream[..2] == [0x3C, 0x00] {
            let len = usize::from(u16::from_le_bytes([self.stream[2], self.stream[3]]));
            if self.stream.len() < len + 4 {
                return Some(Err(Stop::Calamine));
            }
            let (part, next) = self.stream.split_at(len + 4);
            cont.push(&part[4..]);
            self.stream = next;
        }
        Some(Ok(Record {
            kind,
            data: &record[4..],
            cont,
        }))
    }
}

/// The text encodings calamine decodes with: UTF-16 (code page 1200, the default) keeps a
/// string's UTF-8 length within 3 bytes per 2-byte unit and 2 per 1-byte character; any other
/// within 3 bytes per byte it decodes (a 1-byte character is widened to 2 bytes first).
fn utf8_bound(code_page: u16, wide: bool, chars: u64) -> u64 {
    match (code_page, wide) {
        (1200 | 1201, true) => 3 * chars,
        (1200 | 1201, false) => 2 * chars,
        (_, _) => 6 * chars,
    }
}

/// The UTF-8 length bound of each string of the shared string table (calamine's `parse_sst`
/// and `read_rich_extended_string`); the strings read before calamine would fail.
fn shared_string_bounds(record: &mut Record<'_>, code_page: u16) -> Vec<u64> {
    let mut bounds = Vec::new();
    if record.data.len() < 8 {
        return bounds;
    }
    record.data = &record.data[8..];
    while !record.data.is_empty() || record.continue_record() {
        match rich_string_bound(record, code_page) {
            Some(bound) => bounds.push(bound),
            None => break,
        }
    }
    bounds
}

fn rich_string_bound(record: &mut Record<'_>, code_page: u16) -> Option<u64> {
    if record.data.is_empty() {
        return Some(0);
    }
    if record.data.len() < 3 {
        return None;
    }
    let mut left = usize::from(u16::from_le_bytes([record.data[0], record.data[1]]));
    let flags = record.data[2];
    record.data = &record.data[3..];
    let mut wide = flags & 0x1 != 0;
    let mut runs = 0;
    let mut extra = 0;
    if flags & 0x8 != 0 {
        runs = usize::from(u16::from_le_bytes(record.data.get(..2)?.try_into().ok()?));
        record.data = &record.data[2..];
    }
    if flags & 0x4 != 0 {
        let b: [u8; 4] = record.data.get(..4)?.try_into().ok()?;
        // calamine reads an i32 and casts it: a negative size is huge.
        extra = i32::from_le_bytes(b) as usize;
        record.data = &record.data[4..];
    }
    let mut bound = 0;
    while left > 0 {
        let (chars, bytes) = if wide {
            let l = min(record.data.len() / 2, left);
            (l, 2 * l)
        } else {
            let l = min(record.data.len(), left);
            (l, l)
        };
        bound += utf8_bound(code_page, wide, chars as u64);
        record.data = &record.data[bytes..];
        left -= chars;
        if left > 0 {
            if !record.continue_record() {
                return None;
            }
            wide = *record.data.first()? & 0x1 != 0;
            record.data = &record.data[1..];
        }
    }
    record.skip(runs * 4)?;
    record.skip(extra)?;
    Some(bound)
}

/// A sheet name for messages: calamine's `parse_short_string` for BIFF8 and UTF-16, else the
/// workbook's code page where it is a common one.
fn sheet_name(data: &[u8], biff8: bool, code_page: u16) -> String {
    let Some((&count, rest)) = data.split_first() else {
        return String::new();
    };
    let count = usize::from(count);
    let (wide, rest) = match (biff8, rest.split_first()) {
        (true, Some((&flags, rest))) => (Some(flags & 0x1 != 0), rest),
        (true, None) => return String::new(),
        (false, _) => (None, rest),
    };
    let mut name = match wide {
        Some(true) => UTF_16LE
            .decode(&rest[..min(rest.len() / 2, count) * 2])
            .0
            .into_owned(),
        Some(false) => rest[..min(rest.len(), count)]
            .iter()
            .map(|&b| char::from(b))
            .collect(),
        None => {
            let encoding: &'static Encoding = match code_page {
                936 => GBK,
                950 => BIG5,
                932 => SHIFT_JIS,
                949 => EUC_KR,
                _ => WINDOWS_1252,
            };
            encoding
                .decode_without_bom_handling(&rest[..min(rest.len(), count)])
                .0
                .into_owned()
        }
    };
    name.retain(|c| c != '\0');
    name
}

/// A rectangle of cells, absolute and 0-based.
#[derive(Clone, Copy)]
struct Area {
    top: u32,
    left: u32,
    bottom: u32,
    right: u32,
}

impl Area {
    fn add(area: &mut Option<Area>, (row, column): (u32, u32), width: u32) {
        let right = column.saturating_add(width.saturating_sub(1));
        let a = area.get_or_insert(Area {
            top: row,
            left: column,
            bottom: row,
            right,
        });
        (a.top, a.left) = (a.top.min(row), a.left.min(column));
        (a.bottom, a.right) = (a.bottom.max(row), a.right.max(right));
    }

    fn cells(self) -> u64 {
        (u64::from(self.bottom) - u64::from(self.top) + 1)
            * (u64::from(self.right) - u64::from(self.left) + 1)
    }

    fn span(self) -> String {
        let at = |r: u32, c: u32| format!("{}{}", column_letter(c as usize), u64::from(r) + 1);
        format!(
            "{}:{}",
            at(self.top, self.left),
            at(self.bottom, self.right)
        )
    }
}

const STRAY_CELLS: &str = "delete the stray cells far from the table (Ctrl+End in Excel goes \
                           to the last one), or save the table as .xlsx or CSV";
const OTHER_SHEETS: &str = "delete the sheets that do not hold the table, or save the table as \
                            .xlsx or CSV";

fn too_large(sheet: &str, message: String, hint: &str) -> Stop {
    Stop::Refuse(WorkbookProblem {
        code: "sheet-too-large",
        message,
        hint: hint.to_string(),
        sheet: Some(sheet.to_string()),
    })
}

/// The globals substream, then each sheet's, counting what calamine will hold.
fn scan_workbook(stream: &[u8]) -> Step<()> {
    let mut sheets = Vec::new();
    let mut shared = Vec::new();
    let mut code_page = 1200u16;
    let mut biff8 = true;
    for record in (Records { stream }) {
        let mut record = record?;
        match record.kind {
            0x002F if u16_at(record.data, 0)? != 0 => return Err(Stop::Calamine),
            0x0042 => code_page = u16_at(record.data, 0)?,
            0x0085 => {
                let position = u32_at(record.data, 0)? as usize;
                let name = sheet_name(record.data.get(6..).unwrap_or_default(), biff8, code_page);
                sheets.push((position, name));
            }
            0x0809 => {
                let version = u16_at(record.data, 0)?;
                let kind = u16_at(record.data, 2).unwrap_or(0);
                biff8 = match version {
                    0x0200 | 0x0002 | 0x0007 | 0x0300 | 0x0400 | 0x0500 => false,
                    0 => kind != 0x1000,
                    _ => true,
                };
            }
            0x00FC => shared = shared_string_bounds(&mut record, code_page),
            0x000A => break,
            _ => {}
        }
    }

    // What calamine holds once every sheet is read: cells and text of all sheets together.
    let (mut all_cells, mut all_text) = (0u64, 0u64);
    for (position, name) in &sheets {
        let sheet = stream.get(*position..).ok_or(Stop::Calamine)?;
        let (mut values, mut formulas) = (None, None);
        let mut text = 0u64;
        let mut formula_at = (0, 0);
        let mut seen_bof = false;
        let mut depth = 0usize;
        for record in (Records { stream: sheet }) {
            let record = record?;
            let data = record.data;
            if depth > 0 {
                match record.kind {
                    0x0809 => depth += 1,
                    0x000A => depth -= 1,
                    _ => {}
                }
                continue;
            }
            let at = || -> Step<(u32, u32)> {
                Ok((u32::from(u16_at(data, 0)?), u32::from(u16_at(data, 2)?)))
            };
            match record.kind {
                0x0809 if seen_bof => depth += 1,
                0x0809 => seen_bof = true,
                0x0200 => dimensions(data, name)?,
                0x0203 | 0x0204 | 0x00D6 | 0x0205 | 0x027E => Area::add(&mut values, at()?, 1),
                0x00FD => {
                    Area::add(&mut values, at()?, 1);
                    let index = u32_at(data, 6)? as usize;
                    text += shared.get(index).copied().unwrap_or(0);
                }
                0x0207 => Area::add(&mut values, formula_at, 1),
                0x00BD if data.len() >= 6 => {
                    Area::add(&mut values, at()?, (data.len() as u32 - 6).div_ceil(6));
                }
                0x0006 if data.len() >= 20 => {
                    formula_at = at()?;
                    Area::add(&mut values, formula_at, 1);
                    Area::add(&mut formulas, formula_at, 1);
                }
                0x000A => break,
                _ => {}
            }
        }
        for area in [values, formulas].into_iter().flatten() {
            if area.cells() > MAX_SHEET_CELLS {
                return Err(too_large(
                    name,
                    format!(
                        "the sheet's cells span {}, {} cells, more than the {MAX_SHEET_CELLS} \
                         npsc reads",
                        area.span(),
                        area.cells()
                    ),
                    STRAY_CELLS,
                ));
            }
        }
        all_cells += values.map_or(0, Area::cells) + formulas.map_or(0, Area::cells);
        if all_cells > MAX_SHEET_CELLS {
            return Err(too_large(
                name,
                format!(
                    "the workbook's sheets up to this one span {all_cells} cells together, \
                     more than the {MAX_SHEET_CELLS} npsc reads: every sheet of an .xls \
                     workbook is read at once"
                ),
                OTHER_SHEETS,
            ));
        }
        all_text += text;
        if all_text > MAX_SHEET_TEXT {
            return Err(too_large(
                name,
                format!(
                    "the workbook's text cells up to this sheet would take {} MiB, more than \
                     the {} MiB npsc reads (its shared strings are repeated in many cells)",
                    all_text >> 20,
                    MAX_SHEET_TEXT >> 20
                ),
                "save the table as CSV",
            ));
        }
    }
    Ok(())
}

/// calamine's `parse_dimensions` and the reservation it makes from them: refused past
/// [`MAX_SHEET_CELLS`].
fn dimensions(data: &[u8], sheet: &str) -> Step<()> {
    let (first_row, end_row, mut first_column, end_column) = match data.len() {
        10 => (
            u32::from(u16_at(data, 0)?),
            u32::from(u16_at(data, 2)?),
            u32::from(u16_at(data, 4)?),
            u32::from(u16_at(data, 6)?),
        ),
        14 | 16 => (
            u32_at(data, 0)?,
            u32_at(data, 4)?,
            u32::from(u16_at(data, 8)?),
            u32::from(u16_at(data, 10)?),
        ),
        _ => return Err(Stop::Calamine),
    };
    if 0xFF < first_column || end_column < first_column {
        first_column = 0;
    }
    let (last_row, last_column) = if end_row >= 1 && end_column >= 1 {
        (end_row - 1, end_column - 1)
    } else {
        (first_row, first_column)
    };
    // calamine computes `last - first + 1` in u32 (wrapping in a release build).
    let rows = u64::from(last_row.wrapping_sub(first_row).wrapping_add(1));
    let columns = u64::from(last_column.wrapping_sub(first_column).wrapping_add(1));
    let claimed = rows * columns;
    if claimed > MAX_SHEET_CELLS {
        let area = Area {
            top: first_row,
            left: first_column,
            bottom: last_row,
            right: last_column,
        };
        return Err(too_large(
            sheet,
            format!(
                "the sheet's DIMENSIONS record claims {}, {claimed} cells, more than the \
                 {MAX_SHEET_CELLS} npsc reads",
                area.span()
            ),
            "open the workbook in Excel and save it again (Excel writes the true extent), or \
             save the table as .xlsx or CSV",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut out = kind.to_le_bytes().to_vec();
        out.extend_from_slice(&(data.len() as u16).to_le_bytes());
        out.extend_from_slice(data);
        out
    }

    fn bof(kind: u16) -> Vec<u8> {
        let mut data = 0x0600u16.to_le_bytes().to_vec();
        data.extend_from_slice(&kind.to_le_bytes());
        data.extend_from_slice(&[0; 12]);
        rec(0x0809, &data)
    }

    fn number(row: u16, column: u16) -> Vec<u8> {
        let mut data = row.to_le_bytes().to_vec();
        data.extend_from_slice(&column.to_le_bytes());
        data.extend_from_slice(&15u16.to_le_bytes());
        data.extend_from_slice(&1f64.to_le_bytes());
        rec(0x0203, &data)
    }

    fn label_sst(row: u16, column: u16, index: u32) -> Vec<u8> {
        let mut data = row.to_le_bytes().to_vec();
        data.extend_from_slice(&column.to_le_bytes());
        data.extend_from_slice(&15u16.to_le_bytes());
        data.extend_from_slice(&index.to_le_bytes());
        rec(0x00FD, &data)
    }

    fn dims(first_row: u32, end_row: u32, first_column: u16, end_column: u16) -> Vec<u8> {
        let mut data = first_row.to_le_bytes().to_vec();
        data.extend_from_slice(&end_row.to_le_bytes());
        data.extend_from_slice(&first_column.to_le_bytes());
        data.extend_from_slice(&end_column.to_le_bytes());
        data.extend_from_slice(&[0, 0]);
        rec(0x0200, &data)
    }

    /// A Workbook stream: globals (the records of `globals`, one BoundSheet8 per sheet) and
    /// each sheet's records between its BOF and EOF.
    fn workbook(globals: &[u8], sheets: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let bound = |position: u32, name: &str| {
            let mut data = position.to_le_bytes().to_vec();
            data.extend_from_slice(&[0, 0, name.len() as u8, 0]);
            data.extend_from_slice(name.as_bytes());
            rec(0x0085, &data)
        };
        let bodies: Vec<Vec<u8>> = sheets
            .iter()
            .map(|(_, records)| [bof(0x0010), records.clone(), rec(0x000A, &[])].concat())
            .collect();
        let globals_len = bof(0x0005).len()
            + globals.len()
            + sheets.iter().map(|(n, _)| bound(0, n).len()).sum::<usize>()
            + rec(0x000A, &[]).len();
        let mut out = [bof(0x0005), globals.to_vec()].concat();
        let mut at = globals_len;
        for ((name, _), body) in sheets.iter().zip(&bodies) {
            out.extend(bound(at as u32, name));
            at += body.len();
        }
        out.extend(rec(0x000A, &[]));
        bodies.iter().for_each(|b| out.extend_from_slice(b));
        out
    }

    fn refusal(stream: &[u8]) -> Option<(String, String)> {
        match scan_workbook(stream) {
            Ok(()) | Err(Stop::Calamine) => None,
            Err(Stop::Refuse(p)) => Some((p.sheet.unwrap_or_default(), p.message)),
        }
    }

    #[test]
    fn a_far_cell_is_refused_with_the_span_of_the_sheet() {
        let sheet = [number(0, 0), number(65535, 65535)].concat();
        let (name, message) = refusal(&workbook(&[], &[("S", sheet)])).expect("refused");
        assert_eq!(name, "S");
        assert!(
            message.contains("span A1:CRXP65536, 4294967296 cells"),
            "{message}"
        );
        // A full BIFF8 sheet, A1:IV65536, is 2^24 cells: read.
        let full = [number(0, 0), number(65535, 255)].concat();
        assert!(refusal(&workbook(&[], &[("S", full)])).is_none());
    }

    #[test]
    fn the_sheets_together_are_limited_because_all_are_read_at_once() {
        let full = [number(0, 0), number(65535, 255)].concat();
        // Two full sheets: 2^25 cells, exactly the limit.
        let two = workbook(&[], &[("A", full.clone()), ("B", full.clone())]);
        assert!(refusal(&two).is_none());
        let three = workbook(
            &[],
            &[("A", full.clone()), ("B", full.clone()), ("C", full)],
        );
        let (name, message) = refusal(&three).expect("refused");
        assert_eq!(name, "C");
        assert!(
            message.contains("span 50331648 cells together"),
            "{message}"
        );
    }

    #[test]
    fn dimension_claims_are_limited_as_calamine_reserves_them() {
        let claim = |d: Vec<u8>| refusal(&workbook(&[], &[("S", [d, number(0, 0)].concat())]));
        // A1:XFD1048576.
        let (_, message) = claim(dims(0, 1_048_576, 0, 16_384)).expect("refused");
        assert!(
            message.contains("claims A1:XFD1048576, 17179869184 cells"),
            "{message}"
        );
        // Rows 6 to 3: calamine's `2 - 5 + 1` wraps to 4 294 967 294 rows.
        let (_, message) = claim(dims(5, 3, 0, 1)).expect("refused");
        assert!(message.contains("A6:A3, 4294967294 cells"), "{message}");
        // `0 - 1 + 1` wraps to 0: nothing reserved.
        assert!(claim(dims(1, 1, 0, 1)).is_none());
        // Excel's own largest claim.
        assert!(claim(dims(0, 65_536, 0, 256)).is_none());
    }

    #[test]
    fn shared_strings_count_in_every_cell_that_repeats_them() {
        // One string of 65 535 CJK characters (UTF-16), in an SST record and CONTINUE records
        // of 8 224 bytes, each continuation starting with its flags byte.
        let text = "污".repeat(65_535);
        let mut chars = text.encode_utf16().flat_map(u16::to_le_bytes);
        let mut sst = [1u32.to_le_bytes(), 1u32.to_le_bytes()].concat();
        sst.extend_from_slice(&65_535u16.to_le_bytes());
        sst.push(0x01);
        sst.extend(chars.by_ref().take(8212));
        let mut records = rec(0x00FC, &sst);
        loop {
            let part: Vec<u8> = chars.by_ref().take(8222).collect();
            if part.is_empty() {
                break;
            }
            records.extend(rec(0x003C, &[[0x01].as_slice(), &part].concat()));
        }
        let cells = |n: u16| (0..n).flat_map(|r| label_sst(r, 0, 0)).collect::<Vec<u8>>();
        // 3 × 65 535 bytes a cell: 5 461 cells fit in 1 GiB, 5 462 do not.
        assert!(refusal(&workbook(&records, &[("S", cells(5461))])).is_none());
        let (name, message) = refusal(&workbook(&records, &[("S", cells(5462))])).expect("refused");
        assert_eq!(name, "S");
        assert!(message.contains("would take 1024 MiB"), "{message}");
    }

    #[test]
    fn a_string_bound_follows_calamine_through_runs_and_continue_records() {
        // cch 3, rich (2 runs) and extended (5 bytes); 1-byte characters, the third in a
        // CONTINUE record that switches to 2-byte characters.
        let first = [3, 0, 0x0C, 2, 0, 5, 0, 0, 0, b'a', b'b'].to_vec();
        let second = [0x01, 0x61, 0x6C, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 9, 9].to_vec();
        let mut record = Record {
            kind: 0x00FC,
            data: &[],
            cont: vec![&second],
        };
        record.data = &first;
        // 2 bytes for each 1-byte character, 3 for the 2-byte one.
        assert_eq!(rich_string_bound(&mut record, 1200), Some(2 * 2 + 3));
        assert!(record.data.is_empty() && record.cont.is_empty());
        // Another code page: 6 bytes a character, whatever its width.
        record.data = &first;
        record.cont = vec![&second];
        assert_eq!(rich_string_bound(&mut record, 936), Some(18));
        // Cut short: calamine fails there.
        record.data = &first;
        record.cont = Vec::new();
        assert_eq!(rich_string_bound(&mut record, 1200), None);
    }

    #[test]
    fn cells_of_embedded_charts_and_records_calamine_counts_specially() {
        // A chart substream inside the sheet: its cell-like records are skipped, as calamine
        // skips them.
        let chart = [bof(0x0020), number(65535, 65535), rec(0x000A, &[])].concat();
        assert!(refusal(&workbook(&[], &[("S", [number(0, 0), chart].concat())])).is_none());
        // A STRING record before any formula: calamine puts it in A1.
        let string = rec(0x0207, &[1, 0, 0, b'x']);
        let (_, message) = refusal(&workbook(
            &[],
            &[("S", [number(65535, 65535), string].concat())],
        ))
        .expect("refused");
        assert!(message.contains("span A1:CRXP65536"), "{message}");
        // MULRK: one record, many columns.
        let mut mulrk = vec![0, 0, 0, 0];
        mulrk.extend(std::iter::repeat_n([15, 0, 0, 0, 0, 0], 600).flatten());
        mulrk.extend_from_slice(&599u16.to_le_bytes());
        let rows = [rec(0x00BD, &mulrk), number(65535, 0)].concat();
        let (_, message) = refusal(&workbook(&[], &[("S", rows)])).expect("refused");
        assert!(
            message.contains("span A1:WB65536, 39321600 cells"),
            "{message}"
        );
    }
}
