//! Reading the shared bad-input table of the bindings
//! (`tests/bad_input/cases.tsv`) and checking a binding runner's closing
//! line against it. Included with `#[path]` by `tests/bad_input_bindings.rs`
//! and by the harnesses that run the runners (`tests/python.rs`,
//! `tests/octave.rs`, `tests/c_api.rs`).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

/// The column names, in order.
pub const COLUMNS: [&str; 9] = [
    "id",
    "op",
    "arg",
    "kind",
    "value",
    "status",
    "fragment",
    "override",
    "not_applicable",
];

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// Line number in the file (1-based), for messages.
    pub line: usize,
    pub id: String,
    pub op: String,
    pub arg: String,
    pub kind: String,
    pub value: String,
    pub status: String,
    pub fragment: String,
    /// binding → "STATUS:fragment".
    pub overrides: BTreeMap<String, String>,
    /// binding → reason.
    pub not_applicable: BTreeMap<String, String>,
}

/// The path of the table.
pub fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/bad_input/cases.tsv")
}

/// `"binding: text | binding: text"` as a map (a malformed entry is kept
/// under its whole text with an empty value, so that the checks report it).
pub fn entries(text: &str) -> BTreeMap<String, String> {
    text.split(" | ")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once(':') {
            Some((b, rest)) => (b.trim().to_owned(), rest.trim().to_owned()),
            None => (p.to_owned(), String::new()),
        })
        .collect()
}

/// The table's rows; panics with the line on a malformed file.
pub fn rows() -> Vec<Row> {
    let path = path();
    let text =
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut rows = Vec::new();
    let mut header = false;
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if !header {
            assert_eq!(f, COLUMNS, "line {}: unexpected header", i + 1);
            header = true;
            continue;
        }
        assert_eq!(
            f.len(),
            COLUMNS.len(),
            "line {}: {} fields, expected {}: {line:?}",
            i + 1,
            f.len(),
            COLUMNS.len()
        );
        rows.push(Row {
            line: i + 1,
            id: f[0].to_owned(),
            op: f[1].to_owned(),
            arg: f[2].to_owned(),
            kind: f[3].to_owned(),
            value: f[4].to_owned(),
            status: f[5].to_owned(),
            fragment: f[6].to_owned(),
            overrides: entries(f[7]),
            not_applicable: entries(f[8]),
        });
    }
    assert!(header, "{}: no header line", path.display());
    rows
}

/// The counts of a runner's closing line
/// `bad_input_table[<binding>]: N passed, M failed, K not applicable`.
pub fn summary(binding: &str, output: &str) -> Option<(usize, usize, usize)> {
    let prefix = format!("bad_input_table[{binding}]: ");
    let line = output
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix(&prefix))?;
    let (passed, rest) = line.split_once(" passed, ")?;
    let (failed, rest) = rest.split_once(" failed, ")?;
    let na = rest.strip_suffix(" not applicable")?;
    Some((passed.parse().ok()?, failed.parse().ok()?, na.parse().ok()?))
}

/// Checks a runner's closing line against the table: no failure, every row
/// either passed or declared not applicable to `binding`, and exactly the
/// declared rows counted as not applicable. Returns (passed, not applicable).
pub fn check_runner(binding: &str, output: &str) -> (usize, usize) {
    let rows = rows();
    let declared = rows
        .iter()
        .filter(|r| r.not_applicable.contains_key(binding))
        .count();
    let (passed, failed, na) = summary(binding, output).unwrap_or_else(|| {
        panic!("no 'bad_input_table[{binding}]: N passed, M failed, K not applicable' line in:\n{output}")
    });
    assert_eq!(
        failed, 0,
        "{binding}: {failed} rows of the bad-input table failed:\n{output}"
    );
    assert_eq!(
        na, declared,
        "{binding}: the runner counted {na} rows as not applicable, the table declares {declared}"
    );
    assert_eq!(
        passed + na,
        rows.len(),
        "{binding}: {passed} passed + {na} not applicable != {} rows: rows were skipped",
        rows.len()
    );
    (passed, na)
}
