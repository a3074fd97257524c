//! Network architecture and the flat parameter layout.

use super::activation::{Activation, Loss};
use crate::error::{Error, ErrorKind, Result};

/// The largest number of parameters a network may have (2³¹, i.e. 8 GiB of
/// `f32`). Larger specs are refused up front with `ErrorKind::ResourceLimit`
/// instead of failing later inside an allocation.
pub const MAX_PARAMS: usize = 1 << 31;

/// Where one layer's weights and biases live in the flat parameter vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerSlot {
    /// Units feeding this layer.
    pub fan_in: usize,
    /// Units of this layer.
    pub fan_out: usize,
    /// Offset of the weight matrix (`fan_in × fan_out`, row-major).
    pub weights: usize,
    /// Offset of the bias vector (`fan_out` values), right after the weights.
    pub biases: usize,
}

impl LayerSlot {
    /// One past the last parameter of this layer.
    pub fn end(&self) -> usize {
        self.biases + self.fan_out
    }
}

/// A feed-forward network's architecture: layer sizes (input first) and the
/// activation of every non-input layer. The loss is fixed by the output units.
///
/// **Parameter layout.** θ is one contiguous vector holding, for each layer
/// `l = 1..L` in order, the weight matrix `W_l` (`fan_in × fan_out`, row-major,
/// so `z = a·W_l + b_l` for a row of activations `a`) followed by the biases
/// `b_l`. Read as a column-major array, `W_l` is MATLAB's `fan_out × fan_in`
/// matrix acting as `z = W·a + b` on column examples, so hosts never transpose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetSpec {
    sizes: Vec<usize>,
    activations: Vec<Activation>,
    slots: Vec<LayerSlot>,
    num_params: usize,
}

impl NetSpec {
    /// A network with `sizes[0]` inputs and layers `sizes[1..]`, the layer
    /// `sizes[l]` using `activations[l-1]`.
    ///
    /// Errors: fewer than two sizes, a zero size, a count mismatch, softmax
    /// in a hidden layer, tanh/ReLU output units (no matched loss), or more
    /// than [`MAX_PARAMS`] parameters.
    pub fn new(sizes: Vec<usize>, activations: Vec<Activation>) -> Result<Self> {
        if sizes.len() < 2 {
            return Err(Error::invalid(format!(
                "a network needs at least an input and an output layer, got {} layer size(s)",
                sizes.len()
            )));
        }
        if let Some(i) = sizes.iter().position(|&s| s == 0) {
            return Err(Error::invalid(format!("layer {i} has zero units")));
        }
        if activations.len() != sizes.len() - 1 {
            return Err(Error::shape(format!(
                "{} layer sizes need {} activations (one per non-input layer), got {}",
                sizes.len(),
                sizes.len() - 1,
                activations.len()
            )));
        }
        let last = activations.len() - 1;
        if let Some(i) = activations[..last]
            .iter()
            .position(|&a| a == Activation::Softmax)
        {
            return Err(Error::invalid(format!(
                "softmax is only supported on the output layer, found on hidden layer {}",
                i + 1
            )));
        }
        if Loss::matched_to(activations[last]).is_none() {
            return Err(Error::invalid(format!(
                "output units must be logistic, linear or softmax (a matched loss exists only for those), got {}",
                activations[last].name()
            )));
        }
        let (slots, num_params) = layout(&sizes)?;
        Ok(NetSpec {
            sizes,
            activations,
            slots,
            num_params,
        })
    }

    /// A symmetric deep autoencoder as in the paper's Table 1: `encoder` lists
    /// the sizes from the input to the code layer (e.g. `[784, 1000, 500, 250, 30]`);
    /// the decoder mirrors it. Hidden units are logistic, the code layer is
    /// linear, and the output units are `output` (logistic for CURVES and
    /// MNIST, linear for FACES).
    ///
    /// Errors: as [`NetSpec::new`], plus an `output` other than logistic or
    /// linear: the output reconstructs the input pixel by pixel, which a
    /// softmax (one distribution over all pixels) does not.
    pub fn autoencoder(encoder: &[usize], output: Activation) -> Result<Self> {
        if encoder.len() < 2 {
            return Err(Error::invalid(format!(
                "an autoencoder's encoder needs an input and a code size, got {encoder:?}"
            )));
        }
        if !matches!(output, Activation::Logistic | Activation::Linear) {
            return Err(Error::invalid(format!(
                "output = {}: an autoencoder's output units must be logistic or linear",
                output.name()
            )));
        }
        let mut sizes = encoder.to_vec();
        sizes.extend(encoder[..encoder.len() - 1].iter().rev());
        let code = encoder.len() - 1; // index of the code layer in `sizes`
        let activations = (1..sizes.len())
            .map(|l| {
                if l == code {
                    Activation::Linear
                } else if l == sizes.len() - 1 {
                    output
                } else {
                    Activation::Logistic
                }
            })
            .collect();
        NetSpec::new(sizes, activations)
    }

    /// Layer sizes, input first.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }
    /// Activation of each non-input layer.
    pub fn activations(&self) -> &[Activation] {
        &self.activations
    }
    /// Number of weight layers L.
    pub fn num_layers(&self) -> usize {
        self.slots.len()
    }
    /// Input dimension.
    pub fn input_dim(&self) -> usize {
        self.sizes[0]
    }
    /// Output dimension.
    pub fn output_dim(&self) -> usize {
        self.sizes[self.sizes.len() - 1]
    }
    /// Output units' activation.
    pub fn output_activation(&self) -> Activation {
        self.activations[self.activations.len() - 1]
    }
    /// The loss matched to the output units.
    pub fn loss(&self) -> Loss {
        Loss::matched_to(self.output_activation()).unwrap_or(Loss::SquaredError)
    }
    /// Total number of parameters P.
    pub fn num_params(&self) -> usize {
        self.num_params
    }
    /// Where layer `l` (0-based weight layer) lives in θ.
    pub fn slot(&self, l: usize) -> LayerSlot {
        self.slots[l]
    }
    /// All layer slots in order.
    pub fn slots(&self) -> &[LayerSlot] {
        &self.slots
    }
    /// Multiply-adds of one forward pass per example (Σ fan_in·fan_out).
    pub fn macs_per_example(&self) -> usize {
        self.slots.iter().map(|s| s.fan_in * s.fan_out).sum()
    }
    /// A 0/1 mask over θ: 1 on weights, and on biases when `include_biases`.
    pub fn weight_cost_mask(&self, include_biases: bool) -> Vec<f32> {
        let mut mask = vec![1.0f32; self.num_params];
        if !include_biases {
            for s in &self.slots {
                mask[s.biases..s.end()].fill(0.0);
            }
        }
        mask
    }
    /// A short description such as `784-1000(logistic)-…-784(logistic)`.
    pub fn describe(&self) -> String {
        let mut s = self.sizes[0].to_string();
        for (size, act) in self.sizes[1..].iter().zip(&self.activations) {
            s.push_str(&format!("-{size}({})", act.name()));
        }
        s
    }
}

fn layout(sizes: &[usize]) -> Result<(Vec<LayerSlot>, usize)> {
    let too_big = || {
        Error::new(
            ErrorKind::ResourceLimit,
            format!(
                "network {sizes:?} has more than {MAX_PARAMS} parameters; refusing to allocate it"
            ),
        )
    };
    let mut slots = Vec::with_capacity(sizes.len() - 1);
    let mut offset = 0usize;
    for w in sizes.windows(2) {
        let (fan_in, fan_out) = (w[0], w[1]);
        let weights = offset;
        let biases = fan_in
            .checked_mul(fan_out)
            .and_then(|n| n.checked_add(weights))
            .ok_or_else(too_big)?;
        offset = biases.checked_add(fan_out).ok_or_else(too_big)?;
        if offset > MAX_PARAMS {
            return Err(too_big());
        }
        slots.push(LayerSlot {
            fan_in,
            fan_out,
            weights,
            biases,
        });
    }
    Ok((slots, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_weights_then_biases_per_layer() {
        let s = NetSpec::new(vec![3, 2, 4], vec![Activation::Tanh, Activation::Linear]).unwrap();
        assert_eq!(s.num_params(), 3 * 2 + 2 + 2 * 4 + 4);
        assert_eq!(s.slot(0).weights, 0);
        assert_eq!(s.slot(0).biases, 6);
        assert_eq!(s.slot(1).weights, 8);
        assert_eq!(s.slot(1).biases, 16);
        assert_eq!(s.slot(1).end(), 20);
    }

    #[test]
    fn autoencoder_mirrors_encoder_with_linear_code() {
        let s = NetSpec::autoencoder(&[784, 1000, 500, 250, 30], Activation::Logistic).unwrap();
        assert_eq!(s.sizes(), &[784, 1000, 500, 250, 30, 250, 500, 1000, 784]);
        assert_eq!(s.activations()[3], Activation::Linear);
        assert_eq!(
            s.activations()
                .iter()
                .filter(|&&a| a == Activation::Linear)
                .count(),
            1
        );
        assert_eq!(s.output_activation(), Activation::Logistic);
        assert_eq!(s.loss(), Loss::CrossEntropy);
    }

    #[test]
    fn autoencoder_output_is_logistic_or_linear_only() {
        for output in [Activation::Logistic, Activation::Linear] {
            assert!(NetSpec::autoencoder(&[6, 3, 2], output).is_ok());
        }
        // Softmax is a valid output layer for `new`, but not a reconstruction.
        for output in [Activation::Softmax, Activation::Tanh, Activation::Relu] {
            let e = NetSpec::autoencoder(&[6, 3, 2], output).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            assert!(e.message().contains(output.name()), "{}", e.message());
            assert!(
                e.message().contains("logistic or linear"),
                "{}",
                e.message()
            );
        }
    }

    #[test]
    fn absurd_specs_are_refused() {
        let e = NetSpec::new(vec![3, 0, 2], vec![Activation::Tanh, Activation::Linear]);
        assert_eq!(e.unwrap_err().kind(), ErrorKind::InvalidArgument);
        let e = NetSpec::new(vec![1 << 40, 1 << 20], vec![Activation::Linear]);
        assert_eq!(e.unwrap_err().kind(), ErrorKind::ResourceLimit);
        let e = NetSpec::new(vec![usize::MAX, 3], vec![Activation::Linear]);
        assert_eq!(e.unwrap_err().kind(), ErrorKind::ResourceLimit);
        let e = NetSpec::new(vec![3, 2, 2], vec![Activation::Softmax, Activation::Linear]);
        assert!(e.unwrap_err().message().contains("hidden layer 1"));
        let e = NetSpec::new(vec![3, 2], vec![Activation::Relu]);
        assert_eq!(e.unwrap_err().kind(), ErrorKind::InvalidArgument);
    }
}
