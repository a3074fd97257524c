//! `hf_net`: a feed-forward network (architecture plus parameter vector theta).
//!
//! theta layout: for each weight layer in order, the `fan_in x fan_out` weight
//! matrix (row-major, so `z = a W + b` for a row of activations; the same
//! memory as MATLAB's `fan_out x fan_in` matrix acting on column examples)
//! followed by the `fan_out` biases.
//!
//! Array lengths: an input array must have exactly the expected length
//! (`HF_ERR_SHAPE_MISMATCH` otherwise); an output array must have at least
//! that length (`HF_ERR_BUFFER_TOO_SMALL` otherwise, nothing written), and
//! elements beyond it are left untouched.

use std::ffi::c_char;

use ndarray::ArrayView2;

use super::args::{c_str, check_finite, check_len, copy_text, out, slice_in, slice_out, Out};
use super::data::path_arg;
use super::error::{FfiError, FfiResult};
use super::guard::guard;
use super::handle::{self, hf_data, hf_net, HandleKind, Kind, Locked};
use super::status::hf_status;
use crate::backend::DEFAULT_EVAL_CHUNK;
use crate::data::Dataset;
use crate::hf::CurvatureKind;
use crate::net::{Activation, Init, NetSpec, Network};
use crate::presets::Preset;

/// The unit non-linearity of a layer (`int32_t` codes in function
/// arguments). Hidden layers may use any but softmax; output layers must be
/// logistic (cross-entropy loss), linear (squared error) or softmax
/// (multiclass cross-entropy).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum hf_activation {
    /// `1 / (1 + exp(-z))`.
    HF_ACT_LOGISTIC = 0,
    /// `tanh(z)` (hidden layers only).
    HF_ACT_TANH = 1,
    /// The identity.
    HF_ACT_LINEAR = 2,
    /// `max(0, z)` (hidden layers only).
    HF_ACT_RELU = 3,
    /// Softmax over the layer (output layer only).
    HF_ACT_SOFTMAX = 4,
}

/// The curvature matrix of a product (`int32_t` codes in function arguments).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum hf_curvature {
    /// The Gauss-Newton matrix `J^T H_L J` (positive semi-definite).
    HF_CURVATURE_GAUSS_NEWTON = 0,
    /// The exact Hessian (may be indefinite).
    HF_CURVATURE_HESSIAN = 1,
    /// The empirical Fisher: mean of per-example `g g^T`.
    HF_CURVATURE_EMPIRICAL_FISHER = 2,
}

/// The activation with C code `code`, or `HF_ERR_INVALID_ARGUMENT` naming `arg`.
pub(crate) fn activation_from(code: i32, arg: &str) -> FfiResult<Activation> {
    u32::try_from(code)
        .ok()
        .and_then(Activation::from_code)
        .ok_or_else(|| {
            FfiError::new(
                hf_status::HF_ERR_INVALID_ARGUMENT,
                format!(
                    "{arg} = {code} is not an hf_activation (0 logistic, 1 tanh, 2 linear, 3 relu, 4 softmax)"
                ),
            )
        })
}

/// The curvature kind with C code `code`, or `HF_ERR_INVALID_ARGUMENT`.
pub(crate) fn curvature_from(code: i32, arg: &str) -> FfiResult<CurvatureKind> {
    match code {
        0 => Ok(CurvatureKind::GaussNewton),
        1 => Ok(CurvatureKind::Hessian),
        2 => Ok(CurvatureKind::EmpiricalFisher),
        _ => Err(FfiError::new(
            hf_status::HF_ERR_INVALID_ARGUMENT,
            format!(
                "{arg} = {code} is not an hf_curvature (0 Gauss-Newton, 1 Hessian, 2 empirical Fisher)"
            ),
        )),
    }
}

/// The C code of a curvature kind.
pub(crate) fn curvature_code(kind: CurvatureKind) -> i32 {
    match kind {
        CurvatureKind::GaussNewton => 0,
        CurvatureKind::Hessian => 1,
        CurvatureKind::EmpiricalFisher => 2,
    }
}

/// The object behind an `hf_net` handle.
pub struct NetObj {
    net: Locked<Network>,
}

impl HandleKind for NetObj {
    type C = hf_net;
    const KIND: Kind = Kind::Net;
}

/// The architecture and a copy of theta of the net behind `net`.
pub(crate) fn net_parts(net: *const hf_net, arg: &str) -> FfiResult<(NetSpec, Vec<f32>)> {
    handle::get::<NetObj>(net, arg)?
        .net
        .with(arg, |n| Ok((n.spec().clone(), n.params().to_vec())))
}

/// Registers a network and writes its handle.
pub(crate) fn register_net(net: Network, result: Out<'_, *mut hf_net>) -> FfiResult<()> {
    result.write(handle::register(NetObj {
        net: Locked::new(net),
    })?);
    Ok(())
}

/// Fails with `HF_ERR_RESOURCE_LIMIT` if `spec`'s parameter vector cannot
/// be allocated, so that an absurd (but representable) network is refused
/// instead of aborting the host process in the allocator.
fn check_allocatable(spec: &NetSpec) -> FfiResult<()> {
    let n = spec.num_params();
    let mut probe: Vec<f32> = Vec::new();
    probe.try_reserve_exact(n).map_err(|_| {
        FfiError::new(
            hf_status::HF_ERR_RESOURCE_LIMIT,
            format!(
                "network {} has {n} parameters ({} bytes), which cannot be allocated",
                spec.describe(),
                n.saturating_mul(4)
            ),
        )
    })
}

/// A sparsely initialised network of `spec` (the paper's scheme: 15 non-zero
/// N(0,1) incoming weights per unit, biases 0, 0.5 for tanh units).
fn new_net(spec: NetSpec, seed: u64, result: Out<'_, *mut hf_net>) -> FfiResult<()> {
    check_allocatable(&spec)?;
    register_net(Network::new(spec, Init::default(), seed)?, result)
}

/// Runs `f` on the network behind `net` (calls on one net serialize).
fn with_net<R>(net: *const hf_net, f: impl FnOnce(&mut Network) -> FfiResult<R>) -> FfiResult<R> {
    handle::get::<NetObj>(net, "net")?.net.with("net", f)
}

/// Creates a network with layer sizes `sizes` (input first, `sizes_len` >= 2
/// of them) and one `hf_activation` code per non-input layer
/// (`activations_len` = `sizes_len` - 1), sparsely initialised from `seed`
/// (paper section 5: 15 non-zero N(0,1) incoming weights per unit).
///
/// Errors: `HF_ERR_INVALID_ARGUMENT` (fewer than two sizes, a zero-width
/// layer, an unknown activation code, softmax in a hidden layer, tanh/relu
/// output units), `HF_ERR_SHAPE_MISMATCH` (activation count),
/// `HF_ERR_RESOURCE_LIMIT` (more than 2^31 parameters, or more memory than
/// can be allocated).
///
/// # Safety
/// `sizes`/`activations` must be NULL or point to that many elements; `out`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn hf_net_new(
    sizes: *const usize,
    sizes_len: usize,
    activations: *const i32,
    activations_len: usize,
    seed: u64,
    out: *mut *mut hf_net,
) -> hf_status {
    guard("hf_net_new", || {
        // SAFETY: the caller's contracts.
        let (sizes, codes, result) = unsafe {
            (
                slice_in(sizes, sizes_len, "sizes")?,
                slice_in(activations, activations_len, "activations")?,
                super::args::out(out, "out")?,
            )
        };
        let acts = codes
            .iter()
            .enumerate()
            .map(|(i, &c)| activation_from(c, &format!("activations[{i}]")))
            .collect::<FfiResult<Vec<_>>>()?;
        let spec = NetSpec::new(sizes.to_vec(), acts)?;
        new_net(spec, seed, result)
    })
}

/// Creates a deep autoencoder as in the paper's Table 1: `encoder` lists the
/// sizes from the input to the code layer (e.g. 784, 1000, 500, 250, 30) and
/// the decoder mirrors it; hidden units are logistic, the code layer linear,
/// the output units `output_activation` (`HF_ACT_LOGISTIC` or
/// `HF_ACT_LINEAR`). Sparse initialisation from `seed`; errors as for
/// `hf_net_new`, and any other `output_activation` (`HF_ACT_SOFTMAX`
/// included) is `HF_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `encoder` must be NULL or point to `encoder_len` sizes; `out` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn hf_net_new_autoencoder(
    encoder: *const usize,
    encoder_len: usize,
    output_activation: i32,
    seed: u64,
    out: *mut *mut hf_net,
) -> hf_status {
    guard("hf_net_new_autoencoder", || {
        // SAFETY: the caller's contracts.
        let (encoder, result) = unsafe {
            (
                slice_in(encoder, encoder_len, "encoder")?,
                super::args::out(out, "out")?,
            )
        };
        let output = activation_from(output_activation, "output_activation")?;
        // Checked here too so that the message names the C argument.
        if !matches!(output, Activation::Logistic | Activation::Linear) {
            return Err(FfiError::new(
                hf_status::HF_ERR_INVALID_ARGUMENT,
                format!(
                    "output_activation = {output_activation} ({}): an autoencoder's output units \
                     must be HF_ACT_LOGISTIC or HF_ACT_LINEAR",
                    output.name()
                ),
            ));
        }
        let spec = NetSpec::autoencoder(encoder, output)?;
        new_net(spec, seed, result)
    })
}

/// Creates the network of one of the paper's experiments (`"curves"`,
/// `"mnist"`, `"faces"`; any case), sparsely initialised from `seed`.
///
/// # Safety
/// `preset` must be NULL or a NUL-terminated string; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn hf_net_new_preset(
    preset: *const c_char,
    seed: u64,
    out: *mut *mut hf_net,
) -> hf_status {
    guard("hf_net_new_preset", || {
        // SAFETY: the caller's contracts.
        let (name, result) = unsafe { (c_str(preset, "preset")?, super::args::out(out, "out")?) };
        new_net(Preset::parse(name)?.spec(), seed, result)
    })
}

/// Creates an independent copy of `net` (architecture and theta).
///
/// # Safety
/// `out` must be NULL or point to a writable `hf_net *`.
#[no_mangle]
pub unsafe extern "C" fn hf_net_clone(net: *const hf_net, out: *mut *mut hf_net) -> hf_status {
    guard("hf_net_clone", || {
        // SAFETY: the caller's contract.
        let result = unsafe { super::args::out(out, "out")? };
        let copy = with_net(net, |n| Ok(n.clone()))?;
        register_net(copy, result)
    })
}

/// Releases a network. NULL and an already freed `hf_net` are harmless; a
/// handle of another kind is `HF_ERR_INVALID_HANDLE` and frees nothing.
/// Sessions created from it keep their own copy.
#[no_mangle]
pub extern "C" fn hf_net_free(net: *mut hf_net) -> hf_status {
    guard("hf_net_free", || handle::free::<NetObj>(net, "net"))
}

/// Writes the number of parameters P (the length of theta).
///
/// # Safety
/// `count` must be NULL or point to a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn hf_net_num_params(net: *const hf_net, count: *mut usize) -> hf_status {
    guard("hf_net_num_params", || {
        // SAFETY: the caller's contract.
        let result = unsafe { out(count, "count")? };
        result.write(with_net(net, |n| Ok(n.spec().num_params()))?);
        Ok(())
    })
}

/// Writes the number of layer sizes, input layer included (the number of
/// weight layers plus one): the length `hf_net_layer_sizes` fills.
///
/// # Safety
/// `count` must be NULL or point to a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn hf_net_num_layers(net: *const hf_net, count: *mut usize) -> hf_status {
    guard("hf_net_num_layers", || {
        // SAFETY: the caller's contract.
        let result = unsafe { out(count, "count")? };
        result.write(with_net(net, |n| Ok(n.spec().sizes().len()))?);
        Ok(())
    })
}

/// Copies `values` into the output array `dest` (`dest_len` elements, at
/// least `values.len()`; `HF_ERR_BUFFER_TOO_SMALL` otherwise).
///
/// # Safety
/// `dest` must be NULL or point to `dest_len` writable elements.
pub(crate) unsafe fn copy_out<T: Copy>(
    values: &[T],
    dest: *mut T,
    dest_len: usize,
    arg: &str,
    what: &str,
) -> FfiResult<()> {
    need_room(dest_len, values.len(), arg, what)?;
    // SAFETY: the caller's contract.
    let dest = unsafe { slice_out(dest, dest_len, arg)? };
    dest[..values.len()].copy_from_slice(values);
    Ok(())
}

/// `HF_ERR_BUFFER_TOO_SMALL` unless output `arg` (length `len`) holds `need`.
pub(crate) fn need_room(len: usize, need: usize, arg: &str, what: &str) -> FfiResult<()> {
    if len < need {
        return Err(FfiError::new(
            hf_status::HF_ERR_BUFFER_TOO_SMALL,
            format!("{arg}_len is {len}, need {what} = {need}"),
        ));
    }
    Ok(())
}

/// Copies the layer sizes (input first) into `out` (at least
/// `hf_net_num_layers` elements).
///
/// # Safety
/// `out` must be NULL or point to `out_len` writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn hf_net_layer_sizes(
    net: *const hf_net,
    out: *mut usize,
    out_len: usize,
) -> hf_status {
    guard("hf_net_layer_sizes", || {
        let sizes = with_net(net, |n| Ok(n.spec().sizes().to_vec()))?;
        // SAFETY: the caller's contract.
        unsafe { copy_out(&sizes, out, out_len, "out", "the number of layers") }
    })
}

/// Copies the `hf_activation` code of each non-input layer into `out` (at
/// least `hf_net_num_layers` - 1 elements).
///
/// # Safety
/// `out` must be NULL or point to `out_len` writable `int32_t`.
#[no_mangle]
pub unsafe extern "C" fn hf_net_layer_activations(
    net: *const hf_net,
    out: *mut i32,
    out_len: usize,
) -> hf_status {
    guard("hf_net_layer_activations", || {
        let codes: Vec<i32> = with_net(net, |n| {
            Ok(n.spec()
                .activations()
                .iter()
                .map(|a| a.code() as i32)
                .collect())
        })?;
        // SAFETY: the caller's contract.
        unsafe { copy_out(&codes, out, out_len, "out", "the number of weight layers") }
    })
}

/// Copies a description such as `"784-64(logistic)-8(linear)-64(logistic)-784(logistic)"`
/// with its NUL into `buf`; if it does not fit, nothing is written
/// (`HF_ERR_BUFFER_TOO_SMALL`, the message gives the size needed).
///
/// # Safety
/// `buf` must be NULL or point to `len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn hf_net_describe(
    net: *const hf_net,
    buf: *mut c_char,
    len: usize,
) -> hf_status {
    guard("hf_net_describe", || {
        let text = with_net(net, |n| Ok(n.spec().describe()))?;
        // SAFETY: the caller's contract.
        unsafe { copy_text(&text, buf, len, "buf") }
    })
}

/// Copies theta into `out` (at least P floats, see `hf_net_num_params`).
///
/// # Safety
/// `out` must be NULL or point to `out_len` writable floats.
#[no_mangle]
pub unsafe extern "C" fn hf_net_get_params(
    net: *const hf_net,
    out: *mut f32,
    out_len: usize,
) -> hf_status {
    guard("hf_net_get_params", || {
        with_net(net, |n| {
            // SAFETY: the caller's contract.
            unsafe { copy_out(n.params(), out, out_len, "out", "the number of parameters") }
        })
    })
}

/// Replaces theta with `params` (exactly P floats). NaN or infinity is
/// `HF_ERR_NON_FINITE` naming the first bad index; on any error theta is
/// unchanged.
///
/// # Safety
/// `params` must be NULL or point to `params_len` floats.
#[no_mangle]
pub unsafe extern "C" fn hf_net_set_params(
    net: *mut hf_net,
    params: *const f32,
    params_len: usize,
) -> hf_status {
    guard("hf_net_set_params", || {
        // SAFETY: the caller's contract.
        let params = unsafe { slice_in(params, params_len, "params")? };
        with_net(net, |n| {
            check_len(
                params.len(),
                n.spec().num_params(),
                "params",
                "the number of parameters",
            )?;
            check_finite(params, "params")?;
            Ok(n.set_params(params)?)
        })
    })
}

/// Computes the network's outputs for `n` examples: `inputs` is
/// `n x input_dim` (row-major, exactly that many floats, all finite),
/// `outputs` receives `n x output_dim` floats (it must hold at least that
/// many). Runs in slices of 5000 examples, so memory stays bounded.
///
/// # Safety
/// `inputs` must be NULL or point to `inputs_len` floats; `outputs` NULL or
/// `outputs_len` writable floats.
#[no_mangle]
pub unsafe extern "C" fn hf_net_predict(
    net: *const hf_net,
    inputs: *const f32,
    inputs_len: usize,
    n: usize,
    outputs: *mut f32,
    outputs_len: usize,
) -> hf_status {
    guard("hf_net_predict", || {
        // SAFETY: the caller's contracts.
        let (inputs, outputs) = unsafe {
            (
                slice_in(inputs, inputs_len, "inputs")?,
                slice_out(outputs, outputs_len, "outputs")?,
            )
        };
        with_net(net, |net| predict(net, inputs, n, outputs))
    })
}

/// The body of `hf_net_predict`.
fn predict(net: &Network, inputs: &[f32], n: usize, outputs: &mut [f32]) -> FfiResult<()> {
    let (din, dout) = (net.spec().input_dim(), net.spec().output_dim());
    if n == 0 {
        return Err(FfiError::new(
            hf_status::HF_ERR_INVALID_ARGUMENT,
            "n is 0; need at least one example",
        ));
    }
    let overflow = || {
        FfiError::new(
            hf_status::HF_ERR_INVALID_ARGUMENT,
            format!("n = {n} examples overflow size_t"),
        )
    };
    let want_in = n.checked_mul(din).ok_or_else(overflow)?;
    let want_out = n.checked_mul(dout).ok_or_else(overflow)?;
    check_len(inputs.len(), want_in, "inputs", "n x input_dim")?;
    need_room(outputs.len(), want_out, "outputs", "n x output_dim")?;
    if let Some(i) = inputs.iter().position(|x| !x.is_finite()) {
        return Err(FfiError::new(
            hf_status::HF_ERR_NON_FINITE,
            format!(
                "inputs: value {} at example {}, component {} is not finite",
                inputs[i],
                i / din,
                i % din
            ),
        ));
    }
    for (rows_in, rows_out) in inputs
        .chunks(DEFAULT_EVAL_CHUNK * din)
        .zip(outputs[..want_out].chunks_mut(DEFAULT_EVAL_CHUNK * dout))
    {
        let rows = rows_in.len() / din;
        let x = ArrayView2::from_shape((rows, din), rows_in)
            .map_err(|e| FfiError::new(hf_status::HF_ERR_INTERNAL, format!("input view: {e}")))?;
        let y = net.predict(x)?;
        for (o, v) in rows_out.iter_mut().zip(y.iter()) {
            *o = *v;
        }
    }
    Ok(())
}

/// Writes the mean per-example loss on `data` (the loss matched to the output
/// units; no weight cost) and the mean per-example sum of squared errors
/// (the paper's reported "error"). `data` must fit the network's input and
/// output widths (`HF_ERR_SHAPE_MISMATCH`).
///
/// # Safety
/// `loss` and `error` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn hf_net_evaluate(
    net: *const hf_net,
    data: *const hf_data,
    loss: *mut f64,
    error: *mut f64,
) -> hf_status {
    guard("hf_net_evaluate", || {
        // SAFETY: the caller's contracts.
        let (out_loss, out_error) = unsafe { (out(loss, "loss")?, out(error, "error")?) };
        let data = handle::get::<Dataset>(data, "data")?;
        let e = with_net(net, |n| Ok(n.evaluate(&data, None, 0)?))?;
        out_loss.write(e.loss);
        out_error.write(e.error);
        Ok(())
    })
}

/// Writes the gradient of the mean per-example loss on `data` (no weight
/// cost) into `grad` (at least P floats) and the loss into `*loss`.
///
/// # Safety
/// `grad` must be NULL or point to `grad_len` writable floats; `loss` NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn hf_net_gradient(
    net: *const hf_net,
    data: *const hf_data,
    grad: *mut f32,
    grad_len: usize,
    loss: *mut f64,
) -> hf_status {
    guard("hf_net_gradient", || {
        // SAFETY: the caller's contracts.
        let (grad, out_loss) = unsafe { (slice_out(grad, grad_len, "grad")?, out(loss, "loss")?) };
        let data = handle::get::<Dataset>(data, "data")?;
        let l = with_net(net, |n| {
            let p = n.spec().num_params();
            need_room(grad.len(), p, "grad", "the number of parameters")?;
            // Computed into a scratch vector so `grad` is written only on success.
            let mut g = vec![0.0f32; p];
            let e = n.evaluate(&data, Some(&mut g), 0)?;
            grad[..p].copy_from_slice(&g);
            Ok(e.loss)
        })?;
        out_loss.write(l);
        Ok(())
    })
}

/// Shared body of the parameter-vector products: `v` must hold exactly P
/// finite floats and `dest` room for P. The product goes to a scratch vector
/// first so `dest` is written only on success.
fn vector_product(
    net: *const hf_net,
    v: &[f32],
    dest: &mut [f32],
    product: impl FnOnce(&Network, &[f32], &mut [f32]) -> crate::error::Result<()>,
) -> FfiResult<()> {
    with_net(net, |n| {
        let p = n.spec().num_params();
        check_len(v.len(), p, "v", "the number of parameters")?;
        need_room(dest.len(), p, "out", "the number of parameters")?;
        check_finite(v, "v")?;
        let mut scratch = vec![0.0f32; p];
        product(n, v, &mut scratch)?;
        dest[..p].copy_from_slice(&scratch);
        Ok(())
    })
}

/// Computes `out = C v` on all of `data` (mean over its examples, no weight
/// cost, no damping), `C` the curvature `kind` (an `hf_curvature` code) at
/// the current theta. `v` has exactly P finite floats; `out` holds at least P.
/// The products use the whole data set at once: pass a minibatch.
///
/// # Safety
/// `v` must be NULL or point to `v_len` floats; `out` NULL or `out_len`
/// writable floats.
#[no_mangle]
pub unsafe extern "C" fn hf_net_curvature_product(
    net: *const hf_net,
    data: *const hf_data,
    kind: i32,
    v: *const f32,
    v_len: usize,
    out: *mut f32,
    out_len: usize,
) -> hf_status {
    guard("hf_net_curvature_product", || {
        // SAFETY: the caller's contracts.
        let (v, dest) = unsafe { (slice_in(v, v_len, "v")?, slice_out(out, out_len, "out")?) };
        let kind = curvature_from(kind, "kind")?;
        let data = handle::get::<Dataset>(data, "data")?;
        vector_product(net, v, dest, |n, v, product| {
            n.curvature_product(&data, kind, v, product)
        })
    })
}

/// Computes `out = H v` by central differences of the gradient on `data`
/// with step `h` > 0 (in double precision; for checking
/// `hf_net_curvature_product`). Lengths as for `hf_net_curvature_product`;
/// a non-positive or non-finite `h` is `HF_ERR_OUT_OF_RANGE`.
///
/// # Safety
/// `v` must be NULL or point to `v_len` floats; `out` NULL or `out_len`
/// writable floats.
#[no_mangle]
pub unsafe extern "C" fn hf_net_hessian_product_fd(
    net: *const hf_net,
    data: *const hf_data,
    v: *const f32,
    v_len: usize,
    h: f64,
    out: *mut f32,
    out_len: usize,
) -> hf_status {
    guard("hf_net_hessian_product_fd", || {
        // SAFETY: the caller's contracts.
        let (v, dest) = unsafe { (slice_in(v, v_len, "v")?, slice_out(out, out_len, "out")?) };
        let data = handle::get::<Dataset>(data, "data")?;
        vector_product(net, v, dest, |n, v, product| {
            n.hessian_product_fd(&data, v, h, product)
        })
    })
}

/// Writes the network (architecture and theta) to the file `path`, atomically
/// (a crash leaves the old file or the new one, never a torn one), in a
/// versioned, checksummed format. `HF_ERR_IO` names the path on failure.
///
/// # Safety
/// `path` must be NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn hf_net_save(net: *const hf_net, path: *const c_char) -> hf_status {
    guard("hf_net_save", || {
        // SAFETY: the caller's contract.
        let path = unsafe { path_arg(path, "path")? };
        let net = with_net(net, |n| Ok(n.clone()))?;
        Ok(net.save(path)?)
    })
}

/// Reads a network written by `hf_net_save`. Errors: `HF_ERR_IO` (cannot
/// read), `HF_ERR_FORMAT` (truncated or not a network file),
/// `HF_ERR_CHECKSUM` (corrupted), `HF_ERR_VERSION` (a future format).
///
/// # Safety
/// `path` must be NULL or a NUL-terminated string; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn hf_net_load(path: *const c_char, out: *mut *mut hf_net) -> hf_status {
    guard("hf_net_load", || {
        // SAFETY: the caller's contracts.
        let (path, result) = unsafe { (path_arg(path, "path")?, super::args::out(out, "out")?) };
        register_net(Network::load(path)?, result)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::error::last_error;
    use std::ptr::{null, null_mut};

    #[test]
    fn create_query_and_refuse_absurd_specs() {
        let sizes = [4usize, 3, 2];
        let acts = [
            hf_activation::HF_ACT_TANH as i32,
            hf_activation::HF_ACT_LINEAR as i32,
        ];
        let mut net = null_mut();
        let st = unsafe { hf_net_new(sizes.as_ptr(), 3, acts.as_ptr(), 2, 7, &mut net) };
        assert_eq!(st, hf_status::HF_OK, "{}", last_error());
        let mut p = 0;
        assert_eq!(unsafe { hf_net_num_params(net, &mut p) }, hf_status::HF_OK);
        assert_eq!(p, 4 * 3 + 3 + 3 * 2 + 2);

        let huge = [1usize << 40, 4];
        let mut other = null_mut();
        let st = unsafe { hf_net_new(huge.as_ptr(), 2, acts[1..].as_ptr(), 1, 7, &mut other) };
        assert_eq!(st, hf_status::HF_ERR_RESOURCE_LIMIT);
        assert!(other.is_null());
        let zero = [4usize, 0, 2];
        let st = unsafe { hf_net_new(zero.as_ptr(), 3, acts.as_ptr(), 2, 7, &mut other) };
        assert_eq!(st, hf_status::HF_ERR_INVALID_ARGUMENT);
        assert!(
            last_error().contains("layer 1 has zero units"),
            "{}",
            last_error()
        );
        let bad = [9i32, 2];
        let st = unsafe { hf_net_new(sizes.as_ptr(), 3, bad.as_ptr(), 2, 7, &mut other) };
        assert_eq!(st, hf_status::HF_ERR_INVALID_ARGUMENT);
        assert!(
            last_error().contains("activations[0] = 9"),
            "{}",
            last_error()
        );

        let mut theta = vec![0.0f32; p];
        assert_eq!(
            unsafe { hf_net_get_params(net, theta.as_mut_ptr(), p) },
            hf_status::HF_OK
        );
        theta[5] = f32::NAN;
        let st = unsafe { hf_net_set_params(net, theta.as_ptr(), p) };
        assert_eq!(st, hf_status::HF_ERR_NON_FINITE);
        assert!(last_error().contains("params[5]"), "{}", last_error());
        let st = unsafe { hf_net_set_params(net, null(), p) };
        assert_eq!(st, hf_status::HF_ERR_NULL_POINTER);
        assert_eq!(hf_net_free(net), hf_status::HF_OK);
    }
}
