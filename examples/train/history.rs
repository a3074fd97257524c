//! The run's history: one row per HF iteration, written as CSV (every
//! report field) and kept in memory for the plot. A resumed run reads the
//! rows it already has back from the CSV file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use hessfree::hf::IterationReport;

/// The CSV columns, in order: every field of [`IterationReport`].
pub const COLUMNS: [&str; 23] = [
    "iteration",
    "objective",
    "train_error",
    "test_objective",
    "test_error",
    "cg_iterations",
    "cg_iterations_total",
    "cg_chosen",
    "cg_stop",
    "rho",
    "lambda",
    "ls_shrinks",
    "ls_rate",
    "p_norm",
    "rejected",
    "reject_reason",
    "wall_seconds",
    "total_seconds",
    "products",
    "products_total",
    "evaluations",
    "chunk_start",
    "chunk_len",
];

/// The numbers the plot needs from one row.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// HF iteration (1-based, session total).
    pub iteration: u64,
    /// Session training seconds after this iteration.
    pub seconds: f64,
    /// Training error, if known.
    pub train_error: Option<f64>,
    /// Test error, if known.
    pub test_error: Option<f64>,
}

/// One row of history: the plot's numbers and the CSV line.
#[derive(Clone, Debug)]
struct Row {
    point: Point,
    line: String,
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(String::new, |x| x.to_string())
}

/// The report as a CSV line (no newline); floats round-trip exactly,
/// absent values are empty.
pub fn csv_line(r: &IterationReport) -> String {
    let fields: [String; 23] = [
        r.iteration.to_string(),
        r.objective.to_string(),
        opt(r.train_error),
        opt(r.test_objective),
        opt(r.test_error),
        r.cg_iterations.to_string(),
        r.cg_iterations_total.to_string(),
        r.cg_chosen.to_string(),
        r.cg_stop.map_or("", |s| s.name()).to_string(),
        r.rho.to_string(),
        r.lambda.to_string(),
        r.ls_shrinks.to_string(),
        r.ls_rate.to_string(),
        r.p_norm.to_string(),
        u8::from(r.rejected).to_string(),
        r.reject_reason
            .map_or_else(String::new, |x| format!("{x:?}")),
        r.wall_seconds.to_string(),
        r.total_seconds.to_string(),
        r.products.to_string(),
        r.products_total.to_string(),
        r.evaluations.to_string(),
        r.chunk_start.to_string(),
        r.chunk_len.to_string(),
    ];
    fields.join(",")
}

/// The history of a run and, when `--log` was given, its CSV file.
pub struct History {
    rows: Vec<Row>,
    path: Option<PathBuf>,
}

impl History {
    /// An empty history writing to `path` (if any).
    pub fn new(path: Option<&Path>) -> Self {
        History {
            rows: Vec::new(),
            path: path.map(Path::to_path_buf),
        }
    }

    /// For a resumed run: reads back the rows of iterations `1..=upto` from
    /// the CSV file if it exists (later rows belong to iterations that the
    /// checkpoint does not contain and will be redone).
    pub fn load_previous(&mut self, upto: u64) -> Result<usize, String> {
        let Some(path) = &self.path else {
            return Ok(0);
        };
        if !path.exists() {
            return Ok(0);
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read log '{}': {e}", path.display()))?;
        let mut lines = text.lines();
        let header = lines.next().unwrap_or("");
        if header != COLUMNS.join(",") {
            return Err(format!(
                "log '{}' does not have this program's columns; pass another --log file",
                path.display()
            ));
        }
        for (n, line) in lines.enumerate() {
            let point = parse_point(line)
                .ok_or_else(|| format!("log '{}' line {} is malformed", path.display(), n + 2))?;
            if point.iteration <= upto {
                self.rows.push(Row {
                    point,
                    line: line.to_string(),
                });
            }
        }
        Ok(self.rows.len())
    }

    /// Appends a report and rewrites the CSV file (atomically enough for a
    /// log: a temporary file renamed over the old one).
    pub fn push(&mut self, r: &IterationReport) -> Result<(), String> {
        self.rows.push(Row {
            point: Point {
                iteration: r.iteration,
                seconds: r.total_seconds,
                train_error: r.train_error,
                test_error: r.test_error,
            },
            line: csv_line(r),
        });
        self.write()
    }

    /// Writes every row to the CSV file, if there is one.
    pub fn write(&self) -> Result<(), String> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let tmp = path.with_extension("csv.tmp");
        let fail = |e: std::io::Error| format!("cannot write log '{}': {e}", path.display());
        let mut out = BufWriter::new(File::create(&tmp).map_err(fail)?);
        writeln!(out, "{}", COLUMNS.join(",")).map_err(fail)?;
        for row in &self.rows {
            writeln!(out, "{}", row.line).map_err(fail)?;
        }
        out.flush().map_err(fail)?;
        drop(out);
        std::fs::rename(&tmp, path).map_err(fail)
    }

    /// The plot's points, in iteration order.
    pub fn points(&self) -> Vec<Point> {
        self.rows.iter().map(|r| r.point.clone()).collect()
    }
}

fn column(name: &str) -> usize {
    COLUMNS.iter().position(|c| *c == name).unwrap_or(0)
}

fn parse_point(line: &str) -> Option<Point> {
    let fields: Vec<&str> = line.split(',').collect();
    if fields.len() != COLUMNS.len() {
        return None;
    }
    let num = |name: &str| -> Option<Option<f64>> {
        let f = fields[column(name)];
        if f.is_empty() {
            Some(None)
        } else {
            f.parse::<f64>().ok().map(Some)
        }
    };
    Some(Point {
        iteration: fields[column("iteration")].parse().ok()?,
        seconds: num("total_seconds")??,
        train_error: num("train_error")?,
        test_error: num("test_error")?,
    })
}
