// hessfree.hpp: header-only C++17 RAII layer over the hessfree C API
// (include/hessfree.h). No library beyond libhessfree is needed.
//
//   #include "hessfree.hpp"
//   hessfree::Data train = hessfree::Data::curves(2000, 1);
//   hessfree::Net net = hessfree::Net::autoencoder({784, 100, 20, 6}, HF_ACT_LOGISTIC, 1);
//   hessfree::Config cfg;
//   cfg.set("chunk_size", 500).set("max_iters", 20).set("backend", "cpu");
//   hessfree::Session s(net, train, cfg);
//   hf_summary sum = s.run([](const hf_iteration_report& r) {
//       std::printf("%llu %g\n", (unsigned long long)r.iteration, r.objective);
//       return false;  // false: keep going; true: stop after this iteration
//   });
//
// Conventions:
// - Config, Data, Net and Session own one C handle each: move-only (copying is
//   deleted; clone() where the C API has it), a moved-from object holds no
//   handle and any call on it throws hessfree::Error (HF_ERR_NULL_POINTER);
//   the destructor frees the handle.
// - Every failing C call throws hessfree::Error, a std::runtime_error carrying
//   the hf_status (status()) and the library's message (message()); what() is
//   "HF_ERR_NAME: message".
// - Callbacks (the progress function of Session::run, the functions of a
//   HostObjective) may throw. The exception is caught before it could cross
//   into the C library, the C callback reports failure (the run stops), and
//   the same exception is rethrown from run()/step() once the C call has
//   returned; theta is that of the last completed iteration.
// - Thread safety is that of the C API: one object may be used from several
//   threads (calls on one session serialize; request_stop() never waits).
//   Moving or destroying an object while another thread uses it is a data race.
// - Arrays are std::vector<float> (or pointer + length), N x D row-major: one
//   example per row, the C layout.

#ifndef HESSFREE_HPP
#define HESSFREE_HPP

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "hessfree.h"

namespace hessfree {

/// The calling thread's last error message from the library ("" if none).
inline std::string last_error_message() {
    std::size_t length = 0;
    if (hf_last_error_length(&length) != HF_OK) return std::string();
    std::string text(length + 1, '\0');
    (void)hf_last_error_message(&text[0], text.size());
    text.resize(length);
    return text;
}

/// The name of a status code, e.g. "HF_ERR_SHAPE_MISMATCH".
inline std::string status_name(hf_status status) { return hf_status_str(static_cast<int>(status)); }

/// An error reported by the library: the status code and the library's
/// message (which names the function, the argument and the problem).
class Error : public std::runtime_error {
public:
    /// An error with `status` and the library's `message`.
    Error(hf_status status, const std::string& message)
        : std::runtime_error(status_name(status) + ": " + message), status_(status),
          message_(message) {}

    /// The C status code (never HF_OK).
    hf_status status() const noexcept { return status_; }

    /// The library's message, without the status name.
    const std::string& message() const noexcept { return message_; }

private:
    hf_status status_;
    std::string message_;
};

namespace detail {

/// Throws Error with the thread's last message unless `status` is HF_OK.
inline void check(hf_status status) {
    if (status != HF_OK) throw Error(status, last_error_message());
}

/// Reads a text the C API copies into a caller buffer, growing the buffer
/// while the library answers HF_ERR_BUFFER_TOO_SMALL.
template <class Fill>
std::string read_text(Fill fill, std::size_t initial = 256) {
    std::vector<char> buf(initial);
    for (;;) {
        hf_status status = fill(buf.data(), buf.size());
        if (status == HF_OK) return std::string(buf.data());
        if (status != HF_ERR_BUFFER_TOO_SMALL || buf.size() >= (std::size_t{1} << 26)) {
            throw Error(status, last_error_message());
        }
        buf.resize(buf.size() * 4);
    }
}

/// Owns one C handle of type `T`, released with `Free`: move-only.
template <class T, hf_status (*Free)(T*)>
class Owner {
public:
    Owner() noexcept = default;
    explicit Owner(T* handle) noexcept : handle_(handle) {}
    Owner(const Owner&) = delete;
    Owner& operator=(const Owner&) = delete;
    Owner(Owner&& other) noexcept : handle_(other.release()) {}
    Owner& operator=(Owner&& other) noexcept {
        if (this != &other) reset(other.release());
        return *this;
    }
    ~Owner() { reset(nullptr); }

    T* get() const noexcept { return handle_; }
    T* release() noexcept {
        T* h = handle_;
        handle_ = nullptr;
        return h;
    }
    void reset(T* handle) noexcept {
        // Freeing a valid handle cannot fail; the status is ignored so that
        // destructors never throw.
        if (handle_) (void)Free(handle_);
        handle_ = handle;
    }

private:
    T* handle_ = nullptr;
};

template <class T>
using is_int_value =
    std::integral_constant<bool, std::is_integral<T>::value && !std::is_same<T, bool>::value>;

}  // namespace detail

/// The library's version string, e.g. "0.1.0" (compare with HF_VERSION_STRING).
inline std::string version() { return hf_version(); }

/// Text of an hf_termination value.
inline std::string termination_str(std::int32_t termination) {
    return hf_termination_str(termination);
}

/// Text of an hf_reject_reason value.
inline std::string reject_reason_str(std::int32_t reason) { return hf_reject_reason_str(reason); }

/// One configuration key as described by the library.
struct KeyInfo {
    std::string name;           ///< The key, e.g. "chunk_size".
    hf_key_type type;           ///< Which setter/getter applies.
    std::string default_value;  ///< The default as text.
    std::string range;          ///< The valid values as text.
    std::string doc;            ///< A one-line description.
};

/// Optimizer options (hf_config): the reference defaults unless set.
class Config {
public:
    /// The reference defaults.
    Config() {
        hf_config* c = nullptr;
        detail::check(hf_config_new(&c));
        owner_.reset(c);
    }

    /// Takes ownership of a C handle (nullptr gives an empty object).
    explicit Config(hf_config* handle) noexcept : owner_(handle) {}

    /// The options of a paper experiment: "curves", "mnist" or "faces".
    static Config preset(const std::string& name) {
        hf_config* c = nullptr;
        detail::check(hf_config_preset(name.c_str(), &c));
        return Config(c);
    }

    /// An independent copy.
    Config clone() const {
        hf_config* c = nullptr;
        detail::check(hf_config_clone(get(), &c));
        return Config(c);
    }

    /// Sets a float option.
    Config& set(const std::string& key, double value) {
        detail::check(hf_config_set_f64(get(), key.c_str(), value));
        return *this;
    }

    /// Sets an integer option (any integer type but bool).
    template <class T, typename std::enable_if<detail::is_int_value<T>::value, int>::type = 0>
    Config& set(const std::string& key, T value) {
        detail::check(hf_config_set_i64(get(), key.c_str(), static_cast<std::int64_t>(value)));
        return *this;
    }

    /// Sets a boolean option.
    Config& set(const std::string& key, bool value) {
        detail::check(hf_config_set_bool(get(), key.c_str(), value ? 1 : 0));
        return *this;
    }

    /// Sets a string option (e.g. "backend" to "cpu").
    Config& set(const std::string& key, const char* value) {
        detail::check(hf_config_set_str(get(), key.c_str(), value));
        return *this;
    }

    /// Sets a string option.
    Config& set(const std::string& key, const std::string& value) {
        return set(key, value.c_str());
    }

    /// Sets one option from "key=value" text.
    Config& set_from_string(const std::string& assignment) {
        detail::check(hf_config_set_from_string(get(), assignment.c_str()));
        return *this;
    }

    /// A float option.
    double get_f64(const std::string& key) const {
        double v = 0;
        detail::check(hf_config_get_f64(get(), key.c_str(), &v));
        return v;
    }

    /// An integer option.
    std::int64_t get_i64(const std::string& key) const {
        std::int64_t v = 0;
        detail::check(hf_config_get_i64(get(), key.c_str(), &v));
        return v;
    }

    /// A boolean option.
    bool get_bool(const std::string& key) const {
        int v = 0;
        detail::check(hf_config_get_bool(get(), key.c_str(), &v));
        return v != 0;
    }

    /// A string option.
    std::string get_str(const std::string& key) const {
        return detail::read_text(
            [&](char* buf, std::size_t len) { return hf_config_get_str(get(), key.c_str(), buf, len); },
            64);
    }

    /// Checks every option and the cross-key rules; throws on a violation.
    void validate() const { detail::check(hf_config_validate(get())); }

    /// Every option as "key=value" lines.
    std::string to_text() const {
        return detail::read_text(
            [&](char* buf, std::size_t len) { return hf_config_to_text(get(), buf, len); }, 4096);
    }

    /// Every key the library knows, with its type, default, range and doc.
    static std::vector<KeyInfo> keys() {
        std::size_t count = 0;
        detail::check(hf_config_key_count(&count));
        std::vector<KeyInfo> out;
        out.reserve(count);
        for (std::size_t i = 0; i < count; ++i) {
            const char *name = nullptr, *def = nullptr, *range = nullptr, *doc = nullptr;
            hf_key_type type = HF_KEY_F64;
            detail::check(hf_config_key_info(i, &name, &type, &def, &range, &doc));
            out.push_back(KeyInfo{name, type, def, range, doc});
        }
        return out;
    }

    /// The C handle (still owned by this object).
    hf_config* get() const noexcept { return owner_.get(); }
    /// Gives up ownership of the C handle; the caller frees it.
    hf_config* release() noexcept { return owner_.release(); }
    /// True unless moved from or released.
    explicit operator bool() const noexcept { return owner_.get() != nullptr; }

private:
    detail::Owner<hf_config, hf_config_free> owner_;
};

/// A data set (hf_data): N examples, N x input_dim inputs and N x target_dim
/// targets, row-major. The library copies the host's arrays.
class Data {
public:
    /// Takes ownership of a C handle (nullptr gives an empty object).
    explicit Data(hf_data* handle) noexcept : owner_(handle) {}

    /// A supervised set copied from `n x input_dim` inputs and `n x target_dim` targets.
    Data(std::size_t n, std::size_t input_dim, const std::vector<float>& inputs,
         std::size_t target_dim, const std::vector<float>& targets) {
        hf_data* d = nullptr;
        detail::check(hf_data_new(n, input_dim, inputs.data(), inputs.size(), target_dim,
                                  targets.data(), targets.size(), &d));
        owner_.reset(d);
    }

    /// As above, from doubles (converted to float).
    Data(std::size_t n, std::size_t input_dim, const std::vector<double>& inputs,
         std::size_t target_dim, const std::vector<double>& targets) {
        hf_data* d = nullptr;
        detail::check(hf_data_new_f64(n, input_dim, inputs.data(), inputs.size(), target_dim,
                                      targets.data(), targets.size(), &d));
        owner_.reset(d);
    }

    /// An autoencoder set (targets = inputs) from `len` = n x dim floats.
    static Data autoencoder(std::size_t n, std::size_t dim, const float* inputs, std::size_t len) {
        hf_data* d = nullptr;
        detail::check(hf_data_new_autoencoder(n, dim, inputs, len, &d));
        return Data(d);
    }

    /// An autoencoder set from n x dim floats.
    static Data autoencoder(std::size_t n, std::size_t dim, const std::vector<float>& inputs) {
        return autoencoder(n, dim, inputs.data(), inputs.size());
    }

    /// An autoencoder set from n x dim doubles (converted to float).
    static Data autoencoder(std::size_t n, std::size_t dim, const std::vector<double>& inputs) {
        hf_data* d = nullptr;
        detail::check(hf_data_new_autoencoder_f64(n, dim, inputs.data(), inputs.size(), &d));
        return Data(d);
    }

    /// `n` CURVES-like 784-pixel images from `seed` (an autoencoder set).
    static Data curves(std::size_t n, std::uint64_t seed) {
        hf_data* d = nullptr;
        detail::check(hf_data_curves(n, seed, &d));
        return Data(d);
    }

    /// MNIST from the folder `dir`: {train, test}.
    static std::pair<Data, Data> mnist(const std::string& dir) {
        hf_data *train = nullptr, *test = nullptr;
        detail::check(hf_data_load_mnist(dir.c_str(), &train, &test));
        return {Data(train), Data(test)};
    }

    /// FACES-like sets from the Olivetti .npy file: {train, test}.
    static std::pair<Data, Data> faces(const std::string& olivetti_npy, std::size_t per_image,
                                       std::uint64_t seed) {
        hf_data *train = nullptr, *test = nullptr;
        detail::check(hf_data_faces(olivetti_npy.c_str(), per_image, seed, &train, &test));
        return {Data(train), Data(test)};
    }

    /// The sets of a paper experiment ("curves", "mnist", "faces"): {train, test}.
    static std::pair<Data, Data> preset(const std::string& name, const std::string& data_dir,
                                        std::uint64_t seed) {
        hf_data *train = nullptr, *test = nullptr;
        detail::check(hf_data_preset(name.c_str(), data_dir.c_str(), seed, &train, &test));
        return {Data(train), Data(test)};
    }

    /// Number of examples.
    std::size_t size() const { return dims().n; }
    /// Input width.
    std::size_t input_dim() const { return dims().input_dim; }
    /// Target width.
    std::size_t target_dim() const { return dims().target_dim; }

    /// A copy of the n x input_dim inputs.
    std::vector<float> inputs() const {
        Dims d = dims();
        std::vector<float> out(d.n * d.input_dim);
        detail::check(hf_data_copy_inputs(get(), out.data(), out.size()));
        return out;
    }

    /// A copy of the n x target_dim targets.
    std::vector<float> targets() const {
        Dims d = dims();
        std::vector<float> out(d.n * d.target_dim);
        detail::check(hf_data_copy_targets(get(), out.data(), out.size()));
        return out;
    }

    /// The C handle (still owned by this object).
    hf_data* get() const noexcept { return owner_.get(); }
    /// Gives up ownership of the C handle; the caller frees it.
    hf_data* release() noexcept { return owner_.release(); }
    /// True unless moved from or released.
    explicit operator bool() const noexcept { return owner_.get() != nullptr; }

private:
    struct Dims {
        std::size_t n, input_dim, target_dim;
    };
    Dims dims() const {
        Dims d{0, 0, 0};
        detail::check(hf_data_size(get(), &d.n, &d.input_dim, &d.target_dim));
        return d;
    }

    detail::Owner<hf_data, hf_data_free> owner_;
};

/// Loss and error of a network on a data set (Net::evaluate).
struct Evaluation {
    double loss;   ///< Mean per-example loss (no weight cost).
    double error;  ///< Mean per-example sum of squared errors.
};

/// A feed-forward network (hf_net): architecture and parameters theta.
class Net {
public:
    /// Takes ownership of a C handle (nullptr gives an empty object).
    explicit Net(hf_net* handle) noexcept : owner_(handle) {}

    /// A network with layer `sizes` (input first) and one activation per
    /// non-input layer, sparsely initialised from `seed`.
    Net(const std::vector<std::size_t>& sizes, const std::vector<hf_activation>& activations,
        std::uint64_t seed) {
        std::vector<std::int32_t> codes(activations.begin(), activations.end());
        hf_net* n = nullptr;
        detail::check(hf_net_new(sizes.data(), sizes.size(), codes.data(), codes.size(), seed, &n));
        owner_.reset(n);
    }

    /// A deep autoencoder: `encoder` sizes from input to code layer, mirrored.
    static Net autoencoder(const std::vector<std::size_t>& encoder, hf_activation output,
                           std::uint64_t seed) {
        hf_net* n = nullptr;
        detail::check(hf_net_new_autoencoder(encoder.data(), encoder.size(),
                                             static_cast<std::int32_t>(output), seed, &n));
        return Net(n);
    }

    /// The network of a paper experiment ("curves", "mnist", "faces").
    static Net preset(const std::string& name, std::uint64_t seed) {
        hf_net* n = nullptr;
        detail::check(hf_net_new_preset(name.c_str(), seed, &n));
        return Net(n);
    }

    /// Reads a network written by save().
    static Net load(const std::string& path) {
        hf_net* n = nullptr;
        detail::check(hf_net_load(path.c_str(), &n));
        return Net(n);
    }

    /// An independent copy.
    Net clone() const {
        hf_net* n = nullptr;
        detail::check(hf_net_clone(get(), &n));
        return Net(n);
    }

    /// Number of parameters P.
    std::size_t num_params() const {
        std::size_t p = 0;
        detail::check(hf_net_num_params(get(), &p));
        return p;
    }

    /// Layer sizes, input first.
    std::vector<std::size_t> layer_sizes() const {
        std::size_t count = 0;
        detail::check(hf_net_num_layers(get(), &count));
        std::vector<std::size_t> out(count);
        detail::check(hf_net_layer_sizes(get(), out.data(), out.size()));
        return out;
    }

    /// The activation code of each non-input layer.
    std::vector<std::int32_t> activations() const {
        std::size_t count = 0;
        detail::check(hf_net_num_layers(get(), &count));
        std::vector<std::int32_t> out(count > 0 ? count - 1 : 0);
        detail::check(hf_net_layer_activations(get(), out.data(), out.size()));
        return out;
    }

    /// E.g. "784-64(logistic)-8(linear)-64(logistic)-784(logistic)".
    std::string describe() const {
        return detail::read_text(
            [&](char* buf, std::size_t len) { return hf_net_describe(get(), buf, len); });
    }

    /// A copy of theta.
    std::vector<float> params() const {
        std::vector<float> out(num_params());
        detail::check(hf_net_get_params(get(), out.data(), out.size()));
        return out;
    }

    /// Replaces theta (exactly P finite floats; unchanged on error).
    void set_params(const std::vector<float>& params) {
        detail::check(hf_net_set_params(get(), params.data(), params.size()));
    }

    /// Outputs for `n` examples (`inputs` is n x input_dim).
    std::vector<float> predict(const std::vector<float>& inputs, std::size_t n) const {
        std::vector<std::size_t> sizes = layer_sizes();
        std::vector<float> out(n * (sizes.empty() ? 0 : sizes.back()));
        detail::check(hf_net_predict(get(), inputs.data(), inputs.size(), n, out.data(), out.size()));
        return out;
    }

    /// Mean loss and error on `data`.
    Evaluation evaluate(const Data& data) const {
        Evaluation e{0, 0};
        detail::check(hf_net_evaluate(get(), data.get(), &e.loss, &e.error));
        return e;
    }

    /// Gradient of the mean loss on `data` (no weight cost); the loss goes to `*loss` if given.
    std::vector<float> gradient(const Data& data, double* loss = nullptr) const {
        std::vector<float> grad(num_params());
        double l = 0;
        detail::check(hf_net_gradient(get(), data.get(), grad.data(), grad.size(), &l));
        if (loss) *loss = l;
        return grad;
    }

    /// C v on all of `data`, C the curvature `kind` at the current theta.
    std::vector<float> curvature_product(const Data& data, hf_curvature kind,
                                         const std::vector<float>& v) const {
        std::vector<float> out(num_params());
        detail::check(hf_net_curvature_product(get(), data.get(), static_cast<std::int32_t>(kind),
                                               v.data(), v.size(), out.data(), out.size()));
        return out;
    }

    /// H v by central differences of the gradient with step `h`.
    std::vector<float> hessian_product_fd(const Data& data, const std::vector<float>& v,
                                          double h) const {
        std::vector<float> out(num_params());
        detail::check(hf_net_hessian_product_fd(get(), data.get(), v.data(), v.size(), h,
                                                out.data(), out.size()));
        return out;
    }

    /// Writes the network to `path` atomically.
    void save(const std::string& path) const { detail::check(hf_net_save(get(), path.c_str())); }

    /// The C handle (still owned by this object).
    hf_net* get() const noexcept { return owner_.get(); }
    /// Gives up ownership of the C handle; the caller frees it.
    hf_net* release() noexcept { return owner_.release(); }
    /// True unless moved from or released.
    explicit operator bool() const noexcept { return owner_.get() != nullptr; }

private:
    detail::Owner<hf_net, hf_net_free> owner_;
};

/// A host-defined objective f(theta) for Session::from_objective (see
/// hf_objective_callbacks in hessfree.h for the exact contract). Each
/// function reports failure by throwing; the exception stops the step or run
/// and is rethrown from Session::step()/run().
struct HostObjective {
    /// Number of parameters P (>= 1).
    std::size_t num_params = 0;
    /// Number of examples N that curvature chunks are taken from (>= 1).
    std::size_t num_examples = 1;
    /// Required: returns f(theta); writes the gradient to `grad` (P floats)
    /// if not null, and the preconditioner statistic to `precond_stat` if not
    /// null (only when provides_precond_stat).
    std::function<double(const float* theta, std::size_t n, float* grad, float* precond_stat)>
        loss_grad;
    /// Required: fixes theta, the chunk [start, start+len) and the curvature
    /// kind for the following curvature_product calls.
    std::function<void(const float* theta, std::size_t n, std::size_t chunk_start,
                       std::size_t chunk_len, hf_curvature kind)>
        set_chunk;
    /// Required: out = C v on the current chunk (P floats each).
    std::function<void(const float* v, std::size_t n, float* out)> curvature_product;
    /// Optional: the objective on the current chunk at theta.
    std::function<double(const float* theta, std::size_t n)> chunk_loss;
    /// Bit k = hf_curvature k supported; 0 = Gauss-Newton only.
    std::uint32_t curvature_kinds = 0;
    /// True if loss_grad writes precond_stat.
    bool provides_precond_stat = false;
};

/// A training session (hf_session) over a network or a host objective.
class Session {
public:
    /// Progress function of run(): called after every iteration; return
    /// true to stop the run after it, false to go on. It may throw.
    using Progress = std::function<bool(const hf_iteration_report&)>;

    /// Trains a copy of `net` on `train` (reporting on `test` if not null)
    /// with the options of `cfg` (null: the defaults).
    Session(const Net& net, const Data& train, const Data* test = nullptr,
            const Config* cfg = nullptr)
        : state_(new State) {
        hf_session* s = nullptr;
        detail::check(hf_session_new(net.get(), train.get(), test ? test->get() : nullptr,
                                     cfg ? cfg->get() : nullptr, &s));
        owner_.reset(s);
    }

    /// Takes ownership of the C handle of a network session (nullptr gives an
    /// empty object), as the other classes' handle constructors do. Not for
    /// host-objective sessions: their callbacks point into the Session object
    /// that created them.
    explicit Session(hf_session* handle) noexcept : owner_(handle) {}

    /// Trains a copy of `net` on `train` with the options of `cfg`.
    Session(const Net& net, const Data& train, const Config& cfg)
        : Session(net, train, nullptr, &cfg) {}

    /// Trains a copy of `net` on `train`, reporting on `test`, with the options of `cfg`.
    Session(const Net& net, const Data& train, const Data& test, const Config& cfg)
        : Session(net, train, &test, &cfg) {}

    /// Resumes a network session saved with save() (cfg null: the saved options).
    static Session resume(const Net& net, const Data& train, const Data* test, const Config* cfg,
                          const std::string& path) {
        hf_session* s = nullptr;
        detail::check(hf_session_resume(net.get(), train.get(), test ? test->get() : nullptr,
                                        cfg ? cfg->get() : nullptr, path.c_str(), &s));
        return Session(s, std::unique_ptr<State>(new State));
    }

    /// A session minimising a host-defined objective from `theta0` (P floats).
    static Session from_objective(HostObjective objective, const std::vector<float>& theta0,
                                  const Config* cfg = nullptr) {
        std::unique_ptr<State> state(new State);
        state->objective = std::move(objective);
        hf_objective_callbacks cb = callbacks(*state);
        hf_session* s = nullptr;
        detail::check(hf_session_new_host(&cb, theta0.data(), theta0.size(),
                                          cfg ? cfg->get() : nullptr, &s));
        return Session(s, std::move(state));
    }

    /// Resumes a host-objective session saved with save().
    static Session resume_objective(HostObjective objective, const Config* cfg,
                                    const std::string& path) {
        std::unique_ptr<State> state(new State);
        state->objective = std::move(objective);
        hf_objective_callbacks cb = callbacks(*state);
        hf_session* s = nullptr;
        detail::check(
            hf_session_resume_host(&cb, cfg ? cfg->get() : nullptr, path.c_str(), &s));
        return Session(s, std::move(state));
    }

    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    Session(Session&&) noexcept = default;
    // The handle is released before the state its callbacks point to.
    Session& operator=(Session&& other) noexcept {
        if (this != &other) {
            owner_ = std::move(other.owner_);
            state_ = std::move(other.state_);
        }
        return *this;
    }
    ~Session() { owner_.reset(nullptr); }

    /// One HF iteration; its report. A host-objective exception is rethrown.
    hf_iteration_report step() {
        hf_iteration_report report{};
        Guard guard(state_.get());
        hf_status status = hf_session_step(get(), &report);
        finish(status, guard, nullptr);
        return report;
    }

    /// Runs to a stop condition; the summary says why it stopped.
    hf_summary run() { return run(Progress()); }

    /// Runs to a stop condition, calling `progress` after every iteration
    /// (true from it stops the run). An exception from `progress` stops the
    /// run and is rethrown here after the library has returned.
    hf_summary run(Progress progress) {
        hf_summary summary{};
        ProgressCall call{&progress, nullptr};
        Guard guard(state_.get());
        hf_status status = hf_session_run(get(), progress ? &progress_trampoline : nullptr,
                                           &call, &summary);
        finish(status, guard, &call.error);
        return summary;
    }

    /// Asks a run in progress to stop after its current iteration; never
    /// waits, safe from any thread and from inside callbacks.
    void request_stop() const { detail::check(hf_session_request_stop(get())); }

    /// Number of parameters P.
    std::size_t num_params() const {
        std::size_t p = 0;
        detail::check(hf_session_num_params(get(), &p));
        return p;
    }

    /// A copy of the current theta.
    std::vector<float> params() const {
        std::vector<float> out(num_params());
        detail::check(hf_session_get_params(get(), out.data(), out.size()));
        return out;
    }

    /// A new network with the session's architecture and theta (network sessions only).
    Net net() const {
        hf_net* n = nullptr;
        detail::check(hf_session_copy_net(get(), &n));
        return Net(n);
    }

    /// Iterations done (across runs and resumes).
    std::uint64_t iteration() const {
        std::uint64_t it = 0;
        detail::check(hf_session_iteration(get(), &it));
        return it;
    }

    /// The current damping lambda.
    double lambda() const {
        double l = 0;
        detail::check(hf_session_lambda(get(), &l));
        return l;
    }

    /// Replaces the options (e.g. a larger max_iters to continue).
    void set_config(const Config& cfg) { detail::check(hf_session_set_config(get(), cfg.get())); }

    /// A copy of the session's options.
    Config config() const {
        hf_config* c = nullptr;
        detail::check(hf_session_get_config(get(), &c));
        return Config(c);
    }

    /// Saves the session to `path` atomically.
    void save(const std::string& path) const {
        detail::check(hf_session_save(get(), path.c_str()));
    }

    /// The compute backend and how it was chosen.
    std::string backend_name() const {
        return detail::read_text(
            [&](char* buf, std::size_t len) { return hf_session_backend_name(get(), buf, len); });
    }

    /// The last run's summary as text (one line, or a table if `full`).
    std::string summary_text(bool full = false) const {
        return detail::read_text(
            [&](char* buf, std::size_t len) {
                return hf_session_summary_text(get(), full ? 1 : 0, buf, len);
            },
            1024);
    }

    /// The last iteration's report as one log line.
    std::string report_text() const {
        return detail::read_text(
            [&](char* buf, std::size_t len) { return hf_session_report_text(get(), buf, len); },
            512);
    }

    /// The C handle (still owned by this object).
    hf_session* get() const noexcept { return owner_.get(); }
    /// Gives up ownership of the C handle; the caller frees it (a
    /// host-objective session's callbacks stay valid only while this object lives).
    hf_session* release() noexcept { return owner_.release(); }
    /// True unless moved from or released.
    explicit operator bool() const noexcept { return owner_.get() != nullptr; }

private:
    /// What the C callbacks of a host objective point to: its address is
    /// stable across moves of the Session.
    struct State {
        HostObjective objective;
        std::exception_ptr error;    // first exception from a host callback
        std::recursive_mutex mutex;  // held by step()/run(): owns `error`
    };

    /// The user pointer of one run()'s progress callback.
    struct ProgressCall {
        Progress* progress;
        std::exception_ptr error;
    };

    /// Holds the state's lock for one step()/run() (recursive: a callback
    /// calling step() reaches the library, which refuses it).
    class Guard {
    public:
        explicit Guard(State* state) : state_(state) {
            if (state_) {
                state_->mutex.lock();
                state_->error = nullptr;
            }
        }
        ~Guard() {
            if (state_) state_->mutex.unlock();
        }
        Guard(const Guard&) = delete;
        Guard& operator=(const Guard&) = delete;
        State* state() const noexcept { return state_; }

    private:
        State* state_;
    };

    Session(hf_session* handle, std::unique_ptr<State> state) noexcept
        : owner_(handle), state_(std::move(state)) {}

    /// After a step/run: rethrows a callback's exception (the host
    /// objective's first, else the progress function's), else throws Error
    /// for a failing status.
    static void finish(hf_status status, const Guard& guard, std::exception_ptr* progress_error) {
        if (guard.state() && guard.state()->error) {
            std::exception_ptr e = guard.state()->error;
            guard.state()->error = nullptr;
            std::rethrow_exception(e);
        }
        if (progress_error && *progress_error) std::rethrow_exception(*progress_error);
        detail::check(status);
    }

    static int progress_trampoline(void* user, const hf_iteration_report* report) {
        ProgressCall* call = static_cast<ProgressCall*>(user);
        try {
            return (*call->progress)(*report) ? 1 : 0;
        } catch (...) {
            call->error = std::current_exception();
            return 1;
        }
    }

    /// Runs `body`, turning an exception into a stored exception_ptr and a
    /// nonzero return (the first exception of a call is kept).
    template <class Body>
    static int guarded(void* user, Body body) {
        State* state = static_cast<State*>(user);
        try {
            body(state->objective);
            return 0;
        } catch (...) {
            if (!state->error) state->error = std::current_exception();
            return 1;
        }
    }

    static int loss_grad_cb(void* user, const float* theta, std::size_t n, double* loss,
                            float* grad, float* stat) {
        return guarded(user, [&](HostObjective& o) { *loss = o.loss_grad(theta, n, grad, stat); });
    }

    static int set_chunk_cb(void* user, const float* theta, std::size_t n, std::size_t start,
                            std::size_t len, std::int32_t kind) {
        return guarded(user, [&](HostObjective& o) {
            o.set_chunk(theta, n, start, len, static_cast<hf_curvature>(kind));
        });
    }

    static int curvature_product_cb(void* user, const float* v, std::size_t n, float* out) {
        return guarded(user, [&](HostObjective& o) { o.curvature_product(v, n, out); });
    }

    static int chunk_loss_cb(void* user, const float* theta, std::size_t n, double* loss) {
        return guarded(user, [&](HostObjective& o) { *loss = o.chunk_loss(theta, n); });
    }

    /// The C callback table for `state` (a missing required function is
    /// passed as NULL, which the library reports by name).
    static hf_objective_callbacks callbacks(State& state) {
        const HostObjective& o = state.objective;
        hf_objective_callbacks cb{};
        cb.user = &state;
        cb.num_params = o.num_params;
        cb.num_examples = o.num_examples;
        cb.loss_grad = o.loss_grad ? &loss_grad_cb : nullptr;
        cb.set_chunk = o.set_chunk ? &set_chunk_cb : nullptr;
        cb.curvature_product = o.curvature_product ? &curvature_product_cb : nullptr;
        cb.chunk_loss = o.chunk_loss ? &chunk_loss_cb : nullptr;
        cb.curvature_kinds = o.curvature_kinds;
        cb.provides_precond_stat = o.provides_precond_stat ? 1 : 0;
        return cb;
    }

    detail::Owner<hf_session, hf_session_free> owner_;
    std::unique_ptr<State> state_;
};

}  // namespace hessfree

#endif  // HESSFREE_HPP
