//! Compiles every host program in `tests/c/` (`test_*.c` as C11, `test_*.cpp`
//! as C++17, both with `-Wall -Wextra -Werror -pedantic`) against
//! `include/hessfree.h` and the library cargo just built, runs it, and checks
//! its exit status and closing line `"<name>: N passed, 0 failed"` (see
//! `tests/c/check.h`).
//!
//! Variants: linked against the shared library; against the static library;
//! under valgrind memcheck (errors and definite/indirect leaks fail; skipped
//! loudly when valgrind is missing unless `HESSFREE_REQUIRE_VALGRIND=1`); and,
//! with `HESSFREE_ASAN=1`, built with `-fsanitize=address,undefined`.
//! The compilers are `$CC` / `$CXX` (default `cc` / `c++`); a missing
//! compiler fails the test. Under valgrind the programs see
//! `HESSFREE_TEST_UNDER_VALGRIND=1` and train on smaller problems.

use std::env;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "bad_input/table.rs"]
mod table;

#[path = "support/built_library.rs"]
mod built_library;
use built_library::{built_artifact, crate_dir, shared_library_name, STATIC_LINK_ARGS};
#[path = "support/tools.rs"]
mod tools;
use tools::have;

/// How a program is built and run.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Variant {
    Shared,
    Static,
    Valgrind,
    Asan,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Shared => "shared",
            Variant::Static => "static",
            Variant::Valgrind => "valgrind",
            Variant::Asan => "asan",
        }
    }
}

/// `target/<profile>`, where cargo puts `libhessfree.so` / `.a` for this build.
fn lib_dir() -> PathBuf {
    let shared = built_artifact(&shared_library_name());
    shared
        .parent()
        .map(Path::to_path_buf)
        .expect("a file's path has a parent folder")
}

/// The host programs, sorted, as (path, is C++).
fn programs() -> Vec<(PathBuf, bool)> {
    let dir = crate_dir().join("tests").join("c");
    let mut found: Vec<(PathBuf, bool)> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(OsStr::to_str)
                .is_some_and(|n| n.starts_with("test_"))
        })
        .filter_map(|p| match p.extension().and_then(OsStr::to_str) {
            Some("c") => Some((p, false)),
            Some("cpp") => Some((p, true)),
            _ => None,
        })
        .collect();
    found.sort();
    assert!(
        !found.is_empty(),
        "no test_*.c programs in {}",
        dir.display()
    );
    found
}

fn stem(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

fn show(output: &Output) -> String {
    format!(
        "status: {}\n--- stdout ---\n{}--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn compiler(cpp: bool) -> String {
    let (var, default) = if cpp { ("CXX", "c++") } else { ("CC", "cc") };
    env::var(var).unwrap_or_else(|_| default.to_owned())
}

/// A compiler command for `source` → `exe` with the warning flags and the
/// test helpers' include path, but no library yet.
fn base_command(source: &Path, cpp: bool, exe: &Path) -> (String, Command) {
    let root = crate_dir();
    let cc = compiler(cpp);
    let mut cmd = Command::new(&cc);
    let std = if cpp { "-std=c++17" } else { "-std=c11" };
    cmd.args([
        std,
        "-Wall",
        "-Wextra",
        "-Werror",
        "-pedantic",
        "-g",
        "-pthread",
    ])
    .arg("-I")
    .arg(root.join("tests").join("c"))
    .arg("-I")
    .arg(root.join("bindings").join("cpp"))
    .arg(source)
    .arg("-o")
    .arg(exe);
    (cc, cmd)
}

/// Runs a compiler command, failing the test with its output on error.
fn run_compiler(cc: &str, mut cmd: Command, what: &str) {
    let output = cmd.output().unwrap_or_else(|e| {
        panic!(
            "cannot run the compiler '{cc}' ({e}); install a C/C++ compiler (CI installs gcc/g++)"
        )
    });
    assert!(
        output.status.success(),
        "compiling {what} failed:\n{cmd:?}\n{}",
        show(&output)
    );
}

/// The scratch folder for `variant`.
fn scratch(variant: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("c-tests")
        .join(variant);
    fs::create_dir_all(&dir).expect("create scratch folder");
    dir
}

/// Compiles `source` for `variant` into the test's scratch folder.
fn compile(source: &Path, cpp: bool, variant: Variant) -> PathBuf {
    let lib = lib_dir();
    let exe = scratch(variant.name()).join(stem(source));
    let (cc, mut cmd) = base_command(source, cpp, &exe);
    cmd.arg("-I").arg(crate_dir().join("include"));
    if variant == Variant::Asan {
        cmd.args([
            "-fsanitize=address,undefined",
            "-fno-omit-frame-pointer",
            "-fno-sanitize-recover=all",
        ]);
    }
    if variant == Variant::Static {
        cmd.arg(lib.join("libhessfree.a")).args(STATIC_LINK_ARGS);
    } else {
        cmd.args(shared_link_args(&lib));
    }
    run_compiler(
        &cc,
        cmd,
        &format!("{} ({})", source.display(), variant.name()),
    );
    exe
}

/// Link flags for the shared library in `lib`.
fn shared_link_args(lib: &Path) -> Vec<String> {
    vec![
        format!("-L{}", lib.display()),
        "-lhessfree".to_owned(),
        // DT_RPATH (not RUNPATH) so that nothing in the environment can
        // substitute another build of the library.
        "-Wl,--disable-new-dtags".to_owned(),
        format!("-Wl,-rpath,{}", lib.display()),
        "-lm".to_owned(),
    ]
}

/// Checks the protocol of `tests/c/check.h`: exit 0, no FAIL lines, and a
/// closing line "<name>: N passed, 0 failed" with N > 0. Returns N.
fn check_output(name: &str, variant: Variant, output: &Output) -> usize {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let passed = last
        .strip_prefix(&format!("{name}: "))
        .and_then(|rest| rest.strip_suffix(" passed, 0 failed"))
        .and_then(|n| n.parse::<usize>().ok());
    let ok = output.status.success() && !stdout.contains("FAIL") && passed.is_some_and(|n| n > 0);
    assert!(ok, "{name} ({}) failed:\n{}", variant.name(), show(output));
    passed.unwrap_or(0)
}

fn run(exe: &Path, variant: Variant) -> Output {
    let mut cmd = if variant == Variant::Valgrind {
        let mut c = Command::new("valgrind");
        c.args([
            "--quiet",
            "--error-exitcode=99",
            "--leak-check=full",
            "--show-leak-kinds=definite,indirect",
            "--errors-for-leak-kinds=definite,indirect",
        ])
        .arg(exe);
        c
    } else {
        Command::new(exe)
    };
    // cargo points LD_LIBRARY_PATH at target/<profile>, which can hold a
    // stale, uplifted copy of the library from an earlier `cargo build`.
    cmd.env_remove("LD_LIBRARY_PATH");
    // Programs that train shrink their problem under valgrind's slowdown.
    if variant == Variant::Valgrind {
        cmd.env("HESSFREE_TEST_UNDER_VALGRIND", "1");
    }
    if variant == Variant::Asan {
        cmd.env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
            .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1");
    }
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()))
}

/// Builds and runs every program for `variant`, printing a summary line.
fn run_all(variant: Variant) {
    let mut total = 0;
    for (source, cpp) in programs() {
        let name = stem(&source);
        let exe = compile(&source, cpp, variant);
        let output = run(&exe, variant);
        let n = check_output(&name, variant, &output);
        if name == "test_bad_input_bindings" {
            // The shared bad-input table through the C++ binding: every row
            // ran or is declared not applicable to C++.
            let (passed, na) = table::check_runner("cpp", &String::from_utf8_lossy(&output.stdout));
            eprintln!("bad-input table through C++: {passed} rows passed, {na} not applicable");
        }
        eprintln!("{name} ({}): {n} checks passed", variant.name());
        total += n;
    }
    eprintln!(
        "C host programs ({}): {total} checks passed",
        variant.name()
    );
}

#[test]
fn c_programs_shared_library() {
    run_all(Variant::Shared);
}

#[test]
fn c_programs_static_library() {
    run_all(Variant::Static);
}

#[test]
fn c_programs_under_valgrind() {
    if !have("valgrind") {
        assert!(
            env::var("HESSFREE_REQUIRE_VALGRIND").as_deref() != Ok("1"),
            "valgrind is required (HESSFREE_REQUIRE_VALGRIND=1) but not installed"
        );
        eprintln!("SKIPPED: valgrind not installed; the C host programs ran without memcheck");
        return;
    }
    run_all(Variant::Valgrind);
}

#[test]
fn c_programs_with_sanitizers() {
    if env::var("HESSFREE_ASAN").as_deref() != Ok("1") {
        eprintln!("note: set HESSFREE_ASAN=1 to also run the C programs under ASan/UBSan");
        return;
    }
    run_all(Variant::Asan);
}

/// The install recipe in `hessfree.pc.in`: header, library and .pc file in a
/// scratch prefix, then a host program built only from `pkg-config` flags.
#[test]
fn pkg_config_recipe_builds_a_host_program() {
    if !have("pkg-config") {
        eprintln!("SKIPPED: pkg-config not installed; hessfree.pc.in not checked");
        return;
    }
    let root = crate_dir();
    let prefix = scratch("prefix");
    let libdir = prefix.join("lib");
    let pcdir = libdir.join("pkgconfig");
    fs::create_dir_all(prefix.join("include")).unwrap();
    fs::create_dir_all(&pcdir).unwrap();
    fs::copy(
        root.join("include/hessfree.h"),
        prefix.join("include/hessfree.h"),
    )
    .unwrap();
    fs::copy(
        lib_dir().join("libhessfree.so"),
        libdir.join("libhessfree.so"),
    )
    .unwrap();
    let template = fs::read_to_string(root.join("hessfree.pc.in")).expect("read hessfree.pc.in");
    let pc = template
        .replace("@PREFIX@", &prefix.display().to_string())
        .replace("@VERSION@", env!("CARGO_PKG_VERSION"));
    fs::write(pcdir.join("hessfree.pc"), pc).unwrap();

    let pkg = |args: &[&str]| -> String {
        let out = Command::new("pkg-config")
            .args(args)
            .arg("hessfree")
            .env("PKG_CONFIG_PATH", &pcdir)
            .output()
            .expect("run pkg-config");
        assert!(out.status.success(), "pkg-config {args:?}: {}", show(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(pkg(&["--modversion"]), env!("CARGO_PKG_VERSION"));
    let flags = pkg(&["--cflags", "--libs"]);
    assert!(flags.contains("-lhessfree"), "{flags}");

    let source = root.join("tests/c/test_basics.c");
    let exe = scratch("pkg-config").join("test_basics");
    let (cc, mut cmd) = base_command(&source, false, &exe);
    cmd.args(flags.split_whitespace())
        .arg(format!("-Wl,-rpath,{}", libdir.display()))
        .arg("-Wl,--disable-new-dtags");
    run_compiler(&cc, cmd, "test_basics.c with pkg-config flags");
    let output = run(&exe, Variant::Shared);
    check_output("test_basics", Variant::Shared, &output);
}

/// Builds and runs one of the canonical-run programs and returns its
/// `CANONICAL ...` line (see `tests/c/canonical.c`).
fn canonical_line(file: &str, cpp: bool) -> String {
    let source = crate_dir().join("tests").join("c").join(file);
    let exe = compile(&source, cpp, Variant::Shared);
    let output = run(&exe, Variant::Shared);
    assert!(output.status.success(), "{file} failed:\n{}", show(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("CANONICAL "))
        .unwrap_or_else(|| panic!("{file} printed no CANONICAL line:\n{}", show(&output)))
        .to_owned();
    let numbers: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .map(|t| t.parse::<f64>().unwrap_or(f64::NAN))
        .collect();
    assert!(
        numbers.len() == 3 && numbers.iter().all(|x| x.is_finite() && *x > 0.0),
        "{file}: malformed canonical line '{line}'"
    );
    line
}

/// Issue 6's canonical run gives the same line, bit for bit, from C and from
/// C++ through `bindings/cpp/hessfree.hpp`.
#[test]
fn canonical_run_c_and_cpp_agree() {
    let c = canonical_line("canonical.c", false);
    let cpp = canonical_line("canonical_cpp.cpp", true);
    eprintln!("C:   {c}\nC++: {cpp}");
    assert_eq!(c, cpp, "the C and C++ canonical runs differ");
}

/// The one-line build command documented at the top of an example host,
/// with `target/release` replaced by this build's library folder, the
/// compiler by `$CC`/`$CXX`, and the output by `exe`; warnings are errors.
fn documented_build(source: &Path, cpp: bool, exe: &Path) -> Command {
    let text = fs::read_to_string(source).unwrap_or_else(|e| panic!("{}: {e}", source.display()));
    let prefix = if cpp { "c++ -std=c++17" } else { "cc -std=c11" };
    let line = text
        .lines()
        .map(|l| l.trim_start_matches([' ', '*', '/']))
        .find(|l| l.starts_with(prefix) && l.contains("target/release"))
        .unwrap_or_else(|| {
            panic!(
                "{} documents no build command starting '{prefix}'",
                source.display()
            )
        });
    // Substitute through a placeholder: the library directory itself contains
    // "target/release" (e.g. target/release/deps after a plain `cargo test`).
    let lib = lib_dir().display().to_string();
    let line = line
        .replace("$PWD/target/release", "\u{0}")
        .replace("target/release", "\u{0}")
        .replace('\u{0}', &lib);
    let mut words = line.split_whitespace();
    words.next(); // the compiler
    let mut cmd = Command::new(compiler(cpp));
    cmd.current_dir(crate_dir());
    let mut args: Vec<String> = words.map(str::to_owned).collect();
    let out = args
        .iter()
        .position(|a| a == "-o")
        .unwrap_or_else(|| panic!("the documented command has no -o: {line}"));
    assert!(out + 1 < args.len(), "-o without a file: {line}");
    args[out + 1] = exe.display().to_string();
    cmd.args(&args)
        .args(["-Wall", "-Wextra", "-Werror", "-pedantic"]);
    cmd
}

/// The example hosts build with their documented one-line commands and
/// train a tiny autoencoder (2 iterations on 200 images), printing a line
/// per iteration and the summary.
#[test]
fn example_hosts_build_and_run() {
    let root = crate_dir();
    for (file, cpp, name) in [
        ("examples/c/train_autoencoder.c", false, "train_c"),
        ("examples/cpp/train_autoencoder.cpp", true, "train_cpp"),
    ] {
        let source = root.join(file);
        let exe = scratch("examples").join(name);
        let cmd = documented_build(&source, cpp, &exe);
        run_compiler(&compiler(cpp), cmd, file);
        let output = Command::new(&exe)
            .args(["2", "200"])
            .env_remove("LD_LIBRARY_PATH")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()));
        let stdout = String::from_utf8_lossy(&output.stdout);
        let iteration_lines = stdout
            .lines()
            .filter(|l| l.split_whitespace().nth(1) == Some("obj"))
            .count();
        assert!(
            output.status.success()
                && iteration_lines == 2
                && stdout.contains("HF summary")
                && stdout.contains("final: objective")
                && stdout.contains("(maximum number of iterations reached)"),
            "{file}:\n{}",
            show(&output)
        );
        // A bad argument is reported, not ignored.
        let bad = Command::new(&exe)
            .arg("ten")
            .env_remove("LD_LIBRARY_PATH")
            .output()
            .expect("run the example");
        assert!(
            !bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("max_iters"),
            "{file} with a bad argument:\n{}",
            show(&bad)
        );
    }
}
