//! JSON tables: a document that is an array of objects, each object one row whose keys are the
//! column headers (the same English or Chinese headers as in CSV files) and whose values are
//! strings or numbers (`null` is an empty cell). [`crate::table::TableReader`] reads it like a
//! CSV file; this module only parses the document into rows.
//!
//! - The header is every key of every object, in order of first appearance; a key is located at
//!   the first element that has it.
//! - Row `N` is the `N`-th element of the array, counting from 1.
//! - Numbers are written as Rust writes them (the shortest form that reads back the same, no
//!   exponent: `1.5`, `1200`, `0.000001`), booleans as `true` and `false`.
//! - A document that is not valid JSON is reported with serde_json's line and column, at the
//!   element being read when the error happened; a document that is not an array, and elements
//!   that are not objects, are reported too. Arrays and objects as values are bad cells,
//!   reported by the table reader at their row and column.

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// One value of an object.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// `null`: an empty cell.
    Null,
    /// A string, number or boolean, as text.
    Text(String),
    /// An array or object, which no column can hold: what it is, for messages.
    Nested(&'static str),
}

/// One element of the array.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Element {
    /// An object: (key index into [`Document::keys`], value), in the order written.
    Object(Vec<(usize, Value)>),
    /// Anything else: what it is, for messages.
    Other(&'static str),
}

/// A parsed document.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Document {
    /// Every key, in order of first appearance.
    pub(crate) keys: Vec<String>,
    /// For each key, the 1-based element where it first appears.
    pub(crate) first_seen: Vec<u64>,
    /// The elements, in order.
    pub(crate) elements: Vec<Element>,
}

/// Why a document could not be parsed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParseProblem {
    /// `bad-json` or `json-not-array`.
    pub(crate) code: &'static str,
    /// The 1-based element being read when the problem happened, if inside the array.
    pub(crate) element: Option<u64>,
    /// What went wrong, with line and column.
    pub(crate) message: String,
}

/// Parses a document (UTF-8, a byte-order mark allowed).
pub(crate) fn parse(bytes: &[u8]) -> Result<Document, ParseProblem> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|&b| b != b'[') {
        return Err(ParseProblem {
            code: "json-not-array",
            element: None,
            message: "the JSON document is not an array of objects".to_string(),
        });
    }
    let read = Cell::new(0u64);
    let mut document = Document::default();
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let outcome = DocumentSeed {
        document: &mut document,
        read: &read,
        index: HashMap::new(),
    }
    .deserialize(&mut deserializer)
    .and_then(|()| deserializer.end());
    match outcome {
        Ok(()) => Ok(document),
        Err(e) => {
            // `read` is ahead of the elements kept while an element was being read.
            let element = (read.get() > document.elements.len() as u64).then(|| read.get());
            Err(ParseProblem {
                code: "bad-json",
                element,
                message: format!(
                    "malformed JSON at line {}, column {}: {}",
                    e.line(),
                    e.column(),
                    strip_position(&e.to_string())
                ),
            })
        }
    }
}

/// serde_json's message without its trailing ` at line L column C`.
fn strip_position(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(at) => &message[..at],
        None => message,
    }
}

struct DocumentSeed<'a> {
    document: &'a mut Document,
    /// Elements started so far.
    read: &'a Cell<u64>,
    index: HashMap<String, usize>,
}

impl<'de> DeserializeSeed<'de> for DocumentSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for DocumentSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        loop {
            self.read.set(self.read.get() + 1);
            let row = self.read.get();
            let element = seq.next_element_seed(ElementSeed {
                keys: &mut self.document.keys,
                first_seen: &mut self.document.first_seen,
                index: &mut self.index,
                row,
            })?;
            match element {
                Some(element) => self.document.elements.push(element),
                None => {
                    self.read.set(row - 1);
                    return Ok(());
                }
            }
        }
    }
}

struct ElementSeed<'a> {
    keys: &'a mut Vec<String>,
    first_seen: &'a mut Vec<u64>,
    index: &'a mut HashMap<String, usize>,
    row: u64,
}

impl<'de> DeserializeSeed<'de> for ElementSeed<'_> {
    type Value = Element;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Element, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ElementSeed<'_> {
    type Value = Element;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Element, A::Error> {
        let mut cells = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(ValueSeed)?;
            let index = match self.index.get(&key) {
                Some(&i) => i,
                None => {
                    let i = self.keys.len();
                    self.index.insert(key.clone(), i);
                    self.keys.push(key);
                    self.first_seen.push(self.row);
                    i
                }
            };
            cells.push((index, value));
        }
        Ok(Element::Object(cells))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Element, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Element::Other("an array"))
    }

    fn visit_str<E>(self, _: &str) -> Result<Element, E> {
        Ok(Element::Other("a string"))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Element, E> {
        Ok(Element::Other("a number"))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Element, E> {
        Ok(Element::Other("a number"))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Element, E> {
        Ok(Element::Other("a number"))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Element, E> {
        Ok(Element::Other("a boolean"))
    }

    fn visit_unit<E>(self) -> Result<Element, E> {
        Ok(Element::Other("null"))
    }
}

struct ValueSeed;

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or a number")
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Text(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Text(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Text(v.to_string()))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Text(v.to_string()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // `{}` is the shortest round-trip form without an exponent; only negative zero needs care.
        let v = if v == 0.0 { 0.0 } else { v };
        Ok(Value::Text(format!("{v}")))
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Text(v.to_string()))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Value::Nested("an array"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Value::Nested("an object"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_in_order_of_first_appearance_and_values_as_text() {
        let doc = parse(
            "\u{feff}[{\"b\": \"x\", \"a\": 1.50}, {\"c\": null, \"a\": -0.0, \"d\": [1, {\"e\": 2}]}, \
             {\"a\": 12345678901, \"b\": true, \"f\": {\"g\": []}}]"
                .as_bytes(),
        )
        .expect("parses");
        assert_eq!(doc.keys, ["b", "a", "c", "d", "f"]);
        assert_eq!(doc.first_seen, [1, 1, 2, 2, 3]);
        assert_eq!(
            doc.elements,
            [
                Element::Object(vec![
                    (0, Value::Text("x".into())),
                    (1, Value::Text("1.5".into()))
                ]),
                Element::Object(vec![
                    (2, Value::Null),
                    (1, Value::Text("0".into())),
                    (3, Value::Nested("an array"))
                ]),
                Element::Object(vec![
                    (1, Value::Text("12345678901".into())),
                    (0, Value::Text("true".into())),
                    (4, Value::Nested("an object"))
                ]),
            ]
        );
    }

    #[test]
    fn non_objects_are_elements_of_their_own_kind() {
        let doc = parse(b"[{\"a\": 1}, 2, \"x\", [3], null, false]").expect("parses");
        assert_eq!(
            doc.elements[1..],
            [
                Element::Other("a number"),
                Element::Other("a string"),
                Element::Other("an array"),
                Element::Other("null"),
                Element::Other("a boolean"),
            ]
        );
    }

    #[test]
    fn malformed_documents_name_line_column_and_element() {
        let problem = parse(b"[\n {\"a\": 1},\n {\"a\": 2,, \"b\": 3}\n]").expect_err("bad");
        assert_eq!(problem.code, "bad-json");
        assert_eq!(problem.element, Some(2));
        assert!(
            problem
                .message
                .starts_with("malformed JSON at line 3, column 10: "),
            "{}",
            problem.message
        );
        let problem = parse(b"[{\"a\": 1}").expect_err("cut");
        assert_eq!(problem.code, "bad-json");
        assert!(problem.message.contains("line 1, column 9"), "{problem:?}");
        let problem = parse(b"[{\"a\": 1}] x").expect_err("trailing");
        assert!(
            problem.message.contains("trailing characters"),
            "{problem:?}"
        );
        assert_eq!(problem.element, None);
        let problem = parse(b"{\"a\": 1}").expect_err("object");
        assert_eq!(problem.code, "json-not-array");
        assert_eq!(parse(b"[]").expect("empty").elements, []);
    }

    /// Tables read through the same readers as CSV: records, rows and located issues.
    mod tables {
        use crate::table::{ReadOptions, Record};
        use crate::{Issues, Source, open_table, schemas};

        fn open(name: &str, text: &str) -> Result<crate::table::TableReader, Issues> {
            open_table(
                Source::Bytes {
                    name,
                    bytes: text.as_bytes(),
                },
                &schemas::ACTIVITY,
                &ReadOptions::default(),
            )
        }

        fn issues_text(issues: &Issues) -> Vec<String> {
            issues
                .iter()
                .map(|i| format!("{} {}: {}", i.location, i.code, i.message))
                .collect()
        }

        #[test]
        fn the_sample_reads_the_same_as_csv_and_json() {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../datasets/sample-synthetic/activity.csv");
            let csv_text = std::fs::read_to_string(&path).expect("sample");
            // The sample as a JSON array of objects: Chinese headers for a few columns, numbers
            // as numbers, empty cells as null or left out.
            let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
            let headers: Vec<String> = reader
                .headers()
                .expect("headers")
                .iter()
                .map(|h| match h {
                    "year" => "年份".to_string(),
                    "product" => "产品名称".to_string(),
                    other => other.to_string(),
                })
                .collect();
            let mut elements = Vec::new();
            for (i, record) in reader.records().enumerate() {
                let record = record.expect("record");
                let mut object = serde_json::Map::new();
                for (h, v) in headers.iter().zip(record.iter()) {
                    let value = if v.is_empty() {
                        if i % 2 == 0 {
                            continue;
                        }
                        serde_json::Value::Null
                    } else if (h == "年份" || h == "activity") && v.parse::<f64>().is_ok() {
                        serde_json::from_str(v).expect("number")
                    } else {
                        serde_json::Value::String(v.to_string())
                    };
                    object.insert(h.clone(), value);
                }
                elements.push(serde_json::Value::Object(object));
            }
            let json_text = serde_json::to_string_pretty(&elements).expect("json");
            let mut from_csv = open("activity.csv", &csv_text).expect("csv opens");
            let mut from_json = open("activity.json", &json_text).expect("json opens");
            assert_eq!(from_json.encoding(), None);
            let (mut a, mut b) = (Record::new(), Record::new());
            let (mut ia, mut ib) = (Issues::new(), Issues::new());
            let mut rows = 0;
            loop {
                let more_a = from_csv.read(&mut a, &mut ia).expect("csv reads");
                let more_b = from_json.read(&mut b, &mut ib).expect("json reads");
                assert_eq!(more_a, more_b);
                if !more_a {
                    break;
                }
                rows += 1;
                assert_eq!(b.row(), rows, "row N is the N-th element");
                for field in 0..schemas::ACTIVITY.fields.len() {
                    assert_eq!(a.get(field), b.get(field), "row {rows} field {field}");
                }
            }
            assert_eq!(rows, 67);
            assert!(ia.is_empty() && ib.is_empty());
        }

        #[test]
        fn header_problems_are_located_at_the_first_element_with_the_key() {
            let text = r#"[{"year": 2023, "uscc": "x", "product": "p", "raw_material": "r", "process": "q", "activity": 1},
                           {"year": 2023, "colour": "red"}]"#;
            let issues = open("a.json", text).expect_err("bad header");
            let text = issues_text(&issues);
            assert!(
                text.iter().any(|t| t.starts_with(
                    "a.json, row 2, column `colour` unknown-column: unknown column `colour`"
                )),
                "{text:#?}"
            );
            assert!(
                text.iter()
                    .any(|t| t
                        .starts_with("a.json missing-column: the required column `activity_unit`")),
                "a missing key has no row: {text:#?}"
            );
        }

        #[test]
        fn bad_documents_and_elements_are_located() {
            let issues = open("a.json", "[{\"year\": 2023},\n 7, \"x\"]").expect_err("elements");
            assert_eq!(
                issues_text(&issues),
                [
                    "a.json, row 2 json-not-object: element 2 of the array is a number, not an object",
                    "a.json, row 3 json-not-object: element 3 of the array is a string, not an object",
                ]
            );
            let issues =
                open("a.json", "[{\"year\": 2023},\n {\"year\" 2023}]").expect_err("syntax");
            assert_eq!(
                issues_text(&issues),
                ["a.json, row 2 bad-json: malformed JSON at line 2, column 10: expected `:`"]
            );
            let issues = open("a.json", "{\"year\": 2023}").expect_err("not an array");
            assert_eq!(
                issues_text(&issues)[0],
                "a.json json-not-array: the JSON document is not an array of objects"
            );
            let issues = open("a.json", "[]").expect_err("empty");
            assert_eq!(issues.iter().next().map(|i| i.code), Some("empty-file"));
        }

        #[test]
        fn nested_values_and_repeated_keys_are_bad_cells() {
            let full = r#""uscc": "u", "product": "p", "raw_material": "r", "process": "q", "activity_unit": "吨""#;
            let text = format!(
                "[{{\"year\": 2023, {full}, \"activity\": 5}},\n\
                 {{\"year\": 2023, {full}, \"activity\": [5]}},\n\
                 {{\"year\": 2023, {full}, \"activity\": 5, \"activity\": 6}},\n\
                 {{\"year\": null, \"uscc\": null}}]"
            );
            let mut reader = open("a.json", &text).expect("opens");
            let mut record = Record::new();
            let mut issues = Issues::new();
            let mut seen = Vec::new();
            while reader.read(&mut record, &mut issues).expect("reads") {
                seen.push((record.row(), record.is_bad(), record.is_blank()));
            }
            assert_eq!(
                seen,
                [
                    (1, false, false),
                    (2, true, false),
                    (3, true, false),
                    (4, false, true)
                ],
                "an element of nulls is a blank row"
            );
            assert_eq!(
                issues_text(&issues),
                [
                    "a.json, row 2, column `activity` json-nested-value: the value is an array; a cell holds a string or a number",
                    "a.json, row 3, column `activity` duplicate-key: the object gives this column twice",
                ]
            );
        }
    }
}
