"""
    HessFree

Julia binding of hessfree, Hessian-free optimization for neural networks
(Martens, ICML 2010), over its C API (`include/hessfree.h`).

The shared library is `ENV["HESSFREE_LIB"]` when the package is loaded (a
path such as `/opt/hessfree/lib/libhessfree.so`), else `"libhessfree"`
found on the system's library search path (`LD_LIBRARY_PATH`,
`DYLD_LIBRARY_PATH`, `PATH` on Windows, or the system folders).

Objects (`Config`, `Data`, `Net`, `Session`) own one C handle each; a
finalizer frees it, and `close(x)` frees it at once (any later use throws
`HessFreeError` with `HF_ERR_NULL_POINTER`). Every failing C call throws
`HessFreeError(status, message)` with the library's message. Matrices are
`D × N` (one example per column): the same memory as the C API's `N × D`
row-major arrays, so nothing is transposed.

NOTE: this binding is not executed in CI (no Julia runtime there); a test
checks every `ccall`, `@cfunction` and mirrored struct against the header.
"""
module HessFree

# ENV["HESSFREE_LIB"] is read at load time, not frozen into a precompile cache.
__precompile__(false)

export HessFreeError, Config, Data, Net, Session, HostObjective, HfIterationReport, HfSummary
export config_preset, config_keys, config_text, set_from_string!, validate
export curves, load_mnist, faces, data_preset, data_size, inputs, targets
export autoencoder, net_preset, load_net, num_params, layer_sizes, layer_activations, describe
export params, set_params!, predict, evaluate, gradient, curvature_product, hessian_product_fd
export save, resume_session, step!, run!, request_stop, iteration, damping, copy_net
export set_config!, get_config, backend_name, summary_text, report_text
export status_name, termination_str, reject_reason_str, last_error_message

"""The hessfree shared library: `ENV["HESSFREE_LIB"]`, else `"libhessfree"`."""
const libhessfree = get(ENV, "HESSFREE_LIB", "libhessfree")

# ---------------------------------------------------------------------------
# Constants (values are part of the C ABI; checked against the header).

# hf_status
const HF_OK = Cint(0)
const HF_ERR_NULL_POINTER = Cint(1)
const HF_ERR_INVALID_ARGUMENT = Cint(2)
const HF_ERR_INVALID_HANDLE = Cint(3)
const HF_ERR_SHAPE_MISMATCH = Cint(4)
const HF_ERR_NON_FINITE = Cint(5)
const HF_ERR_UNKNOWN_KEY = Cint(6)
const HF_ERR_OUT_OF_RANGE = Cint(7)
const HF_ERR_WRONG_TYPE = Cint(8)
const HF_ERR_IO = Cint(9)
const HF_ERR_FORMAT = Cint(10)
const HF_ERR_VERSION = Cint(11)
const HF_ERR_CHECKSUM = Cint(12)
const HF_ERR_RESOURCE_LIMIT = Cint(13)
const HF_ERR_BACKEND_UNAVAILABLE = Cint(14)
const HF_ERR_CALLBACK = Cint(15)
const HF_ERR_NUMERICAL = Cint(16)
const HF_ERR_UNSUPPORTED = Cint(17)
const HF_ERR_BUFFER_TOO_SMALL = Cint(18)
const HF_ERR_PANIC = Cint(19)
const HF_ERR_INTERNAL = Cint(20)

# hf_key_type
const HF_KEY_F64 = Cint(0)
const HF_KEY_I64 = Cint(1)
const HF_KEY_BOOL = Cint(2)
const HF_KEY_STRING = Cint(3)

# hf_activation
const HF_ACT_LOGISTIC = Int32(0)
const HF_ACT_TANH = Int32(1)
const HF_ACT_LINEAR = Int32(2)
const HF_ACT_RELU = Int32(3)
const HF_ACT_SOFTMAX = Int32(4)

# hf_curvature
const HF_CURVATURE_GAUSS_NEWTON = Int32(0)
const HF_CURVATURE_HESSIAN = Int32(1)
const HF_CURVATURE_EMPIRICAL_FISHER = Int32(2)

# hf_termination
const HF_TERMINATION_MAX_ITERATIONS = Int32(0)
const HF_TERMINATION_MAX_SECONDS = Int32(1)
const HF_TERMINATION_TARGET_ERROR = Int32(2)
const HF_TERMINATION_TARGET_OBJECTIVE = Int32(3)
const HF_TERMINATION_NO_PROGRESS = Int32(4)
const HF_TERMINATION_STOP_REQUESTED = Int32(5)
const HF_TERMINATION_CALLBACK_STOP = Int32(6)
const HF_TERMINATION_TOO_MANY_REJECTED = Int32(7)

# hf_cg_stop
const HF_CG_NONE = Int32(0)
const HF_CG_RELATIVE_PROGRESS = Int32(1)
const HF_CG_MAX_ITERATIONS = Int32(2)
const HF_CG_NEGATIVE_CURVATURE = Int32(3)
const HF_CG_NON_FINITE = Int32(4)
const HF_CG_CONVERGED = Int32(5)

# hf_reject_reason
const HF_REJECT_NONE = Int32(0)
const HF_REJECT_NON_FINITE_GRADIENT = Int32(1)
const HF_REJECT_NON_FINITE_PRECONDITIONER = Int32(2)
const HF_REJECT_NON_FINITE_CURVATURE = Int32(3)
const HF_REJECT_NON_FINITE_CANDIDATE = Int32(4)
const HF_REJECT_NON_FINITE_CHUNK_LOSS = Int32(5)
const HF_REJECT_LINE_SEARCH_FAILED = Int32(6)

# ---------------------------------------------------------------------------
# Structs mirrored from the header (same fields, order and types; checked).

"""What one HF iteration did (C `hf_iteration_report`); missing values are NaN."""
struct HfIterationReport
    iteration::UInt64
    objective::Cdouble
    train_error::Cdouble
    test_objective::Cdouble
    test_error::Cdouble
    cg_iterations::UInt64
    cg_iterations_total::UInt64
    cg_chosen::UInt64
    rho::Cdouble
    lambda::Cdouble
    ls_shrinks::UInt64
    ls_rate::Cdouble
    p_norm::Cdouble
    wall_seconds::Cdouble
    total_seconds::Cdouble
    products::UInt64
    products_total::UInt64
    evaluations::UInt64
    chunk_start::UInt64
    chunk_len::UInt64
    cg_stop::Int32
    rejected::Int32
    reject_reason::Int32
end

"""The result of `run!` (C `hf_summary`); missing values are NaN."""
struct HfSummary
    iterations::UInt64
    iterations_total::UInt64
    rejected::UInt64
    cg_iterations_total::UInt64
    products_total::UInt64
    evaluations_total::UInt64
    final_objective::Cdouble
    final_train_error::Cdouble
    final_test_error::Cdouble
    final_lambda::Cdouble
    wall_seconds::Cdouble
    total_seconds::Cdouble
    termination::Int32
end

"""The C callback table of a host objective (C `hf_objective_callbacks`)."""
struct HfObjectiveCallbacks
    user::Ptr{Cvoid}
    num_params::Csize_t
    num_examples::Csize_t
    loss_grad::Ptr{Cvoid}
    set_chunk::Ptr{Cvoid}
    curvature_product::Ptr{Cvoid}
    chunk_loss::Ptr{Cvoid}
    curvature_kinds::UInt32
    provides_precond_stat::Cint
end

# ---------------------------------------------------------------------------
# Errors

"""
    HessFreeError(status, message)

A failing hessfree call: `status` is the C `hf_status` code (e.g.
`HessFree.HF_ERR_SHAPE_MISMATCH`), `message` the library's message, which
names the function, the argument and the problem.
"""
struct HessFreeError <: Exception
    status::Int
    message::String
end

"""The name of a status code, e.g. `"HF_ERR_NON_FINITE"`."""
status_name(code::Integer) =
    unsafe_string(ccall((:hf_status_str, libhessfree), Cstring, (Cint,), code))

function Base.showerror(io::IO, e::HessFreeError)
    print(io, "HessFreeError: ", status_name(e.status), ": ", e.message)
end

# The text of a NUL-terminated byte buffer.
function _cstring(buf::Vector{UInt8})
    nul = findfirst(iszero, buf)
    return String(buf[1:(nul === nothing ? length(buf) : nul - 1)])
end

"""The calling thread's last error message from the library (`""` if none)."""
function last_error_message()
    len = Ref{Csize_t}(0)
    ccall((:hf_last_error_length, libhessfree), Cint, (Ref{Csize_t},), len)
    buf = zeros(UInt8, Int(len[]) + 1)
    ccall((:hf_last_error_message, libhessfree), Cint, (Ptr{UInt8}, Csize_t), buf, length(buf))
    return _cstring(buf)
end

# Throws HessFreeError unless `status` is HF_OK. Called right after the
# ccall, with no yield in between: the message is per OS thread.
function check(status::Cint)
    status == HF_OK || throw(HessFreeError(Int(status), last_error_message()))
    return nothing
end

# Reads a text the library copies into a caller buffer: `fill(buf, len)`
# makes the ccall; the buffer grows while the answer is HF_ERR_BUFFER_TOO_SMALL.
function _read_text(fill, initial::Integer = 256)
    n = Int(initial)
    while true
        buf = zeros(UInt8, n)
        status = fill(buf, n)
        status == HF_OK && return _cstring(buf)
        (status == HF_ERR_BUFFER_TOO_SMALL && n < (1 << 26)) || check(status)
        n *= 4
    end
end

"""The library's version, e.g. `v"0.1.0"`."""
function version()
    text = unsafe_string(ccall((:hf_version, libhessfree), Cstring, ()))
    major, minor, patch = Ref{Cint}(0), Ref{Cint}(0), Ref{Cint}(0)
    check(ccall((:hf_version_numbers, libhessfree), Cint, (Ref{Cint}, Ref{Cint}, Ref{Cint}),
                major, minor, patch))
    v = VersionNumber(major[], minor[], patch[])
    string(v) == text || error("hessfree: version text $text differs from numbers $v")
    return v
end

"""Text of an `hf_termination` code (e.g. a summary's `termination`)."""
termination_str(code::Integer) =
    unsafe_string(ccall((:hf_termination_str, libhessfree), Cstring, (Int32,), code))

"""Text of an `hf_reject_reason` code."""
reject_reason_str(code::Integer) =
    unsafe_string(ccall((:hf_reject_reason_str, libhessfree), Cstring, (Int32,), code))

# ---------------------------------------------------------------------------
# Handles

"""Supertype of the objects owning a C handle (field `ptr`)."""
abstract type Handle end

# ccall passes a Handle where the C API takes a handle pointer; a closed
# handle is C_NULL, which the library reports as HF_ERR_NULL_POINTER.
Base.unsafe_convert(::Type{Ptr{Cvoid}}, h::Handle) = h.ptr

"""True until the object is closed."""
Base.isopen(h::Handle) = h.ptr != C_NULL

# Takes the handle from an out-parameter, or throws if the library gave none.
function _take(out::Ref{Ptr{Cvoid}}, what::String)
    out[] == C_NULL && throw(HessFreeError(Int(HF_ERR_INTERNAL), "$what returned no handle"))
    return out[]
end

# ---------------------------------------------------------------------------
# Config

"""
    Config(; key = value, ...)

Optimizer options, the reference defaults unless set: `cfg["chunk_size"] = 150`,
`cfg["backend"] = "cpu"`, `cfg["initial_lambda"]` (see `config_keys()`).
"""
mutable struct Config <: Handle
    ptr::Ptr{Cvoid}
    function Config(ptr::Ptr{Cvoid})
        obj = new(ptr)
        finalizer(_free!, obj)
        return obj
    end
end

function _free!(c::Config)
    p = c.ptr
    c.ptr = C_NULL
    p == C_NULL || ccall((:hf_config_free, libhessfree), Cint, (Ptr{Cvoid},), p)
    return nothing
end

"""Frees the C object now; later use throws `HessFreeError`."""
Base.close(c::Config) = _free!(c)

function Config(; kwargs...)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:hf_config_new, libhessfree), Cint, (Ref{Ptr{Cvoid}},), out))
    cfg = Config(_take(out, "hf_config_new"))
    for (key, value) in kwargs
        cfg[string(key)] = value
    end
    return cfg
end

"""The options of a paper experiment: `"curves"`, `"mnist"` or `"faces"`."""
function config_preset(name::AbstractString)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:hf_config_preset, libhessfree), Cint, (Cstring, Ref{Ptr{Cvoid}}), name, out))
    return Config(_take(out, "hf_config_preset"))
end

"""An independent copy."""
function Base.copy(c::Config)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:hf_config_clone, libhessfree), Cint, (Ptr{Cvoid}, Ref{Ptr{Cvoid}}), c, out))
    return Config(_take(out, "hf_config_clone"))
end

"""Every key: a vector of `(name, type, default, range, doc)` named tuples."""
function config_keys()
    count = Ref{Csize_t}(0)
    check(ccall((:hf_config_key_count, libhessfree), Cint, (Ref{Csize_t},), count))
    keys = NamedTuple{(:name, :type, :default, :range, :doc),
                      Tuple{String,Cint,String,String,String}}[]
    for i in 0:(Int(count[]) - 1)
        name, def, range, doc = Ref{Cstring}(), Ref{Cstring}(), Ref{Cstring}(), Ref{Cstring}()
        type = Ref{Cint}(0)
        check(ccall((:hf_config_key_info, libhessfree), Cint,
                    (Csize_t, Ref{Cstring}, Ref{Cint}, Ref{Cstring}, Ref{Cstring}, Ref{Cstring}),
                    i, name, type, def, range, doc))
        push!(keys, (name = unsafe_string(name[]), type = type[], default = unsafe_string(def[]),
                     range = unsafe_string(range[]), doc = unsafe_string(doc[])))
    end
    return keys
end

# Key name => hf_key_type, read once from the library.
const _KEY_TYPES = Dict{String,Cint}()
function _key_type(key::AbstractString)
    isempty(_KEY_TYPES) && foreach(k -> (_KEY_TYPES[k.name] = k.type), config_keys())
    return get(_KEY_TYPES, key, nothing)
end

function _set_f64!(c::Config, key::AbstractString, value::Real)
    check(ccall((:hf_config_set_f64, libhessfree), Cint, (Ptr{Cvoid}, Cstring, Cdouble),
                c, key, Float64(value)))
end

function _set_i64!(c::Config, key::AbstractString, value::Integer)
    check(ccall((:hf_config_set_i64, libhessfree), Cint, (Ptr{Cvoid}, Cstring, Int64),
                c, key, Int64(value)))
end

"""Sets a boolean option."""
function Base.setindex!(c::Config, value::Bool, key::AbstractString)
    check(ccall((:hf_config_set_bool, libhessfree), Cint, (Ptr{Cvoid}, Cstring, Cint),
                c, key, value ? 1 : 0))
    return c
end

"""Sets an integer option (or a float option to an integral value)."""
function Base.setindex!(c::Config, value::Integer, key::AbstractString)
    _key_type(key) == HF_KEY_F64 ? _set_f64!(c, key, value) : _set_i64!(c, key, value)
    return c
end

"""Sets a float option."""
function Base.setindex!(c::Config, value::Real, key::AbstractString)
    _set_f64!(c, key, value)
    return c
end

"""Sets a string option, e.g. `cfg["backend"] = "cpu"`."""
function Base.setindex!(c::Config, value::Union{AbstractString,Symbol}, key::AbstractString)
    check(ccall((:hf_config_set_str, libhessfree), Cint, (Ptr{Cvoid}, Cstring, Cstring),
                c, key, string(value)))
    return c
end

"""Sets one option from `"key=value"` text."""
function set_from_string!(c::Config, assignment::AbstractString)
    check(ccall((:hf_config_set_from_string, libhessfree), Cint, (Ptr{Cvoid}, Cstring),
                c, assignment))
    return c
end

"""An option's value, typed by its key (Float64, Int64, Bool or String)."""
function Base.getindex(c::Config, key::AbstractString)
    t = _key_type(key)
    if t == HF_KEY_I64
        i = Ref{Int64}(0)
        check(ccall((:hf_config_get_i64, libhessfree), Cint, (Ptr{Cvoid}, Cstring, Ref{Int64}),
                    c, key, i))
        return i[]
    elseif t == HF_KEY_BOOL
        b = Ref{Cint}(0)
        check(ccall((:hf_config_get_bool, libhessfree), Cint, (Ptr{Cvoid}, Cstring, Ref{Cint}),
                    c, key, b))
        return b[] != 0
    elseif t == HF_KEY_STRING
        return _read_text(64) do buf, n
            ccall((:hf_config_get_str, libhessfree), Cint, (Ptr{Cvoid}, Cstring, Ptr{UInt8}, Csize_t),
                  c, key, buf, n)
        end
    else # a float key, or an unknown one (the library names the nearest key)
        f = Ref{Cdouble}(0)
        check(ccall((:hf_config_get_f64, libhessfree), Cint, (Ptr{Cvoid}, Cstring, Ref{Cdouble}),
                    c, key, f))
        return f[]
    end
end

"""Checks every option and the cross-key rules; throws `HessFreeError` on a violation."""
validate(c::Config) =
    check(ccall((:hf_config_validate, libhessfree), Cint, (Ptr{Cvoid},), c))

"""Every option as `key=value` lines."""
function config_text(c::Config)
    return _read_text(4096) do buf, n
        ccall((:hf_config_to_text, libhessfree), Cint, (Ptr{Cvoid}, Ptr{UInt8}, Csize_t), c, buf, n)
    end
end

# ---------------------------------------------------------------------------
# Data

"""
    Data(inputs, targets)
    Data(inputs)

A data set copied from `D × N` matrices (one example per column): inputs and
targets, or an autoencoder set (targets = inputs). `Float64` matrices are
converted to float by the library; other element types to `Float32` here.
"""
mutable struct Data <: Handle
    ptr::Ptr{Cvoid}
    function Data(ptr::Ptr{Cvoid})
        obj = new(ptr)
        finalizer(_free!, obj)
        return obj
    end
end

function _free!(d::Data)
    p = d.ptr
    d.ptr = C_NULL
    p == C_NULL || ccall((:hf_data_free, libhessfree), Cint, (Ptr{Cvoid},), p)
    return nothing
end

"""Frees the C object now; later use throws `HessFreeError`."""
Base.close(d::Data) = _free!(d)

function Data(inputs::AbstractMatrix{Float64}, targets::AbstractMatrix{Float64})
    x, t = Matrix{Float64}(inputs), Matrix{Float64}(targets)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:hf_data_new_f64, libhessfree), Cint,
                (Csize_t, Csize_t, Ptr{Cdouble}, Csize_t, Csize_t, Ptr{Cdouble}, Csize_t,
                 Ref{Ptr{Cvoid}}),
                size(x, 2), size(x, 1), x, length(x), size(t, 1), t, length(t), out))
    return Data(_take(out, "hf_data_new_f64"))
end

function Data(inputs::AbstractMatrix{<:Real}, targets::AbstractMatrix{<:Real})
    x, t = Matrix{Float32}(inputs), Matrix{Float32}(targets)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:hf_data_new, libhessfree), Cint,
                (Csize_t, Csize_t, Ptr{Cfloat}, Csize_t, Csize_t, Ptr{Cfloat}, Csize_t,
                 Ref{Ptr{Cvoid}}),
                size(x, 2), size(x, 1), x, length(x), size(t, 1), t, length(t), out))
    return Data(_take(out, "hf_data_new"))
end

function Data(inputs::AbstractMatrix{Float64})
    x = Matrix{Float64}(inputs)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:hf_data_new_autoencoder_f64, libhessfree), Cint,
                (Csize_t, Csize_t, Ptr{Cdouble}, Csize_t, Ref{Ptr{Cvoid}}),
                size(x, 2), size(x, 1), x, length(x), out))
    return Data(_take(out, "hf_data_new_autoencoder_f64"))
end

function Data(inputs::AbstractMatrix{<:Real})
    x = Matrix{Float32}(inputs)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:hf_data_new_autoencoder, libhessfree), Cint,
                (Csize_t, Csize_t, Ptr{Cfloat}, Csize_t, Ref{Ptr{Cvoid}}),
                size(x, 2), size(x, 1), x, length(x), out))
    return Data(_take(out, "hf_data_new_autoencoder"))
end

"""`n` CURVES-like 784-pixel images from `seed` (an autoencoder set)."""
function curves(n::Integer, seed::Integer)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:hf_data_curves, libhessfree), Cint, (Csize_t, UInt64, Ref{Ptr{Cvoid}}),
                n, seed, out))
    return Data(_take(out, "hf_data_curves"))
end

"""MNIST from the folder `dir` (the four IDX files): `(train, test)`."""
function load_mnist(dir::AbstractString)
    train, test = Ref{Ptr{Cvoid}}(C_NULL), Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:hf_data_load_mnist, libhessfree), Cint,
                (Cstring, Ref{Ptr{Cvoid}}, Ref{Ptr{Cvoid}}), dir, train, test))
    return Data(_take(train, "hf_data_load_mnist")), Data(_take(test, "hf_data_load_mnist"))
end

"""FACES-like sets from the Olivetti `.npy` file: `(train, test)`."""
function faces(olivetti_npy::AbstractString, per_image::Integer, seed::Integer)
    train, test = Ref{Ptr{Cvoid}}(C_NULL), Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:hf_data_faces, libhessfree), Cint,
                (Cstring, Csize_t, UInt64, Ref{Ptr{Cvoid}}, Ref{Ptr{Cvoid}}),
                olivetti_npy, per_image, seed, train, test))
    return Data(_take(train, "hf_data_faces")), Data(_take(test, "hf_data_faces"))
end

"""The sets of a paper experiment (`"curves"`, `"mnist"`, `"faces"`): `(train, test)`."""
function data_preset(name::AbstractString, data_dir::AbstractString, seed::Integer)
    train, test = Ref{Ptr{Cvoid}}(C_NULL), Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:hf_data_preset, libhessfree), Cint,
                (Cstring, Cstring, UInt64, Ref{Ptr{Cvoid}}, Ref{Ptr{Cvoid}}),
                name, data_dir, seed, train, test))
    return Data(_take(train, "hf_data_preset")), Data(_take(test, "hf_data_preset"))
end

"""`(n = examples, input_dim = ..., target_dim = ...)`."""
function data_size(d::Data)
    n, di, dt = Ref{Csize_t}(0), Ref{Csize_t}(0), Ref{Csize_t}(0)
    check(ccall((:hf_data_size, libhessfree), Cint,
                (Ptr{Cvoid}, Ref{Csize_t}, Ref{Csize_t}, Ref{Csize_t}), d, n, di, dt))
    return (n = Int(n[]), input_dim = Int(di[]), target_dim = Int(dt[]))
end

"""Number of examples."""
Base.length(d::Data) = data_size(d).n

"""A copy of the inputs, `input_dim × n`."""
function inputs(d::Data)
    s = data_size(d)
    out = Matrix{Float32}(undef, s.input_dim, s.n)
    check(ccall((:hf_data_copy_inputs, libhessfree), Cint, (Ptr{Cvoid}, Ptr{Cfloat}, Csize_t),
                d, out, length(out)))
    return out
end

"""A copy of the targets, `target_dim × n`."""
function targets(d::Data)
    s = data_size(d)
    out = Matrix{Float32}(undef, s.target_dim, s.n)
    check(ccall((:hf_data_copy_targets, libhessfree), Cint, (Ptr{Cvoid}, Ptr{Cfloat}, Csize_t),
                d, out, length(out)))
    return out
end

# ---------------------------------------------------------------------------
# Net

"""
    Net(sizes, activations, seed)

A network with layer `sizes` (input first) and one activation code per
non-input layer (`HessFree.HF_ACT_LOGISTIC`, ...), sparsely initialised from `seed`.
"""
mutable struct Net <: Handle
    ptr::Ptr{Cvoid}
    function Net(ptr::Ptr{Cvoid})
        obj = new(ptr)
        finalizer(_free!, obj)
        return obj
    end
end

function _free!(n::Net)
    p = n.ptr
    n.ptr = C_NULL
    p == C_NULL || ccall((:hf_net_free, libhessfree), Cint, (Ptr{Cvoid},), p)
    return nothing
end

"""Frees the C object now; later use throws `HessFreeError`."""
Base.close(n::Net) = _free!(n)

function Net(sizes::AbstractVector{<:Integer}, activations::AbstractVector{<:Integer},
             seed::Integer)
    s = Csize_t[x for x in sizes]
    a = Int32[x for x in activations]
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:hf_net_new, libhessfree), Cint,
                (Ptr{Csize_t}, Csize_t, Ptr{Int32}, Csize_t, UInt64, Ref{Ptr{Cvoid}}),
                s, length(s), a, length(a), seed, out))
    return Net(_take(out, "hf_net_new"))
end

"""A deep autoencoder: `encoder` sizes from input to code layer, mirrored."""
function autoencoder(encoder::AbstractVector{<:Integer}, output_activation::Integer,
                     seed::Integer)
    e = Csize_t[x for x in encoder]
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:hf_net_new_autoencoder, libhessfree), Cint,
                (Ptr{Csize_t}, Csize_t, Int32, UInt64, Ref{Ptr{Cvoid}}),
                e, length(e), output_activation, seed, out))
    return Net(_take(out, "hf_net_new_autoencoder"))
end

"""The network of a paper experiment (`"curves"`, `"mnist"`, `"faces"`)."""
function net_preset(name::AbstractString, seed::Integer)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:hf_net_new_preset, libhessfree), Cint, (Cstring, UInt64, Ref{Ptr{Cvoid}}),
                name, seed, out))
    return Net(_take(out, "hf_net_new_preset"))
end

"""Reads a network written by `save(net, path)`."""
function load_net(path::AbstractString)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:hf_net_load, libhessfree), Cint, (Cstring, Ref{Ptr{Cvoid}}), path, out))
    return Net(_take(out, "hf_net_load"))
end

"""An independent copy (architecture and parameters)."""
function Base.copy(n::Net)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:hf_net_clone, libhessfree), Cint, (Ptr{Cvoid}, Ref{Ptr{Cvoid}}), n, out))
    return Net(_take(out, "hf_net_clone"))
end

"""Number of parameters P."""
function num_params(n::Net)
    p = Ref{Csize_t}(0)
    check(ccall((:hf_net_num_params, libhessfree), Cint, (Ptr{Cvoid}, Ref{Csize_t}), n, p))
    return Int(p[])
end

function _num_layers(n::Net)
    c = Ref{Csize_t}(0)
    check(ccall((:hf_net_num_layers, libhessfree), Cint, (Ptr{Cvoid}, Ref{Csize_t}), n, c))
    return Int(c[])
end

"""Layer sizes, input first."""
function layer_sizes(n::Net)
    out = zeros(Csize_t, _num_layers(n))
    check(ccall((:hf_net_layer_sizes, libhessfree), Cint, (Ptr{Cvoid}, Ptr{Csize_t}, Csize_t),
                n, out, length(out)))
    return Int.(out)
end

"""The activation code of each non-input layer."""
function layer_activations(n::Net)
    out = zeros(Int32, max(_num_layers(n) - 1, 0))
    check(ccall((:hf_net_layer_activations, libhessfree), Cint,
                (Ptr{Cvoid}, Ptr{Int32}, Csize_t), n, out, length(out)))
    return out
end

"""E.g. `"784-64(logistic)-8(linear)-64(logistic)-784(logistic)"`."""
function describe(n::Net)
    return _read_text() do buf, len
        ccall((:hf_net_describe, libhessfree), Cint, (Ptr{Cvoid}, Ptr{UInt8}, Csize_t), n, buf, len)
    end
end

"""A copy of theta (`Vector{Float32}` of length P)."""
function params(n::Net)
    out = zeros(Float32, num_params(n))
    check(ccall((:hf_net_get_params, libhessfree), Cint, (Ptr{Cvoid}, Ptr{Cfloat}, Csize_t),
                n, out, length(out)))
    return out
end

"""Replaces theta (exactly P finite values; unchanged on error)."""
function set_params!(n::Net, theta::AbstractVector{<:Real})
    t = Float32[x for x in theta]
    check(ccall((:hf_net_set_params, libhessfree), Cint, (Ptr{Cvoid}, Ptr{Cfloat}, Csize_t),
                n, t, length(t)))
    return n
end

"""Outputs for the columns of `x` (`input_dim × n`): `output_dim × n`."""
function predict(net::Net, x::AbstractMatrix{<:Real})
    xin = Matrix{Float32}(x)
    out = Matrix{Float32}(undef, last(layer_sizes(net)), size(xin, 2))
    check(ccall((:hf_net_predict, libhessfree), Cint,
                (Ptr{Cvoid}, Ptr{Cfloat}, Csize_t, Csize_t, Ptr{Cfloat}, Csize_t),
                net, xin, length(xin), size(xin, 2), out, length(out)))
    return out
end

"""`(loss = mean loss, error = mean squared error)` on `data`."""
function evaluate(n::Net, data::Data)
    loss, err = Ref{Cdouble}(0), Ref{Cdouble}(0)
    check(ccall((:hf_net_evaluate, libhessfree), Cint,
                (Ptr{Cvoid}, Ptr{Cvoid}, Ref{Cdouble}, Ref{Cdouble}), n, data, loss, err))
    return (loss = loss[], error = err[])
end

"""`(gradient, loss)` of the mean loss on `data` (no weight cost)."""
function gradient(n::Net, data::Data)
    grad = zeros(Float32, num_params(n))
    loss = Ref{Cdouble}(0)
    check(ccall((:hf_net_gradient, libhessfree), Cint,
                (Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Cfloat}, Csize_t, Ref{Cdouble}),
                n, data, grad, length(grad), loss))
    return grad, loss[]
end

"""`C v` on all of `data`, `C` the curvature `kind` (`HF_CURVATURE_*`) at theta."""
function curvature_product(n::Net, data::Data, v::AbstractVector{<:Real};
                           kind::Integer = HF_CURVATURE_GAUSS_NEWTON)
    vin = Float32[x for x in v]
    out = zeros(Float32, num_params(n))
    check(ccall((:hf_net_curvature_product, libhessfree), Cint,
                (Ptr{Cvoid}, Ptr{Cvoid}, Int32, Ptr{Cfloat}, Csize_t, Ptr{Cfloat}, Csize_t),
                n, data, kind, vin, length(vin), out, length(out)))
    return out
end

"""`H v` by central differences of the gradient with step `h` (for checking)."""
function hessian_product_fd(n::Net, data::Data, v::AbstractVector{<:Real}, h::Real)
    vin = Float32[x for x in v]
    out = zeros(Float32, num_params(n))
    check(ccall((:hf_net_hessian_product_fd, libhessfree), Cint,
                (Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Cfloat}, Csize_t, Cdouble, Ptr{Cfloat}, Csize_t),
                n, data, vin, length(vin), h, out, length(out)))
    return out
end

"""Writes the network to `path` atomically."""
save(n::Net, path::AbstractString) =
    check(ccall((:hf_net_save, libhessfree), Cint, (Ptr{Cvoid}, Cstring), n, path))

# ---------------------------------------------------------------------------
# Host objectives and callbacks

"""
    HostObjective(; num_params, num_examples = 1, loss_grad, set_chunk,
                    curvature_product, chunk_loss = nothing,
                    curvature_kinds = 0, provides_precond_stat = false)

An objective defined in Julia, trained with `Session(objective, theta0)`.
The arrays passed to the functions wrap the library's memory and are valid
only during the call (copy what you keep):

- `loss_grad(theta, grad, stat)`: returns f(theta); fills `grad` and `stat`
  (the preconditioner statistic) when they are not `nothing`.
- `set_chunk(theta, chunk::UnitRange{Int}, kind)`: fixes the examples
  `chunk` (1-based) and the point of the next curvature products.
- `curvature_product(v, out)`: writes `C v` on the current chunk to `out`.
- `chunk_loss(theta)`: optional, the objective on the current chunk.

A function that throws stops `step!`/`run!`, and its exception is rethrown
there once the library has returned.
"""
Base.@kwdef struct HostObjective
    num_params::Int
    num_examples::Int = 1
    loss_grad::Any
    set_chunk::Any
    curvature_product::Any
    chunk_loss::Any = nothing
    curvature_kinds::UInt32 = 0
    provides_precond_stat::Bool = false
end

# What the C callbacks of a host objective point to (kept alive by its Session).
mutable struct HostState
    objective::HostObjective
    error::Any  # the first exception of the current step!/run!, or nothing
end

# The user pointer of one run!'s progress function.
mutable struct ProgressState
    fn::Any
    error::Any
end

function _keep!(state, err)
    state.error === nothing && (state.error = err)
    return Cint(1)
end

_wrap(p::Ptr{Cfloat}, n::Csize_t) = p == C_NULL ? nothing : unsafe_wrap(Array, p, Int(n))

function _cb_loss_grad(user::Ptr{Cvoid}, theta::Ptr{Cfloat}, n::Csize_t, loss::Ptr{Cdouble},
                       grad::Ptr{Cfloat}, stat::Ptr{Cfloat})::Cint
    state = unsafe_pointer_to_objref(user)::HostState
    try
        f = state.objective.loss_grad(_wrap(theta, n), _wrap(grad, n), _wrap(stat, n))
        unsafe_store!(loss, Float64(f))
        return Cint(0)
    catch err
        return _keep!(state, err)
    end
end

function _cb_set_chunk(user::Ptr{Cvoid}, theta::Ptr{Cfloat}, n::Csize_t, chunk_start::Csize_t,
                       chunk_len::Csize_t, curvature_kind::Int32)::Cint
    state = unsafe_pointer_to_objref(user)::HostState
    try
        chunk = (Int(chunk_start) + 1):(Int(chunk_start) + Int(chunk_len))
        state.objective.set_chunk(_wrap(theta, n), chunk, curvature_kind)
        return Cint(0)
    catch err
        return _keep!(state, err)
    end
end

function _cb_curvature_product(user::Ptr{Cvoid}, v::Ptr{Cfloat}, n::Csize_t,
                               out::Ptr{Cfloat})::Cint
    state = unsafe_pointer_to_objref(user)::HostState
    try
        state.objective.curvature_product(_wrap(v, n), _wrap(out, n))
        return Cint(0)
    catch err
        return _keep!(state, err)
    end
end

function _cb_chunk_loss(user::Ptr{Cvoid}, theta::Ptr{Cfloat}, n::Csize_t,
                        loss::Ptr{Cdouble})::Cint
    state = unsafe_pointer_to_objref(user)::HostState
    try
        unsafe_store!(loss, Float64(state.objective.chunk_loss(_wrap(theta, n))))
        return Cint(0)
    catch err
        return _keep!(state, err)
    end
end

function _cb_progress(user::Ptr{Cvoid}, report::Ptr{HfIterationReport})::Cint
    state = unsafe_pointer_to_objref(user)::ProgressState
    try
        return state.fn(unsafe_load(report)) === true ? Cint(1) : Cint(0)
    catch err
        return _keep!(state, err)
    end
end

# The C callback table for `state`. The functions are top-level (not
# closures), so their C pointers stay valid; `state` is reached through `user`.
function _callbacks(state::HostState)
    o = state.objective
    return HfObjectiveCallbacks(
        pointer_from_objref(state), o.num_params, o.num_examples,
        @cfunction(_cb_loss_grad, Cint,
                   (Ptr{Cvoid}, Ptr{Cfloat}, Csize_t, Ptr{Cdouble}, Ptr{Cfloat}, Ptr{Cfloat})),
        @cfunction(_cb_set_chunk, Cint,
                   (Ptr{Cvoid}, Ptr{Cfloat}, Csize_t, Csize_t, Csize_t, Int32)),
        @cfunction(_cb_curvature_product, Cint, (Ptr{Cvoid}, Ptr{Cfloat}, Csize_t, Ptr{Cfloat})),
        o.chunk_loss === nothing ? C_NULL :
            @cfunction(_cb_chunk_loss, Cint, (Ptr{Cvoid}, Ptr{Cfloat}, Csize_t, Ptr{Cdouble})),
        o.curvature_kinds, o.provides_precond_stat ? 1 : 0)
end

# ---------------------------------------------------------------------------
# Session

"""
    Session(net, train; test = nothing, config = nothing)
    Session(objective::HostObjective, theta0; config = nothing)

A training session over a copy of `net` on `train` (reporting on `test`), or
over a host objective from `theta0`; `config` = nothing: the defaults.
"""
mutable struct Session <: Handle
    ptr::Ptr{Cvoid}
    host::Union{HostState,Nothing}        # the host objective's callbacks point here
    progress::Union{ProgressState,Nothing} # the run! in progress
    function Session(ptr::Ptr{Cvoid}, host::Union{HostState,Nothing})
        obj = new(ptr, host, nothing)
        finalizer(_free!, obj)
        return obj
    end
end

function _free!(s::Session)
    p = s.ptr
    s.ptr = C_NULL
    p == C_NULL || ccall((:hf_session_free, libhessfree), Cint, (Ptr{Cvoid},), p)
    s.host = nothing  # only after the C session, which points to it, is gone
    return nothing
end

"""Frees the C object now; later use throws `HessFreeError`."""
Base.close(s::Session) = _free!(s)

_handle_or_null(x) = x === nothing ? C_NULL : x

function Session(net::Net, train::Data; test::Union{Data,Nothing} = nothing,
                 config::Union{Config,Nothing} = nothing)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:hf_session_new, libhessfree), Cint,
                (Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Cvoid}, Ref{Ptr{Cvoid}}),
                net, train, _handle_or_null(test), _handle_or_null(config), out))
    return Session(_take(out, "hf_session_new"), nothing)
end

function Session(objective::HostObjective, theta0::AbstractVector{<:Real};
                 config::Union{Config,Nothing} = nothing)
    state = HostState(objective, nothing)
    theta = Float32[x for x in theta0]
    out = Ref{Ptr{Cvoid}}(C_NULL)
    status = GC.@preserve state ccall((:hf_session_new_host, libhessfree), Cint,
                (Ref{HfObjectiveCallbacks}, Ptr{Cfloat}, Csize_t, Ptr{Cvoid}, Ref{Ptr{Cvoid}}),
                _callbacks(state), theta, length(theta), _handle_or_null(config), out)
    check(status)
    return Session(_take(out, "hf_session_new_host"), state)
end

"""Resumes a network session saved with `save(session, path)`."""
function resume_session(net::Net, train::Data, path::AbstractString;
                        test::Union{Data,Nothing} = nothing, config::Union{Config,Nothing} = nothing)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:hf_session_resume, libhessfree), Cint,
                (Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Cvoid}, Cstring, Ref{Ptr{Cvoid}}),
                net, train, _handle_or_null(test), _handle_or_null(config), path, out))
    return Session(_take(out, "hf_session_resume"), nothing)
end

"""Resumes a host-objective session saved with `save(session, path)`."""
function resume_session(objective::HostObjective, path::AbstractString;
                        config::Union{Config,Nothing} = nothing)
    state = HostState(objective, nothing)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    status = GC.@preserve state ccall((:hf_session_resume_host, libhessfree), Cint,
                (Ref{HfObjectiveCallbacks}, Ptr{Cvoid}, Cstring, Ref{Ptr{Cvoid}}),
                _callbacks(state), _handle_or_null(config), path, out)
    check(status)
    return Session(_take(out, "hf_session_resume_host"), state)
end

# After a step/run: rethrows a callback's exception (the host objective's
# first, else the progress function's), else throws for a failing status.
function _finish(s::Session, status::Cint, progress::Union{ProgressState,Nothing})
    host = s.host
    if host !== nothing && host.error !== nothing
        err = host.error
        host.error = nothing
        throw(err)
    end
    progress !== nothing && progress.error !== nothing && throw(progress.error)
    check(status)
end

"""One HF iteration: its `HfIterationReport`."""
function step!(s::Session)
    report = Ref{HfIterationReport}()
    s.host === nothing || (s.host.error = nothing)
    status = ccall((:hf_session_step, libhessfree), Cint, (Ptr{Cvoid}, Ref{HfIterationReport}),
                   s, report)
    _finish(s, status, nothing)
    return report[]
end

"""
    run!(session; progress = nothing) -> HfSummary

Runs to a stop condition. `progress(report::HfIterationReport)` is called
after every iteration; returning `true` stops the run after it. If it
throws, the run stops and the exception is rethrown here.
"""
function run!(s::Session; progress = nothing)
    summary = Ref{HfSummary}()
    state = progress === nothing ? nothing : ProgressState(progress, nothing)
    fn = progress === nothing ? C_NULL :
        @cfunction(_cb_progress, Cint, (Ptr{Cvoid}, Ptr{HfIterationReport}))
    user = state === nothing ? C_NULL : pointer_from_objref(state)
    s.host === nothing || (s.host.error = nothing)
    s.progress = state  # the owning object keeps the progress state alive
    status = try
        GC.@preserve state ccall((:hf_session_run, libhessfree), Cint,
                                 (Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Cvoid}, Ref{HfSummary}),
                                 s, fn, user, summary)
    finally
        s.progress = nothing
    end
    _finish(s, status, state)
    return summary[]
end

"""Asks a run in progress to stop after its iteration (any thread; never waits)."""
request_stop(s::Session) =
    check(ccall((:hf_session_request_stop, libhessfree), Cint, (Ptr{Cvoid},), s))

"""Number of parameters P."""
function num_params(s::Session)
    p = Ref{Csize_t}(0)
    check(ccall((:hf_session_num_params, libhessfree), Cint, (Ptr{Cvoid}, Ref{Csize_t}), s, p))
    return Int(p[])
end

"""A copy of the current theta."""
function params(s::Session)
    out = zeros(Float32, num_params(s))
    check(ccall((:hf_session_get_params, libhessfree), Cint, (Ptr{Cvoid}, Ptr{Cfloat}, Csize_t),
                s, out, length(out)))
    return out
end

"""A new `Net` with the session's architecture and theta (network sessions only)."""
function copy_net(s::Session)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:hf_session_copy_net, libhessfree), Cint, (Ptr{Cvoid}, Ref{Ptr{Cvoid}}), s, out))
    return Net(_take(out, "hf_session_copy_net"))
end

"""Iterations done (across runs and resumes)."""
function iteration(s::Session)
    it = Ref{UInt64}(0)
    check(ccall((:hf_session_iteration, libhessfree), Cint, (Ptr{Cvoid}, Ref{UInt64}), s, it))
    return Int(it[])
end

"""The current damping lambda."""
function damping(s::Session)
    l = Ref{Cdouble}(0)
    check(ccall((:hf_session_lambda, libhessfree), Cint, (Ptr{Cvoid}, Ref{Cdouble}), s, l))
    return l[]
end

"""Replaces the session's options (e.g. a larger max_iters to continue)."""
function set_config!(s::Session, c::Config)
    check(ccall((:hf_session_set_config, libhessfree), Cint, (Ptr{Cvoid}, Ptr{Cvoid}), s, c))
    return s
end

"""A copy of the session's options."""
function get_config(s::Session)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:hf_session_get_config, libhessfree), Cint, (Ptr{Cvoid}, Ref{Ptr{Cvoid}}),
                s, out))
    return Config(_take(out, "hf_session_get_config"))
end

"""Saves the session to `path` atomically."""
save(s::Session, path::AbstractString) =
    check(ccall((:hf_session_save, libhessfree), Cint, (Ptr{Cvoid}, Cstring), s, path))

"""The compute backend and how it was chosen."""
function backend_name(s::Session)
    return _read_text() do buf, n
        ccall((:hf_session_backend_name, libhessfree), Cint, (Ptr{Cvoid}, Ptr{UInt8}, Csize_t),
              s, buf, n)
    end
end

"""The last run's summary as text (one line, or a table if `full`)."""
function summary_text(s::Session; full::Bool = false)
    return _read_text(1024) do buf, n
        ccall((:hf_session_summary_text, libhessfree), Cint,
              (Ptr{Cvoid}, Cint, Ptr{UInt8}, Csize_t), s, full ? 1 : 0, buf, n)
    end
end

"""The last iteration's report as one log line."""
function report_text(s::Session)
    return _read_text(512) do buf, n
        ccall((:hf_session_report_text, libhessfree), Cint, (Ptr{Cvoid}, Ptr{UInt8}, Csize_t),
              s, buf, n)
    end
end

end # module
