//! Every function the C header exports has rows in the table-driven
//! bad-input test `tests/c/test_bad_input_table.c` (run by `tests/c_api.rs`),
//! so a new export cannot skip it.

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

fn read(relative: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The names of the functions declared in `header`: every line that starts
/// with a return type (`enum hf_status` or `const char *`) and then `hf_name(`.
fn declared_functions(header: &str) -> BTreeSet<String> {
    header
        .lines()
        .filter(|l| l.starts_with("enum hf_status ") || l.starts_with("const char *"))
        .filter_map(|l| {
            // The identifier just before the first '(' (after `enum hf_status `
            // or `const char *`).
            let before = &l[..l.find('(')?];
            let name = before.rsplit([' ', '*']).next()?;
            name.starts_with("hf_").then(|| name.to_owned())
        })
        .collect()
}

/// The functions named by table rows: `CASE(hf_x, ...` and `TEXT(hf_x, ...`,
/// plus the hand-written rows `record(__LINE__, "hf_x(...`.
fn table_functions(table: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for marker in ["CASE(", "TEXT(", "record(__LINE__, \""] {
        for (at, _) in table.match_indices(marker) {
            let rest = &table[at + marker.len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name.starts_with("hf_") {
                found.insert(name);
            }
        }
    }
    found
}

#[test]
fn every_exported_function_has_bad_input_rows() {
    let declared = declared_functions(&read("include/hessfree.h"));
    // The header parse itself must work: the API has dozens of functions.
    assert!(
        declared.len() >= 70 && declared.contains("hf_session_run"),
        "parsed only {} functions from include/hessfree.h: {declared:?}",
        declared.len()
    );
    let covered = table_functions(&read("tests/c/test_bad_input_table.c"));
    let missing: Vec<&String> = declared.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "functions exported by include/hessfree.h without a row in \
         tests/c/test_bad_input_table.c: {missing:?}"
    );
    let unknown: Vec<&String> = covered.difference(&declared).collect();
    assert!(
        unknown.is_empty(),
        "rows name functions the header does not declare: {unknown:?}"
    );
    eprintln!(
        "bad-input table covers all {} exported functions",
        declared.len()
    );
}
