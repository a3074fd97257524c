//! The shared bad-input table of the bindings (`tests/bad_input/cases.tsv`,
//! issue 8) is well formed and complete: unique ids, known statuses (from
//! `include/hessfree.h`) and kinds, every kind of bad argument the issue
//! lists, a reason for every not-applicable entry, a message fragment for
//! every expected error, and a runner per binding that implements every
//! operation it does not declare not applicable. The runners themselves run
//! in `tests/python.rs`, `tests/octave.rs` and `tests/c_api.rs`, which check
//! their closing lines with the same table (`table::check_runner`).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::PathBuf;

#[path = "bad_input/table.rs"]
mod table;

/// The bindings with a runner, and the runner's source.
const RUNNERS: [(&str, &str); 3] = [
    ("python", "bindings/python/tests/test_bad_input_table.py"),
    ("octave", "bindings/matlab/tests/run_bad_input_table.m"),
    ("cpp", "tests/c/test_bad_input_bindings.cpp"),
];

/// Bindings a row may name (Julia has no runner yet: it cannot run here).
const BINDINGS: [&str; 4] = ["python", "octave", "cpp", "julia"];

/// The kinds of bad argument issue 8 lists.
const ISSUE_KINDS: [&str; 15] = [
    "null",
    "zero",
    "overflow",
    "mismatch",
    "nonfinite_data",
    "nonfinite_param",
    "unknown_option",
    "out_of_range",
    "freed",
    "forged",
    "wrong_kind",
    "double_free",
    "layer_spec",
    "missing_path",
    "unwritable_path",
];

/// Kinds beyond the issue's list.
const EXTRA_KINDS: [&str; 2] = ["bad_file", "wrong_type"];

fn read(relative: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// `HF_OK` and every `HF_ERR_*` name of the header.
fn statuses() -> BTreeSet<String> {
    let header = read("include/hessfree.h");
    let mut names: BTreeSet<String> = header
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("HF_ERR_"))
        .map(str::to_owned)
        .collect();
    names.insert("HF_OK".to_owned());
    names
}

#[test]
fn table_is_well_formed() {
    let rows = table::rows();
    let statuses = statuses();
    let kinds: BTreeSet<&str> = ISSUE_KINDS.iter().chain(&EXTRA_KINDS).copied().collect();
    let mut ids = BTreeSet::new();
    let mut problems = Vec::new();
    for r in &rows {
        let at = format!("line {} ({})", r.line, r.id);
        if r.id.is_empty() || !ids.insert(r.id.clone()) {
            problems.push(format!("{at}: empty or duplicate id"));
        }
        if r.op.split_once('.').is_none() || r.arg.is_empty() || r.value.is_empty() {
            problems.push(format!("{at}: op, arg and value are required"));
        }
        if !kinds.contains(r.kind.as_str()) {
            problems.push(format!("{at}: unknown kind '{}'", r.kind));
        }
        if !statuses.contains(&r.status) {
            problems.push(format!("{at}: unknown status '{}'", r.status));
        }
        for (b, reason) in &r.not_applicable {
            if !BINDINGS.contains(&b.as_str()) || reason.len() < 10 {
                problems.push(format!(
                    "{at}: not-applicable entry '{b}: {reason}' needs a known binding and a reason"
                ));
            }
        }
        for (b, ov) in &r.overrides {
            let status = ov.split(':').next().unwrap_or("");
            if !BINDINGS.contains(&b.as_str()) || !statuses.contains(status) {
                problems.push(format!(
                    "{at}: override '{b}: {ov}' needs a known binding and status"
                ));
            }
            if r.not_applicable.contains_key(b) {
                problems.push(format!("{at}: '{b}' both overridden and not applicable"));
            }
        }
        // Every binding that runs the row checks a message naming the problem.
        for (b, _) in RUNNERS {
            if r.not_applicable.contains_key(b) {
                continue;
            }
            let (status, fragment) = match r.overrides.get(b) {
                Some(ov) => {
                    let (s, f) = ov.split_once(':').unwrap_or((ov.as_str(), ""));
                    (s.to_owned(), f.to_owned())
                }
                None => (r.status.clone(), r.fragment.clone()),
            };
            if status != "HF_OK" && fragment.is_empty() {
                problems.push(format!("{at}: no message fragment for {b}"));
            }
            if status == "HF_OK" && !fragment.is_empty() {
                problems.push(format!("{at}: a fragment for an HF_OK row ({b})"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        rows.len() >= 100,
        "only {} rows: the table should cover every operation",
        rows.len()
    );
}

#[test]
fn every_kind_of_the_issue_appears() {
    let rows = table::rows();
    let present: BTreeSet<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
    let missing: Vec<&&str> = ISSUE_KINDS
        .iter()
        .filter(|k| !present.contains(**k))
        .collect();
    assert!(missing.is_empty(), "kinds without a row: {missing:?}");
    // And each binding runs at least one row of each kind it can express:
    // a kind declared not applicable everywhere would hide a gap.
    for (b, _) in RUNNERS {
        let run: BTreeSet<&str> = rows
            .iter()
            .filter(|r| !r.not_applicable.contains_key(b))
            .map(|r| r.kind.as_str())
            .collect();
        let expressible: Vec<&&str> = ISSUE_KINDS
            .iter()
            .filter(|k| !(b == "cpp" && **k == "double_free"))
            .filter(|k| !run.contains(**k))
            .collect();
        assert!(
            expressible.is_empty(),
            "{b} runs no row of the kinds {expressible:?}"
        );
    }
}

#[test]
fn every_runner_implements_its_operations() {
    let rows = table::rows();
    let mut report = Vec::new();
    for (binding, source) in RUNNERS {
        let code = read(source);
        let quote = if binding == "octave" { '\'' } else { '"' };
        let mut ops: BTreeMap<&str, usize> = BTreeMap::new();
        for r in rows
            .iter()
            .filter(|r| !r.not_applicable.contains_key(binding))
        {
            *ops.entry(r.op.as_str()).or_default() += 1;
        }
        let missing: Vec<&&str> = ops
            .keys()
            .filter(|op| !code.contains(&format!("{quote}{op}{quote}")))
            .collect();
        assert!(
            missing.is_empty(),
            "{source} does not handle the operations {missing:?} (declare them not applicable \
             to {binding} in the table, with a reason, or implement them)"
        );
        let run: usize = ops.values().sum();
        report.push(format!(
            "{binding}: {run} rows over {} operations, {} not applicable",
            ops.len(),
            rows.len() - run
        ));
    }
    eprintln!(
        "bad-input table: {} rows; {}",
        rows.len(),
        report.join("; ")
    );
}

#[test]
fn summary_lines_are_checked_strictly() {
    // The harnesses' check must catch a skipped row, a failure and a wrong
    // not-applicable count.
    let rows = table::rows();
    let na = rows
        .iter()
        .filter(|r| r.not_applicable.contains_key("cpp"))
        .count();
    let good = format!(
        "x\nbad_input_table[cpp]: {} passed, 0 failed, {na} not applicable\n",
        rows.len() - na
    );
    assert_eq!(table::check_runner("cpp", &good), (rows.len() - na, na));
    for bad in [
        format!(
            "bad_input_table[cpp]: {} passed, 0 failed, {na} not applicable",
            rows.len() - na - 1
        ),
        format!(
            "bad_input_table[cpp]: {} passed, 1 failed, {na} not applicable",
            rows.len() - na - 1
        ),
        format!(
            "bad_input_table[cpp]: {} passed, 0 failed, {} not applicable",
            rows.len() - na - 1,
            na + 1
        ),
        "no summary".to_owned(),
    ] {
        let result = std::panic::catch_unwind(|| table::check_runner("cpp", &bad));
        assert!(result.is_err(), "accepted: {bad}");
    }
}
