//! The Julia binding (`bindings/julia/HessFree`) is not executed in CI: no
//! Julia runtime is installed. Instead `tests/julia_signatures.py` checks
//! every `ccall`, `@cfunction`, mirrored struct and constant of the binding
//! against `include/hessfree.h`, and this test runs it: on the binding as
//! committed (no problem allowed), and on copies with one deliberate drift
//! each, which it must reject with a message naming the culprit.
//!
//! The interpreter is `$PYTHON` (default `python3`); a missing interpreter
//! fails the test.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn binding_source() -> PathBuf {
    crate_dir().join("bindings/julia/HessFree/src/HessFree.jl")
}

/// Runs the checker on the Julia sources in `julia_dir`.
fn check(julia_dir: &Path) -> Output {
    let python = env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let root = crate_dir();
    Command::new(&python)
        .arg(root.join("tests/julia_signatures.py"))
        .arg("--header")
        .arg(root.join("include/hessfree.h"))
        .arg("--julia")
        .arg(julia_dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run '{python}' ({e}); install Python 3 or set PYTHON"))
}

fn text(output: &Output) -> String {
    format!(
        "status: {}\n--- stdout ---\n{}--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn julia_binding_matches_the_header() {
    let dir = binding_source().parent().unwrap().to_path_buf();
    let output = check(&dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{}", stdout.trim_end());
    assert!(
        output.status.success() && stdout.contains("; 0 problems"),
        "the Julia binding drifted from include/hessfree.h:\n{}",
        text(&output)
    );
}

/// One deliberate drift: `from` (which must occur exactly once in the
/// binding) becomes `to`, and the checker must report `expect`.
struct Mutation {
    from: &'static str,
    to: &'static str,
    expect: &'static str,
}

const MUTATIONS: &[Mutation] = &[
    // An argument type: size_t declared as Cint.
    Mutation {
        from: "ccall((:hf_net_get_params, libhessfree), Cint, (Ptr{Cvoid}, Ptr{Cfloat}, Csize_t)",
        to: "ccall((:hf_net_get_params, libhessfree), Cint, (Ptr{Cvoid}, Ptr{Cfloat}, Cint)",
        expect: "hf_net_get_params: argument 3 (out_len) is Cint",
    },
    // A missing argument.
    Mutation {
        from: "(Csize_t, UInt64, Ref{Ptr{Cvoid}}),\n                n, seed, out)",
        to: "(Csize_t, Ref{Ptr{Cvoid}}),\n                n, seed, out)",
        expect: "hf_data_curves: 2 argument types, the header has 3 parameters",
    },
    // A renamed function (and so one header function left unbound).
    Mutation {
        from: "(:hf_session_lambda, libhessfree)",
        to: "(:hf_session_damping, libhessfree)",
        expect: "hf_session_damping: no such function in the header",
    },
    // An output buffer declared as an input string.
    Mutation {
        from: "(Ptr{Cvoid}, Ptr{UInt8}, Csize_t), n, buf, len)",
        to: "(Ptr{Cvoid}, Cstring, Csize_t), n, buf, len)",
        expect: "hf_net_describe: argument 2 (buf) is Cstring",
    },
    // The wrong struct behind a pointer.
    Mutation {
        from: "(Ptr{Cvoid}, Ref{HfIterationReport}),\n                   s, report)",
        to: "(Ptr{Cvoid}, Ref{HfSummary}),\n                   s, report)",
        expect: "hf_session_step: argument 2 (report) is Ref{HfSummary}",
    },
    // The return type.
    Mutation {
        from: "ccall((:hf_session_request_stop, libhessfree), Cint,",
        to: "ccall((:hf_session_request_stop, libhessfree), Cvoid,",
        expect: "hf_session_request_stop: return type Cvoid",
    },
    // Two struct fields swapped.
    Mutation {
        from: "    final_lambda::Cdouble\n    wall_seconds::Cdouble\n",
        to: "    wall_seconds::Cdouble\n    final_lambda::Cdouble\n",
        expect: "HfSummary: fields",
    },
    // A struct field's width.
    Mutation {
        from: "    curvature_kinds::UInt32\n",
        to: "    curvature_kinds::UInt64\n",
        expect: "HfObjectiveCallbacks.curvature_kinds is UInt64",
    },
    // A callback's argument type.
    Mutation {
        from: "(Ptr{Cvoid}, Ptr{Cfloat}, Csize_t, Csize_t, Csize_t, Int32)",
        to: "(Ptr{Cvoid}, Ptr{Cfloat}, Csize_t, Csize_t, Csize_t, Int64)",
        expect: "_cb_set_chunk: argument 6 (curvature_kind) is Int64",
    },
    // A constant's value.
    Mutation {
        from: "const HF_ERR_CALLBACK = Cint(15)",
        to: "const HF_ERR_CALLBACK = Cint(16)",
        expect: "HF_ERR_CALLBACK = 16, the header has 15",
    },
];

#[test]
fn checker_rejects_deliberate_drift() {
    let original = fs::read_to_string(binding_source()).expect("read HessFree.jl");
    for (i, m) in MUTATIONS.iter().enumerate() {
        assert_eq!(
            original.matches(m.from).count(),
            1,
            "mutation {i}: {:?} must occur exactly once in HessFree.jl (update this test \
             when the binding changes)",
            m.from
        );
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("julia-mutations")
            .join(i.to_string());
        fs::create_dir_all(&dir).expect("create scratch folder");
        fs::write(dir.join("HessFree.jl"), original.replacen(m.from, m.to, 1))
            .expect("write mutated binding");
        let output = check(&dir);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            !output.status.success() && stdout.contains(m.expect),
            "mutation {i} ({:?} -> {:?}) was not reported as '{}':\n{}",
            m.from,
            m.to,
            m.expect,
            text(&output)
        );
    }
}
