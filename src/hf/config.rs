//! Every option of the optimizer (and of the built-in network objective and
//! backends), with the reference code's defaults, behind one string-key
//! interface shared by the C ABI, the command line and checkpoints.
//!
//! Rust callers may set the public fields directly; [`HfConfig::validate`]
//! (run when a session starts) checks every value against its documented range.
//! String-key callers use [`HfConfig::set_f64`], [`HfConfig::set_i64`],
//! [`HfConfig::set_bool`], [`HfConfig::set_str`] or [`HfConfig::set_from_str`],
//! which check the key, the type and the range at once.

use crate::error::{Error, ErrorKind, Result};
use crate::hf::objective::CurvatureKind;

/// The order in which curvature chunks are visited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChunkOrder {
    /// Consecutive chunks, wrapping around (HFDemo's `iter mod numchunks`).
    Cyclic,
    /// A uniformly random contiguous chunk each iteration (seeded).
    Random,
}

/// Which compute backend the built-in network objective should use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BackendChoice {
    /// CUDA when available, else the CPU.
    Auto,
    /// The CPU backend.
    Cpu,
    /// The CUDA backend (an error when unavailable).
    Cuda,
}

/// The type of a configuration key's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// A 64-bit float.
    F64,
    /// A 64-bit signed integer.
    I64,
    /// A boolean.
    Bool,
    /// One of a fixed list of strings.
    Enum,
}

impl KeyType {
    /// The type's name as used in messages and documentation.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::F64 => "f64",
            KeyType::I64 => "i64",
            KeyType::Bool => "bool",
            KeyType::Enum => "string",
        }
    }
}

/// A configuration value of any key type.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ConfigValue {
    /// A float value.
    F64(f64),
    /// An integer value.
    I64(i64),
    /// A boolean value.
    Bool(bool),
    /// One of an enum key's choices.
    Str(&'static str),
}

impl std::fmt::Display for ConfigValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // `{:?}` prints the shortest text that parses back to the same bits.
            ConfigValue::F64(v) => write!(f, "{v:?}"),
            ConfigValue::I64(v) => write!(f, "{v}"),
            ConfigValue::Bool(v) => write!(f, "{v}"),
            ConfigValue::Str(v) => f.write_str(v),
        }
    }
}

/// The valid values of a key.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum KeyRange {
    /// A float range; `nan_ok` also admits NaN (meaning "unset").
    F64 {
        /// Smallest valid value.
        min: f64,
        /// Largest valid value (may be +inf).
        max: f64,
        /// Whether `min` itself is valid.
        min_inclusive: bool,
        /// Whether `max` itself is valid.
        max_inclusive: bool,
        /// Whether NaN is valid (meaning "unset").
        nan_ok: bool,
    },
    /// An inclusive integer range.
    I64 {
        /// Smallest valid value.
        min: i64,
        /// Largest valid value.
        max: i64,
    },
    /// Any boolean.
    Bool,
    /// One of these strings.
    Choices(&'static [&'static str]),
}

impl KeyRange {
    /// A human-readable description, e.g. `[0, inf)` or `one of cyclic, random`.
    pub fn describe(&self) -> String {
        match *self {
            KeyRange::F64 {
                min,
                max,
                min_inclusive,
                max_inclusive,
                nan_ok,
            } => {
                let lo = if min_inclusive { '[' } else { '(' };
                let hi = if max_inclusive { ']' } else { ')' };
                let nan = if nan_ok { " or NaN (unset)" } else { "" };
                format!("{lo}{}, {}{hi}{nan}", fmt_num(min), fmt_num(max))
            }
            KeyRange::I64 { min, max } => format!("[{min}, {max}]"),
            KeyRange::Bool => "true or false".to_string(),
            KeyRange::Choices(c) => format!("one of {}", c.join(", ")),
        }
    }

    fn contains_f64(&self, v: f64) -> bool {
        match *self {
            KeyRange::F64 {
                min,
                max,
                min_inclusive,
                max_inclusive,
                nan_ok,
            } => {
                if v.is_nan() {
                    return nan_ok;
                }
                let above = if min_inclusive { v >= min } else { v > min };
                let below = if max_inclusive { v <= max } else { v < max };
                above && below
            }
            _ => false,
        }
    }
}

fn fmt_num(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.to_string()
    } else {
        format!("{v}")
    }
}

/// Description of one configuration key.
#[derive(Clone, Copy, Debug)]
pub struct KeySpec {
    /// The key's name, e.g. `"initial_lambda"`.
    pub name: &'static str,
    /// The value type.
    pub ty: KeyType,
    /// The default value.
    pub default: ConfigValue,
    /// The valid values.
    pub range: KeyRange,
    /// One-line documentation.
    pub doc: &'static str,
    get: fn(&HfConfig) -> ConfigValue,
    set: fn(&mut HfConfig, ConfigValue),
}

impl KeySpec {
    /// The valid values as text (see [`KeyRange::describe`]).
    pub fn range_text(&self) -> String {
        self.range.describe()
    }
}

/// All options of an HF session. `Default` gives the reference code's
/// defaults (HFDemo), except the chunk size, which is the whole training set
/// (presets set 5000 or 7500).
#[derive(Clone, Debug, PartialEq)]
pub struct HfConfig {
    /// Initial damping λ (added to the per-example-normalised curvature).
    pub initial_lambda: f64,
    /// Factor λ is multiplied by when ρ < `rho_low` (or ρ is NaN).
    pub lambda_increase: f64,
    /// Factor λ is multiplied by when ρ > `rho_high`.
    pub lambda_decrease: f64,
    /// Reduction-ratio threshold below which λ grows.
    pub rho_low: f64,
    /// Reduction-ratio threshold above which λ shrinks.
    pub rho_high: f64,
    /// Lower bound on λ.
    pub lambda_min: f64,
    /// Upper bound on λ.
    pub lambda_max: f64,
    /// Most CG iterations per HF iteration.
    pub cg_max_iters: i64,
    /// Fewest CG iterations before the progress rule may stop CG.
    pub cg_min_iters: i64,
    /// Tolerance ε of Martens' relative-progress rule.
    pub cg_epsilon: f64,
    /// Smallest look-back window k of the progress rule.
    pub cg_window_min: i64,
    /// Look-back window as a fraction of the iteration count.
    pub cg_window_fraction: f64,
    /// CG starts from `cg_decay` times the previous CG run's last iterate.
    pub cg_decay: f64,
    /// Backtrack over stored CG iterates on the full objective.
    pub backtrack: bool,
    /// Growth factor γ of the stored-iterate grid `ceil(first·γ^j)`.
    pub backtrack_grid_base: f64,
    /// First stored CG iterate of the grid.
    pub backtrack_grid_first: f64,
    /// Armijo line search on the full objective after backtracking.
    pub line_search: bool,
    /// Armijo sufficient-decrease constant c.
    pub ls_c: f64,
    /// Factor the rate is multiplied by on each line-search shrink.
    pub ls_shrink: f64,
    /// Most line-search shrinks before the step is rejected.
    pub ls_max_shrinks: i64,
    /// Use the diagonal preconditioner `(stat + λ)^exponent`.
    pub precondition: bool,
    /// Exponent α of the preconditioner.
    pub precond_exponent: f64,
    /// Which curvature matrix CG uses.
    pub curvature: CurvatureKind,
    /// Curvature chunk size in examples; 0 = the whole training set.
    pub chunk_size: i64,
    /// The chunk size is multiplied by this each iteration (capped at N).
    pub chunk_growth: f64,
    /// Order in which chunks are visited.
    pub chunk_order: ChunkOrder,
    /// Stop after this many HF iterations (session total); 0 = no limit.
    pub max_iters: i64,
    /// Stop after this much accumulated wall time in seconds; 0 = no limit.
    pub max_seconds: f64,
    /// Stop when the training error reaches this; NaN = none.
    pub target_error: f64,
    /// Stop when the training objective reaches this; NaN = none.
    pub target_objective: f64,
    /// Stop after this many iterations without a new best objective; 0 = off.
    pub no_progress_iters: i64,
    /// Stop after this many non-finite (rejected) steps in a row.
    pub max_rejected_in_row: i64,
    /// Seed of the session's random number generator.
    pub seed: i64,
    /// Weight cost wc of the network objective's `½·wc·‖θ‖²`.
    pub weight_cost: f64,
    /// Whether the weight cost applies to biases too (HFDemo: yes).
    pub weight_cost_biases: bool,
    /// Examples per chunk of the network's full-batch passes.
    pub eval_chunk_size: i64,
    /// Compute backend of the network objective.
    pub backend: BackendChoice,
    /// Allow TF32 tensor-core GEMMs on CUDA.
    pub tf32: bool,
    /// CPU threads; 0 = automatic.
    pub threads: i64,
}

impl Default for HfConfig {
    fn default() -> Self {
        HfConfig {
            initial_lambda: 45.0,
            lambda_increase: 1.5,
            lambda_decrease: 2.0 / 3.0,
            rho_low: 0.25,
            rho_high: 0.75,
            lambda_min: 0.0,
            lambda_max: f64::INFINITY,
            cg_max_iters: 250,
            cg_min_iters: 1,
            cg_epsilon: 5e-4,
            cg_window_min: 10,
            cg_window_fraction: 0.1,
            cg_decay: 0.95,
            backtrack: true,
            backtrack_grid_base: 1.3,
            backtrack_grid_first: 5.0,
            line_search: true,
            ls_c: 1e-2,
            ls_shrink: 0.8,
            ls_max_shrinks: 60,
            precondition: true,
            precond_exponent: 0.75,
            curvature: CurvatureKind::GaussNewton,
            chunk_size: 0,
            chunk_growth: 1.0,
            chunk_order: ChunkOrder::Cyclic,
            max_iters: 300,
            max_seconds: 0.0,
            target_error: f64::NAN,
            target_objective: f64::NAN,
            no_progress_iters: 0,
            max_rejected_in_row: 10,
            seed: 1,
            weight_cost: 2e-5,
            weight_cost_biases: true,
            eval_chunk_size: 5000,
            backend: BackendChoice::Auto,
            tf32: false,
            threads: 0,
        }
    }
}

const CURVATURE_CHOICES: &[&str] = &["gauss_newton", "hessian", "empirical_fisher"];
const CHUNK_ORDER_CHOICES: &[&str] = &["cyclic", "random"];
const BACKEND_CHOICES: &[&str] = &["auto", "cpu", "cuda"];

/// Largest iteration-like count accepted (keeps arithmetic far from overflow).
const MAX_COUNT: i64 = 1 << 40;

const fn frange(min: f64, max: f64, min_inclusive: bool, max_inclusive: bool) -> KeyRange {
    KeyRange::F64 {
        min,
        max,
        min_inclusive,
        max_inclusive,
        nan_ok: false,
    }
}

const fn irange(min: i64, max: i64) -> KeyRange {
    KeyRange::I64 { min, max }
}

const INF: f64 = f64::INFINITY;

fn curvature_name(k: CurvatureKind) -> &'static str {
    match k {
        CurvatureKind::GaussNewton => "gauss_newton",
        CurvatureKind::Hessian => "hessian",
        CurvatureKind::EmpiricalFisher => "empirical_fisher",
    }
}

fn curvature_from(s: &str) -> CurvatureKind {
    match s {
        "hessian" => CurvatureKind::Hessian,
        "empirical_fisher" => CurvatureKind::EmpiricalFisher,
        _ => CurvatureKind::GaussNewton,
    }
}

fn chunk_order_name(o: ChunkOrder) -> &'static str {
    match o {
        ChunkOrder::Cyclic => "cyclic",
        ChunkOrder::Random => "random",
    }
}

fn chunk_order_from(s: &str) -> ChunkOrder {
    if s == "random" {
        ChunkOrder::Random
    } else {
        ChunkOrder::Cyclic
    }
}

fn backend_name(b: BackendChoice) -> &'static str {
    match b {
        BackendChoice::Auto => "auto",
        BackendChoice::Cpu => "cpu",
        BackendChoice::Cuda => "cuda",
    }
}

fn backend_from(s: &str) -> BackendChoice {
    match s {
        "cpu" => BackendChoice::Cpu,
        "cuda" => BackendChoice::Cuda,
        _ => BackendChoice::Auto,
    }
}

/// Builds a [`KeySpec`] for a field stored as [`ConfigValue`] variant
/// `$variant` (the [`KeyType`] of the same name).
macro_rules! field_key {
    ($variant:ident, $name:ident, $range:expr, $doc:expr) => {
        KeySpec {
            name: stringify!($name),
            ty: KeyType::$variant,
            // Filled in from `HfConfig::default()` by `build_keys`.
            default: ConfigValue::$variant(Default::default()),
            range: $range,
            doc: $doc,
            get: |c| ConfigValue::$variant(c.$name),
            set: |c, v| {
                if let ConfigValue::$variant(x) = v {
                    c.$name = x;
                }
            },
        }
    };
}

/// Builds a [`KeySpec`] for an f64 field.
macro_rules! f64_key {
    ($name:ident, $range:expr, $doc:expr) => {
        field_key!(F64, $name, $range, $doc)
    };
}

/// Builds a [`KeySpec`] for an i64 field.
macro_rules! i64_key {
    ($name:ident, $range:expr, $doc:expr) => {
        field_key!(I64, $name, $range, $doc)
    };
}

/// Builds a [`KeySpec`] for a bool field.
macro_rules! bool_key {
    ($name:ident, $doc:expr) => {
        field_key!(Bool, $name, KeyRange::Bool, $doc)
    };
}

/// Builds a [`KeySpec`] for a string-enum field: `$choices` are its names,
/// `$to_name`/`$from_name` convert between the field and a choice.
macro_rules! enum_key {
    ($name:ident, $choices:expr, $to_name:expr, $from_name:expr, $doc:expr) => {
        KeySpec {
            name: stringify!($name),
            ty: KeyType::Enum,
            // Filled in from `HfConfig::default()` by `build_keys`.
            default: ConfigValue::Str(""),
            range: KeyRange::Choices($choices),
            doc: $doc,
            get: |c| ConfigValue::Str($to_name(c.$name)),
            set: |c, v| {
                if let ConfigValue::Str(s) = v {
                    c.$name = $from_name(s);
                }
            },
        }
    };
}

fn nan_ok(r: KeyRange) -> KeyRange {
    match r {
        KeyRange::F64 {
            min,
            max,
            min_inclusive,
            max_inclusive,
            ..
        } => KeyRange::F64 {
            min,
            max,
            min_inclusive,
            max_inclusive,
            nan_ok: true,
        },
        other => other,
    }
}

fn build_keys() -> Vec<KeySpec> {
    let mut keys = vec![
        f64_key!(initial_lambda, frange(0.0, INF, true, false),
            "Initial Levenberg-Marquardt damping lambda, added to the per-example-normalised curvature (HFDemo: 45)."),
        f64_key!(lambda_increase, frange(1.0, INF, true, false),
            "lambda is multiplied by this when rho < rho_low or rho is NaN (3/2)."),
        f64_key!(lambda_decrease, frange(0.0, 1.0, false, true),
            "lambda is multiplied by this when rho > rho_high (2/3)."),
        f64_key!(rho_low, frange(-INF, INF, false, false),
            "Reduction ratio below which lambda is increased (1/4)."),
        f64_key!(rho_high, frange(-INF, INF, false, false),
            "Reduction ratio above which lambda is decreased (3/4)."),
        f64_key!(lambda_min, frange(0.0, INF, true, false),
            "Lower bound on lambda after each update (HFDemo: none, 0)."),
        f64_key!(lambda_max, frange(0.0, INF, false, true),
            "Upper bound on lambda after each update (HFDemo: none, inf)."),
        i64_key!(cg_max_iters, irange(1, 1_000_000),
            "Most CG iterations (curvature products) per HF iteration (250)."),
        i64_key!(cg_min_iters, irange(0, 1_000_000),
            "Fewest CG iterations before the relative-progress rule may stop CG (1)."),
        f64_key!(cg_epsilon, frange(0.0, INF, true, false),
            "Tolerance eps of the relative-progress rule: stop when (phi_i - phi_{i-k})/phi_i < k*eps (5e-4)."),
        i64_key!(cg_window_min, irange(1, 1_000_000),
            "Smallest look-back window k of the relative-progress rule (10)."),
        f64_key!(cg_window_fraction, frange(0.0, 1.0, true, true),
            "Look-back window k = max(cg_window_min, ceil(cg_window_fraction * i)) (0.1)."),
        f64_key!(cg_decay, frange(0.0, 1.0, true, true),
            "CG starts from cg_decay times the previous run's last (not backtracked) iterate; 0 = cold start (0.95)."),
        bool_key!(backtrack,
            "Backtrack over the stored CG iterates while an earlier one gives a lower full training objective (true)."),
        f64_key!(backtrack_grid_base, frange(1.01, 16.0, true, true),
            "CG iterates are stored at i = ceil(backtrack_grid_first * backtrack_grid_base^j) (1.3)."),
        f64_key!(backtrack_grid_first, frange(1.0, 1e6, true, true),
            "First stored CG iterate of the backtracking grid (5)."),
        bool_key!(line_search,
            "Armijo backtracking line search on the full training objective after CG backtracking (true)."),
        f64_key!(ls_c, frange(0.0, 1.0, true, false),
            "Armijo sufficient-decrease constant c: accept f(x + t p) <= f(x) + c t g'p (1e-2)."),
        f64_key!(ls_shrink, frange(0.0, 1.0, false, false),
            "Line-search rate factor per shrink (0.8)."),
        i64_key!(ls_max_shrinks, irange(0, 10_000),
            "Most line-search shrinks; if no rate is accepted the step is rejected (60)."),
        bool_key!(precondition,
            "Precondition CG with M = (stat + lambda)^precond_exponent, stat = diagonal empirical Fisher plus weight cost (true)."),
        f64_key!(precond_exponent, frange(0.0, 2.0, true, true),
            "Exponent alpha of the diagonal preconditioner (0.75)."),
        enum_key!(curvature, CURVATURE_CHOICES, curvature_name, curvature_from,
            "Curvature matrix used by CG: gauss_newton (default), hessian or empirical_fisher."),
        i64_key!(chunk_size, irange(0, MAX_COUNT),
            "Examples per curvature chunk; 0 = the whole training set (presets: CURVES 5000, MNIST 7500)."),
        f64_key!(chunk_growth, frange(1.0, 1e3, true, true),
            "The chunk size is multiplied by this after each iteration, capped at the training-set size (1 = fixed)."),
        enum_key!(chunk_order, CHUNK_ORDER_CHOICES, chunk_order_name, chunk_order_from,
            "Order of curvature chunks: cyclic (consecutive, wrapping; HFDemo) or random (seeded)."),
        i64_key!(max_iters, irange(0, MAX_COUNT),
            "Stop when the session has done this many HF iterations in total; 0 = no limit (300)."),
        f64_key!(max_seconds, frange(0.0, INF, true, false),
            "Stop when the session's accumulated wall time exceeds this many seconds; 0 = no limit."),
        f64_key!(target_error, nan_ok(frange(-INF, INF, false, false)),
            "Stop when the training error is at or below this; NaN = no target."),
        f64_key!(target_objective, nan_ok(frange(-INF, INF, false, false)),
            "Stop when the training objective is at or below this; NaN = no target."),
        i64_key!(no_progress_iters, irange(0, MAX_COUNT),
            "Stop after this many iterations in a row without a new best training objective; 0 = off."),
        i64_key!(max_rejected_in_row, irange(1, MAX_COUNT),
            "Stop after this many steps in a row rejected for NaN/Inf (10)."),
        i64_key!(seed, irange(i64::MIN, i64::MAX),
            "Seed of the session's random numbers (random chunk order)."),
        f64_key!(weight_cost, frange(0.0, INF, true, false),
            "Network objective: weight cost wc in 0.5*wc*|theta|^2 (2e-5)."),
        bool_key!(weight_cost_biases,
            "Network objective: apply the weight cost to biases too (HFDemo: true)."),
        i64_key!(eval_chunk_size, irange(1, MAX_COUNT),
            "Network objective: examples per chunk of full-batch passes (bounds memory) (5000)."),
        enum_key!(backend, BACKEND_CHOICES, backend_name, backend_from,
            "Network objective: compute backend, auto (CUDA if available, else CPU), cpu or cuda."),
        bool_key!(tf32,
            "Network objective: allow TF32 tensor-core GEMMs on CUDA (false)."),
        i64_key!(threads, irange(0, 4096),
            "Network objective: CPU threads; 0 = automatic."),
    ];
    let defaults = HfConfig::default();
    for k in &mut keys {
        k.default = (k.get)(&defaults);
    }
    keys
}

static KEYS: once_cell::sync::Lazy<Vec<KeySpec>> = once_cell::sync::Lazy::new(build_keys);

/// Levenshtein edit distance (for "did you mean" suggestions).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// A typed getter of [`HfConfig`]: checks the key's type, then unpacks the
/// [`ConfigValue`] variant that type stores.
macro_rules! typed_getter {
    ($(#[$doc:meta])* $fn:ident, $t:ty, $ty:ident, $variant:ident) => {
        $(#[$doc])*
        pub fn $fn(&self, key: &str) -> Result<$t> {
            self.get_typed(key, KeyType::$ty, |v| match v {
                ConfigValue::$variant(x) => Some(x),
                _ => None,
            })
        }
    };
}

impl HfConfig {
    /// Every key with its type, default, valid range and documentation.
    pub fn keys() -> &'static [KeySpec] {
        &KEYS
    }

    /// The spec of `key`, or an [`ErrorKind::UnknownKey`] error that suggests
    /// the closest known key.
    pub fn key_spec(key: &str) -> Result<&'static KeySpec> {
        if let Some(spec) = KEYS.iter().find(|k| k.name == key) {
            return Ok(spec);
        }
        let closest = KEYS
            .iter()
            .min_by_key(|k| edit_distance(key, k.name))
            .map(|k| k.name)
            .unwrap_or("");
        Err(Error::new(
            ErrorKind::UnknownKey,
            format!("unknown configuration key '{key}' (did you mean '{closest}'?)"),
        ))
    }

    fn typed_spec(key: &str, ty: KeyType) -> Result<&'static KeySpec> {
        let spec = Self::key_spec(key)?;
        if spec.ty != ty {
            return Err(Error::new(
                ErrorKind::WrongType,
                format!(
                    "configuration key '{key}' has type {}, not {}",
                    spec.ty.name(),
                    ty.name()
                ),
            ));
        }
        Ok(spec)
    }

    fn out_of_range(spec: &KeySpec, value: impl std::fmt::Display) -> Error {
        Error::out_of_range(format!(
            "value {value} for configuration key '{}' is out of range: valid is {}",
            spec.name,
            spec.range.describe()
        ))
    }

    /// Sets a float key, checking its range.
    pub fn set_f64(&mut self, key: &str, value: f64) -> Result<()> {
        let spec = Self::typed_spec(key, KeyType::F64)?;
        if !spec.range.contains_f64(value) {
            return Err(Self::out_of_range(spec, ConfigValue::F64(value)));
        }
        (spec.set)(self, ConfigValue::F64(value));
        Ok(())
    }

    /// Sets an integer key, checking its range.
    pub fn set_i64(&mut self, key: &str, value: i64) -> Result<()> {
        let spec = Self::typed_spec(key, KeyType::I64)?;
        if let KeyRange::I64 { min, max } = spec.range {
            if value < min || value > max {
                return Err(Self::out_of_range(spec, value));
            }
        }
        (spec.set)(self, ConfigValue::I64(value));
        Ok(())
    }

    /// Sets a boolean key.
    pub fn set_bool(&mut self, key: &str, value: bool) -> Result<()> {
        let spec = Self::typed_spec(key, KeyType::Bool)?;
        (spec.set)(self, ConfigValue::Bool(value));
        Ok(())
    }

    /// Sets a string-enum key to one of its choices.
    pub fn set_str(&mut self, key: &str, value: &str) -> Result<()> {
        let spec = Self::typed_spec(key, KeyType::Enum)?;
        let KeyRange::Choices(choices) = spec.range else {
            return Err(Error::new(
                ErrorKind::Internal,
                format!("key '{key}' has no choices"),
            ));
        };
        match choices.iter().find(|c| **c == value) {
            Some(choice) => {
                (spec.set)(self, ConfigValue::Str(choice));
                Ok(())
            }
            None => Err(Self::out_of_range(spec, format!("'{value}'"))),
        }
    }

    /// The value of `key`, checked to be of type `ty` and unpacked by `pick`.
    fn get_typed<T>(
        &self,
        key: &str,
        ty: KeyType,
        pick: impl FnOnce(ConfigValue) -> Option<T>,
    ) -> Result<T> {
        pick((Self::typed_spec(key, ty)?.get)(self))
            .ok_or_else(|| Error::new(ErrorKind::Internal, format!("key '{key}' getter type")))
    }

    typed_getter!(
        /// The value of a float key.
        get_f64, f64, F64, F64
    );
    typed_getter!(
        /// The value of an integer key.
        get_i64, i64, I64, I64
    );
    typed_getter!(
        /// The value of a boolean key.
        get_bool, bool, Bool, Bool
    );
    typed_getter!(
        /// The value of a string-enum key.
        get_str, &'static str, Enum, Str
    );

    /// The value of any key.
    pub fn get(&self, key: &str) -> Result<ConfigValue> {
        Ok((Self::key_spec(key)?.get)(self))
    }

    /// Sets a key from text, parsed by the key's type (`--set key=value`).
    /// Floats accept `inf` and `NaN`; booleans `true/false/1/0/yes/no/on/off`.
    pub fn set_from_str(&mut self, key: &str, text: &str) -> Result<()> {
        let spec = Self::key_spec(key)?;
        let t = text.trim();
        let wrong = || {
            Error::new(
                ErrorKind::WrongType,
                format!(
                    "configuration key '{key}' needs a {} value, got '{t}'",
                    spec.ty.name()
                ),
            )
        };
        match spec.ty {
            KeyType::F64 => self.set_f64(key, t.parse::<f64>().map_err(|_| wrong())?),
            KeyType::I64 => self.set_i64(key, t.parse::<i64>().map_err(|_| wrong())?),
            KeyType::Bool => self.set_bool(key, parse_bool(t).ok_or_else(wrong)?),
            KeyType::Enum => self.set_str(key, t),
        }
    }

    /// Parses `key=value` into a (key, value) pair and applies it.
    pub fn set_assignment(&mut self, assignment: &str) -> Result<()> {
        let Some((key, value)) = assignment.split_once('=') else {
            return Err(Error::invalid(format!(
                "expected key=value, got '{assignment}'"
            )));
        };
        self.set_from_str(key.trim(), value)
    }

    /// All keys as `key=value` lines, in [`HfConfig::keys`] order. Floats are
    /// written so that they parse back to the same bits.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for spec in KEYS.iter() {
            out.push_str(spec.name);
            out.push('=');
            out.push_str(&(spec.get)(self).to_string());
            out.push('\n');
        }
        out
    }

    /// A configuration from `key=value` lines (blank lines and `#` comments
    /// ignored); keys not mentioned keep their defaults. Errors name the line.
    pub fn from_text(text: &str) -> Result<HfConfig> {
        let mut cfg = HfConfig::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            cfg.set_assignment(line)
                .map_err(|e| e.context(format!("configuration line {}", n + 1)))?;
        }
        Ok(cfg)
    }

    /// Checks every value against its documented range and the cross-key
    /// constraints (`rho_low <= rho_high`, `lambda_min <= lambda_max`,
    /// `cg_min_iters <= cg_max_iters`).
    pub fn validate(&self) -> Result<()> {
        for spec in KEYS.iter() {
            match ((spec.get)(self), spec.range) {
                (ConfigValue::F64(v), r) if !r.contains_f64(v) => {
                    return Err(Self::out_of_range(spec, ConfigValue::F64(v)));
                }
                (ConfigValue::I64(v), KeyRange::I64 { min, max }) if v < min || v > max => {
                    return Err(Self::out_of_range(spec, v));
                }
                _ => {}
            }
        }
        if self.rho_low > self.rho_high {
            return Err(Error::out_of_range(format!(
                "rho_low ({}) must not exceed rho_high ({})",
                self.rho_low, self.rho_high
            )));
        }
        if self.lambda_min > self.lambda_max {
            return Err(Error::out_of_range(format!(
                "lambda_min ({}) must not exceed lambda_max ({})",
                self.lambda_min, self.lambda_max
            )));
        }
        if self.cg_min_iters > self.cg_max_iters {
            return Err(Error::out_of_range(format!(
                "cg_min_iters ({}) must not exceed cg_max_iters ({})",
                self.cg_min_iters, self.cg_max_iters
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_table() {
        let c = HfConfig::default();
        assert_eq!(c.get_f64("initial_lambda").unwrap(), 45.0);
        assert_eq!(c.get_i64("cg_max_iters").unwrap(), 250);
        assert_eq!(c.get_str("curvature").unwrap(), "gauss_newton");
        for k in HfConfig::keys() {
            // Compared as text: NaN (no target) is not equal to itself.
            assert_eq!(
                c.get(k.name).unwrap().to_string(),
                k.default.to_string(),
                "{}",
                k.name
            );
        }
        c.validate().unwrap();
    }

    #[test]
    fn text_roundtrip_is_exact() {
        let mut c = HfConfig::default();
        c.set_f64("cg_decay", 0.1 + 0.2).unwrap();
        c.set_str("chunk_order", "random").unwrap();
        c.set_i64("seed", -5).unwrap();
        let back = HfConfig::from_text(&c.to_text()).unwrap();
        // NaN != NaN, so compare the text forms.
        assert_eq!(back.to_text(), c.to_text());
        assert_eq!(back.cg_decay.to_bits(), (0.1f64 + 0.2).to_bits());
    }

    #[test]
    fn every_key_round_trips_through_its_typed_accessors() {
        let mut c = HfConfig::default();
        for spec in HfConfig::keys() {
            let key = spec.name;
            match spec.ty {
                KeyType::F64 => {
                    let v = c.get_f64(key).unwrap();
                    c.set_f64(key, v).unwrap();
                    assert_eq!(c.get_f64(key).unwrap().to_bits(), v.to_bits(), "{key}");
                    assert_eq!(c.get_i64(key).unwrap_err().kind(), ErrorKind::WrongType);
                }
                KeyType::I64 => {
                    let v = c.get_i64(key).unwrap();
                    c.set_i64(key, v).unwrap();
                    assert_eq!(c.get_i64(key).unwrap(), v, "{key}");
                    assert_eq!(c.get_bool(key).unwrap_err().kind(), ErrorKind::WrongType);
                }
                KeyType::Bool => {
                    let v = c.get_bool(key).unwrap();
                    c.set_bool(key, !v).unwrap();
                    assert_eq!(c.get_bool(key).unwrap(), !v, "{key}");
                    assert_eq!(c.get_str(key).unwrap_err().kind(), ErrorKind::WrongType);
                }
                KeyType::Enum => {
                    let KeyRange::Choices(choices) = spec.range else {
                        panic!("{key} has no choices");
                    };
                    for choice in choices {
                        c.set_str(key, choice).unwrap();
                        assert_eq!(c.get_str(key).unwrap(), *choice, "{key}");
                    }
                    assert_eq!(c.get_f64(key).unwrap_err().kind(), ErrorKind::WrongType);
                }
            }
        }
        // The last choice of each enum key reached the typed field.
        assert_eq!(c.curvature, CurvatureKind::EmpiricalFisher);
        assert_eq!(c.chunk_order, ChunkOrder::Random);
        assert_eq!(c.backend, BackendChoice::Cuda);
        assert_eq!(
            c.get_f64("no_such_key").unwrap_err().kind(),
            ErrorKind::UnknownKey
        );
    }

    #[test]
    fn errors_have_kinds() {
        let mut c = HfConfig::default();
        let e = c.set_f64("inital_lambda", 1.0).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnknownKey);
        assert!(e.message().contains("initial_lambda"), "{}", e.message());
        let e = c.set_i64("initial_lambda", 1).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WrongType);
        let e = c.set_f64("ls_shrink", 1.5).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OutOfRange);
        assert!(e.message().contains("(0, 1)"), "{}", e.message());
        let e = c.set_str("curvature", "newton").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OutOfRange);
        let e = c.set_from_str("cg_max_iters", "ten").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WrongType);
        c.set_from_str("target_error", "NaN").unwrap();
        c.set_from_str("lambda_max", "inf").unwrap();
        c.set_from_str("backtrack", "off").unwrap();
        assert!(!c.backtrack);
    }
}
