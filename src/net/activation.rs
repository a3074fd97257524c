//! Unit non-linearities and the losses matched to output units.

/// The non-linearity of a layer's units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activation {
    /// `1 / (1 + e^{-z})`; as output units, paired with cross-entropy.
    Logistic,
    /// `tanh(z)` (hidden layers only).
    Tanh,
    /// The identity; as output units, paired with squared error.
    Linear,
    /// `max(0, z)` (hidden layers only).
    Relu,
    /// Softmax over the layer (output layer only), paired with multiclass cross-entropy.
    Softmax,
}

impl Activation {
    /// The lower-case name used in specs, files and the C API.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Logistic => "logistic",
            Activation::Tanh => "tanh",
            Activation::Linear => "linear",
            Activation::Relu => "relu",
            Activation::Softmax => "softmax",
        }
    }

    /// Parses a name as written by [`Activation::name`] (also `sigmoid`, `identity`).
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "logistic" | "sigmoid" => Some(Activation::Logistic),
            "tanh" => Some(Activation::Tanh),
            "linear" | "identity" => Some(Activation::Linear),
            "relu" => Some(Activation::Relu),
            "softmax" => Some(Activation::Softmax),
            _ => None,
        }
    }

    /// A stable small integer code (used in the C API and in files).
    pub fn code(self) -> u32 {
        match self {
            Activation::Logistic => 0,
            Activation::Tanh => 1,
            Activation::Linear => 2,
            Activation::Relu => 3,
            Activation::Softmax => 4,
        }
    }

    /// The inverse of [`Activation::code`].
    pub fn from_code(code: u32) -> Option<Self> {
        [
            Activation::Logistic,
            Activation::Tanh,
            Activation::Linear,
            Activation::Relu,
            Activation::Softmax,
        ]
        .into_iter()
        .find(|a| a.code() == code)
    }

    /// The initial bias of units with this activation under sparse
    /// initialisation (0.5 for tanh as in the paper, else 0).
    pub fn initial_bias(self) -> f64 {
        match self {
            Activation::Tanh => 0.5,
            _ => 0.0,
        }
    }
}

/// The loss used for a network, fixed by its output units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Loss {
    /// Logistic outputs: `Σ_d −t log y − (1−t) log(1−y)` per example.
    CrossEntropy,
    /// Linear outputs: the un-halved `Σ_d (y − t)²` per example.
    SquaredError,
    /// Softmax outputs: `−Σ_d t log y` per example.
    SoftmaxCrossEntropy,
}

impl Loss {
    /// The loss matched to these output units; `None` for hidden-only units.
    pub fn matched_to(output: Activation) -> Option<Self> {
        match output {
            Activation::Logistic => Some(Loss::CrossEntropy),
            Activation::Linear => Some(Loss::SquaredError),
            Activation::Softmax => Some(Loss::SoftmaxCrossEntropy),
            Activation::Tanh | Activation::Relu => None,
        }
    }

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Loss::CrossEntropy => "cross-entropy",
            Loss::SquaredError => "squared error",
            Loss::SoftmaxCrossEntropy => "softmax cross-entropy",
        }
    }
}
