// The shared bad-input table (tests/bad_input/cases.tsv, issue 8) run through
// the C++ binding (bindings/cpp/hessfree.hpp): every row is built from the
// binding's classes and methods, and must throw hessfree::Error with the
// row's status and a message containing its fragment (or succeed for HF_OK
// rows), after which the fixture's data, net, config and sessions must be
// unchanged and usable. Rows the table declares not applicable to C++ are
// counted as such; an operation this runner does not know fails.
//
// The table is found through $HESSFREE_BAD_INPUT_TABLE, else next to this
// source file (../bad_input/cases.tsv). Prints
// "bad_input_table[cpp]: N passed, M failed, K not applicable", then the
// check.h closing line.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "check.h"
#include "hessfree.hpp"

namespace {

const char* const BINDING = "cpp";
const std::size_t P = 45;  // parameters of the fixture's 6-3-6 network

struct Row {
    std::string id, op, arg, kind, value, status, fragment;
    std::map<std::string, std::string> override_, not_applicable;
};

std::vector<std::string> split(const std::string& text, const std::string& sep) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        std::size_t at = text.find(sep, start);
        out.push_back(text.substr(start, at == std::string::npos ? std::string::npos : at - start));
        if (at == std::string::npos) return out;
        start = at + sep.size();
    }
}

std::string trim(const std::string& s) {
    std::size_t a = s.find_first_not_of(' '), b = s.find_last_not_of(' ');
    return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

bool starts_with(const std::string& s, const std::string& prefix) {
    return s.compare(0, prefix.size(), prefix) == 0;
}

std::map<std::string, std::string> entries(const std::string& text) {
    std::map<std::string, std::string> out;
    if (text.empty()) return out;
    for (const std::string& part : split(text, " | ")) {
        std::size_t colon = part.find(':');
        if (colon == std::string::npos) continue;
        out[trim(part.substr(0, colon))] = trim(part.substr(colon + 1));
    }
    return out;
}

std::string table_path() {
    const char* env = std::getenv("HESSFREE_BAD_INPUT_TABLE");
    if (env && env[0]) return env;
    return (std::filesystem::path(__FILE__).parent_path() / ".." / "bad_input" / "cases.tsv")
        .string();
}

std::vector<Row> load_rows(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open the table " + path);
    std::vector<Row> rows;
    std::string line;
    bool header = false;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::vector<std::string> f = split(line, "\t");
        if (!header) {
            header = true;
            continue;
        }
        if (f.size() != 9) throw std::runtime_error("row with " + std::to_string(f.size()) + " fields: " + line);
        rows.push_back(Row{f[0], f[1], f[2], f[3], f[4], f[5], f[6], entries(f[7]), entries(f[8])});
    }
    return rows;
}

// ---- value encodings (see the table's header) ----

bool is_integer(const std::string& t) {
    if (t.empty()) return false;
    std::size_t i = t[0] == '-' ? 1 : 0;
    if (i == t.size()) return false;
    for (; i < t.size(); ++i) {
        if (t[i] < '0' || t[i] > '9') return false;
    }
    return true;
}

/// An unsigned 64-bit value: decimal, 2^K or 2^K-1.
std::uint64_t u64(const std::string& t) {
    if (starts_with(t, "2^")) {
        bool minus_one = t.size() > 2 && t.compare(t.size() - 2, 2, "-1") == 0;
        unsigned k = static_cast<unsigned>(std::stoul(t.substr(2)));
        if (k == 64) return minus_one ? UINT64_MAX : 0;  // 2^64 itself does not fit
        std::uint64_t v = std::uint64_t{1} << k;
        return minus_one ? v - 1 : v;
    }
    return std::stoull(t);
}

double real(const std::string& t) {
    if (t == "NaN") return NAN;
    if (t == "Inf") return INFINITY;
    if (t == "-Inf") return -INFINITY;
    if (starts_with(t, "2^")) return static_cast<double>(u64(t));
    return std::stod(t);
}

double fill(std::size_t i, std::size_t j, std::size_t d) {
    return static_cast<double>((i * d + j) % 7 + 1) / 8;
}

/// The matrix encoding: N x D values (only `len` of them when given).
struct Matrix {
    std::size_t n = 0, d = 0, len = 0;
    bool f64 = false, null = false;
    std::vector<double> values;
    std::vector<float> floats() const { return std::vector<float>(values.begin(), values.end()); }
};

Matrix matrix(std::string t) {
    Matrix m;
    if (starts_with(t, "f64:") || starts_with(t, "f32:")) {
        m.f64 = starts_with(t, "f64");
        t = t.substr(4);
    }
    std::vector<std::string> parts = split(t, ";");
    std::vector<std::string> head = split(parts[0], ",");
    std::vector<std::string> shape = split(head[0], "x");
    m.n = static_cast<std::size_t>(u64(shape.at(0)));
    m.d = static_cast<std::size_t>(u64(shape.at(1)));
    bool has_len = false;
    for (std::size_t i = 1; i < head.size(); ++i) {
        if (starts_with(head[i], "len=")) {
            m.len = static_cast<std::size_t>(u64(head[i].substr(4)));
            has_len = true;
        } else if (head[i] == "null") {
            m.null = true;
        }
    }
    if (!has_len) m.len = m.n * m.d;
    m.values.resize(m.len);
    for (std::size_t k = 0; k < m.len; ++k) {
        m.values[k] = m.d ? fill(k / m.d, k % m.d, m.d) : 0.0;
    }
    for (std::size_t p = 1; p < parts.size(); ++p) {
        std::vector<std::string> kv = split(parts[p], "=");
        std::vector<std::string> ij = split(kv.at(0), ",");
        m.values.at(std::stoul(ij.at(0)) * m.d + std::stoul(ij.at(1))) = real(kv.at(1));
    }
    return m;
}

std::vector<float> vector_of(const std::string& t) {
    std::vector<std::string> parts = split(t, ";");
    std::vector<float> v(std::stoul(parts[0]), 0.5f);
    for (std::size_t p = 1; p < parts.size(); ++p) {
        std::vector<std::string> kv = split(parts[p], "=");
        v.at(std::stoul(kv.at(0))) = static_cast<float>(real(kv.at(1)));
    }
    return v;
}

std::vector<std::size_t> sizes_of(const std::string& t) {
    std::vector<std::size_t> out;
    if (t == "<empty>") return out;
    for (const std::string& s : split(t, ",")) out.push_back(static_cast<std::size_t>(u64(s)));
    return out;
}

hf_activation activation_of(const std::string& t) {
    static const std::map<std::string, hf_activation> names = {
        {"logistic", HF_ACT_LOGISTIC}, {"tanh", HF_ACT_TANH},       {"linear", HF_ACT_LINEAR},
        {"relu", HF_ACT_RELU},         {"softmax", HF_ACT_SOFTMAX},
    };
    if (is_integer(t)) return static_cast<hf_activation>(std::stoi(t));
    auto it = names.find(t);
    if (it == names.end()) throw std::runtime_error("activation name " + t + " not in the table's vocabulary");
    return it->second;
}

std::vector<hf_activation> activations_of(const std::string& t) {
    std::vector<hf_activation> out;
    for (const std::string& s : split(t, ",")) out.push_back(activation_of(s));
    return out;
}

hf_curvature curvature_of(const std::string& t) {
    if (t == "gauss_newton") return HF_CURVATURE_GAUSS_NEWTON;
    if (!is_integer(t)) throw std::runtime_error("curvature " + t + " is not a code");
    return static_cast<hf_curvature>(std::stoi(t));
}

struct Option {
    std::string key, type, value;
};

Option option(const std::string& t) {
    Option o;
    std::size_t eq = t.find('=');
    o.key = t.substr(0, eq);
    std::string rest = eq == std::string::npos ? std::string() : t.substr(eq + 1);
    std::size_t colon = rest.find(':');
    o.type = rest.substr(0, colon);
    o.value = colon == std::string::npos ? std::string() : rest.substr(colon + 1);
    return o;
}

// ---- the host objective: f(θ) = Σ ½(k+1)θ_k² ----

hessfree::HostObjective quadratic(std::size_t num_params, std::size_t num_examples) {
    hessfree::HostObjective o;
    o.num_params = num_params;
    o.num_examples = num_examples;
    o.loss_grad = [](const float* theta, std::size_t n, float* grad, float*) {
        double f = 0;
        for (std::size_t k = 0; k < n; ++k) {
            f += 0.5 * static_cast<double>(k + 1) * theta[k] * theta[k];
            if (grad) grad[k] = static_cast<float>(k + 1) * theta[k];
        }
        return f;
    };
    o.set_chunk = [](const float*, std::size_t, std::size_t, std::size_t, hf_curvature) {};
    o.curvature_product = [](const float* v, std::size_t n, float* out) {
        for (std::size_t k = 0; k < n; ++k) out[k] = static_cast<float>(k + 1) * v[k];
    };
    return o;
}

// ---- the fixture ----

template <class T>
struct Kind;
template <>
struct Kind<hessfree::Config> {
    using handle = hf_config;
    static constexpr std::uintptr_t tag = 1;
};
template <>
struct Kind<hessfree::Data> {
    using handle = hf_data;
    static constexpr std::uintptr_t tag = 2;
};
template <>
struct Kind<hessfree::Net> {
    using handle = hf_net;
    static constexpr std::uintptr_t tag = 3;
};
template <>
struct Kind<hessfree::Session> {
    using handle = hf_session;
    static constexpr std::uintptr_t tag = 4;
};

struct State {
    std::size_t n = 0, din = 0, dout = 0;
    std::vector<float> inputs, targets, net_params, session_params, host_params;
    std::string describe, cfg_text, session_cfg, host_cfg;
    std::uint64_t session_iteration = 0, host_iteration = 0;
    double lambda = 0;
};

struct Fixture {
    std::string tmp;
    hessfree::Data data;
    hessfree::Net net;
    hessfree::Config cfg;
    hessfree::Session session;
    hessfree::Config host_cfg;
    hessfree::Session host;
    std::map<std::string, void*> freed;  // by class name
    State snapshot;

    static std::vector<float> x() {
        std::vector<float> v(12 * 6);
        for (std::size_t i = 0; i < 12; ++i) {
            for (std::size_t j = 0; j < 6; ++j) {
                v[i * 6 + j] = static_cast<float>(((6 * i + j) % 10 + 1) / 11.0);
            }
        }
        return v;
    }

    static hessfree::Config make_cfg() {
        hessfree::Config c;
        c.set("chunk_size", 6).set("threads", 1).set("backend", "cpu");
        c.set("max_iters", 5).set("cg_max_iters", 10);
        return c;
    }

    static hessfree::Config make_host_cfg() {
        hessfree::Config c;
        c.set("threads", 1).set("backend", "cpu");
        return c;
    }

    explicit Fixture(std::string dir)
        : tmp(std::move(dir)),
          data(hessfree::Data::autoencoder(12, 6, x())),
          net(hessfree::Net::autoencoder({6, 3}, HF_ACT_LOGISTIC, 1)),
          cfg(make_cfg()),
          session(net, data, cfg),
          host_cfg(make_host_cfg()),
          host(hessfree::Session::from_objective(quadratic(4, 1), std::vector<float>(4, 1.0f),
                                                 &host_cfg)) {
        {
            hessfree::Data d = hessfree::Data::autoencoder(2, 6, std::vector<float>(12, 0.5f));
            freed["data"] = d.get();
        }
        {
            hessfree::Net n({2, 1}, {HF_ACT_LINEAR}, 1);
            freed["net"] = n.get();
        }
        {
            hessfree::Config c;
            freed["config"] = c.get();
        }
        {
            hessfree::Session s(net, data, cfg);
            freed["session"] = s.get();
        }
        std::ofstream(tmp + "/garbage.bin") << "this is not a hessfree file\n";
        std::ofstream(tmp + "/empty.bin").flush();
        net.save(tmp + "/net.hfnet");
        session.save(tmp + "/session.hfs");
        host.save(tmp + "/host.hfs");
        snapshot = state();
    }

    void* raw(const std::string& kind) const {
        if (kind == "data") return data.get();
        if (kind == "net") return net.get();
        if (kind == "config") return cfg.get();
        if (kind == "session") return session.get();
        throw std::runtime_error("unknown kind " + kind);
    }

    std::string text(const std::string& v) const {
        if (v == "<empty>") return std::string();
        std::string out = v;
        for (std::size_t at; (at = out.find("<tmp>")) != std::string::npos;) out.replace(at, 5, tmp);
        return out;
    }

    State state() const {
        State s;
        s.n = data.size();
        s.din = data.input_dim();
        s.dout = data.target_dim();
        s.inputs = data.inputs();
        s.targets = data.targets();
        s.describe = net.describe();
        s.net_params = net.params();
        s.cfg_text = cfg.to_text();
        s.session_iteration = session.iteration();
        s.lambda = session.lambda();
        s.session_params = session.params();
        s.session_cfg = session.config().to_text();
        s.host_iteration = host.iteration();
        s.host_params = host.params();
        s.host_cfg = host.config().to_text();
        return s;
    }

    /// What changed since the snapshot ("" if nothing).
    std::string changes() const {
        State s;
        try {
            s = state();
        } catch (const std::exception& e) {
            return std::string("fixture unusable: ") + e.what();
        }
        const State& o = snapshot;
        std::string out;
        if (s.n != o.n || s.din != o.din || s.dout != o.dout) out += " data.size";
        if (s.inputs != o.inputs || s.targets != o.targets) out += " data.values";
        if (s.describe != o.describe || s.net_params != o.net_params) out += " net";
        if (s.cfg_text != o.cfg_text) out += " cfg";
        if (s.session_iteration != o.session_iteration || s.lambda != o.lambda ||
            s.session_params != o.session_params || s.session_cfg != o.session_cfg) {
            out += " session";
        }
        if (s.host_iteration != o.host_iteration || s.host_params != o.host_params ||
            s.host_cfg != o.host_cfg) {
            out += " host";
        }
        return out;
    }
};

/// The object a row passes for an argument of class T: the fixture's, one
/// the row made, or one adopting a bad handle (released, never freed, unless
/// the row is about freeing).
template <class T>
struct Arg {
    const T* use = nullptr;
    std::unique_ptr<T> made;
    bool borrowed = false;
    Arg() = default;
    Arg(const Arg&) = delete;
    Arg& operator=(const Arg&) = delete;
    Arg(Arg&&) = default;
    Arg& operator=(Arg&&) = default;
    ~Arg() {
        if (borrowed && made) (void)made->release();
    }
    T& mut() { return *const_cast<T*>(use); }
};

template <class T>
Arg<T> adopt(void* handle) {
    Arg<T> a;
    a.made.reset(new T(static_cast<typename Kind<T>::handle*>(handle)));
    a.borrowed = true;
    a.use = a.made.get();
    return a;
}

hessfree::Config config_from(const Fixture& fx, const std::string& settings);

template <class T>
Arg<T> generic_object(const Fixture& fx, const std::string& v, const T* fixture_obj);


Arg<hessfree::Data> data_arg(const Fixture& fx, const std::string& v, const hessfree::Data* d) {
    if (starts_with(v, "data:")) {
        Matrix m = matrix(v.substr(5));
        Arg<hessfree::Data> a;
        a.made.reset(new hessfree::Data(hessfree::Data::autoencoder(m.n, m.d, m.floats())));
        a.use = a.made.get();
        return a;
    }
    return generic_object<hessfree::Data>(fx, v, d);
}

Arg<hessfree::Config> config_arg(const Fixture& fx, const std::string& v,
                                 const hessfree::Config* c) {
    if (starts_with(v, "cfg:")) {
        Arg<hessfree::Config> a;
        a.made.reset(new hessfree::Config(config_from(fx, v.substr(4))));
        a.use = a.made.get();
        return a;
    }
    return generic_object<hessfree::Config>(fx, v, c);
}

template <class T>
Arg<T> generic_object(const Fixture& fx, const std::string& v, const T* fixture_obj) {
    Arg<T> a;
    if (v.empty()) {
        a.use = fixture_obj;
        return a;
    }
    if (v == "freed") {
        std::string name = Kind<T>::tag == 1   ? "config"
                           : Kind<T>::tag == 2 ? "data"
                           : Kind<T>::tag == 3 ? "net"
                                               : "session";
        return adopt<T>(fx.freed.at(name));
    }
    if (v == "forged") return adopt<T>(reinterpret_cast<void*>(std::uintptr_t{0x1234}));
    if (v == "forged_tagged") {
        return adopt<T>(reinterpret_cast<void*>((Kind<T>::tag << (sizeof(void*) * 8 - 8)) |
                                                std::uintptr_t{0xFFFFFFFFFFull}));
    }
    if (starts_with(v, "wrong_kind:")) return adopt<T>(fx.raw(v.substr(11)));
    if (v == "null") return adopt<T>(nullptr);
    throw std::runtime_error("object encoding " + v + " is not known to the C++ runner");
}

void set_option(hessfree::Config& c, const Fixture& fx, const Option& o) {
    if (o.type == "f64") {
        c.set(o.key, real(o.value));
    } else if (o.type == "i64") {
        c.set(o.key, starts_with(o.value, "2^") ? static_cast<std::int64_t>(u64(o.value))
                                                : static_cast<std::int64_t>(std::stoll(o.value)));
    } else if (o.type == "bool") {
        c.set(o.key, o.value == "true");
    } else if (o.type == "str") {
        c.set(o.key, fx.text(o.value));
    } else if (o.type == "text") {
        c.set_from_string(o.key + "=" + fx.text(o.value));
    } else {
        throw std::runtime_error("option type " + o.type + " is not known");
    }
}

hessfree::Config config_from(const Fixture& fx, const std::string& settings) {
    hessfree::Config c;
    for (const std::string& s : split(settings, ";")) set_option(c, fx, option(s));
    return c;
}

/// Runs the row's call through the binding (throws what the binding throws).
void run(Fixture& fx, const Row& row) {
    const std::string& op = row.op;
    const std::string& arg = row.arg;
    const std::string& v = row.value;
    auto pick = [&](const char* name, const std::string& fallback) {
        return arg == name ? v : fallback;
    };
    auto self_value = [&]() { return arg == "self" ? v : std::string(); };

    if (op == "data.new") {
        Matrix m = matrix(v);
        if (m.f64) {
            hessfree::Data::autoencoder(m.n, m.d, m.values);
        } else {
            std::vector<float> f = m.floats();
            hessfree::Data::autoencoder(m.n, m.d, m.null ? nullptr : f.data(), m.len);
        }
        return;
    }
    if (op == "data.new_supervised") {
        Matrix x = matrix(arg == "inputs" ? v : "3x2");
        Matrix y = matrix(arg == "targets" ? v : "3x1");
        if (x.f64 || y.f64) {
            hessfree::Data(x.n, x.d, x.values, y.d, y.values);
        } else {
            hessfree::Data(x.n, x.d, x.floats(), y.d, y.floats());
        }
        return;
    }
    if (op == "data.curves") {
        hessfree::Data::curves(static_cast<std::size_t>(u64(v)), 1);
        return;
    }
    if (op == "data.mnist") {
        hessfree::Data::mnist(fx.text(v));
        return;
    }
    if (op == "data.faces") {
        std::string path = fx.text(pick("path", "<tmp>/garbage.bin"));
        hessfree::Data::faces(path, static_cast<std::size_t>(u64(pick("per_image", "1"))), 0);
        return;
    }
    if (op == "data.preset") {
        hessfree::Data::preset(fx.text(pick("name", "mnist")), fx.text(pick("data_dir", "<tmp>")), 0);
        return;
    }
    if (op == "data.size" || op == "data.inputs" || op == "data.targets") {
        Arg<hessfree::Data> d = data_arg(fx, self_value(), &fx.data);
        if (op == "data.size") (void)d.use->size();
        if (op == "data.inputs") (void)d.use->inputs();
        if (op == "data.targets") (void)d.use->targets();
        return;
    }
    if (op == "net.new") {
        std::vector<std::size_t> sizes = sizes_of(pick("sizes", "6,3,6"));
        std::vector<hf_activation> acts =
            arg == "activations"
                ? activations_of(v)
                : std::vector<hf_activation>(sizes.empty() ? 0 : sizes.size() - 1, HF_ACT_LOGISTIC);
        hessfree::Net(sizes, acts, 1);
        return;
    }
    if (op == "net.new_autoencoder") {
        hessfree::Net::autoencoder(sizes_of(pick("encoder", "6,3")),
                                   activation_of(pick("output", "logistic")), 1);
        return;
    }
    if (op == "net.new_preset") {
        hessfree::Net::preset(fx.text(v), 1);
        return;
    }
    if (op == "net.load") {
        hessfree::Net::load(fx.text(v));
        return;
    }
    if (starts_with(op, "net.")) {
        Arg<hessfree::Net> n = generic_object<hessfree::Net>(fx, self_value(), &fx.net);
        Arg<hessfree::Data> d = data_arg(fx, arg == "data" ? v : std::string(), &fx.data);
        std::vector<float> vec = arg == "v" ? vector_of(v) : std::vector<float>(P, 0.5f);
        if (op == "net.save") {
            n.use->save(fx.text(pick("path", "<tmp>/out.hfnet")));
        } else if (op == "net.clone") {
            (void)n.use->clone();
        } else if (op == "net.num_params") {
            (void)n.use->num_params();
        } else if (op == "net.describe") {
            (void)n.use->describe();
        } else if (op == "net.get_params") {
            (void)n.use->params();
        } else if (op == "net.set_params") {
            n.mut().set_params(arg == "params" ? vector_of(v) : std::vector<float>(P, 0.5f));
        } else if (op == "net.predict") {
            Matrix m = matrix(pick("inputs", "2x6"));
            (void)n.use->predict(m.floats(), m.n);
        } else if (op == "net.evaluate") {
            (void)n.use->evaluate(*d.use);
        } else if (op == "net.gradient") {
            (void)n.use->gradient(*d.use);
        } else if (op == "net.curvature_product") {
            (void)n.use->curvature_product(*d.use, curvature_of(pick("kind", "gauss_newton")), vec);
        } else if (op == "net.hessian_product_fd") {
            (void)n.use->hessian_product_fd(*d.use, vec, real(pick("h", "0.001")));
        } else {
            throw std::runtime_error("operation " + op + " is not implemented by the C++ runner");
        }
        return;
    }
    if (op == "config.preset") {
        hessfree::Config::preset(fx.text(v));
        return;
    }
    if (starts_with(op, "config.")) {
        Arg<hessfree::Config> c = config_arg(fx, self_value(), &fx.cfg);
        Option o = option(pick("option", "max_iters=i64:3"));
        if (op == "config.set") {
            set_option(c.mut(), fx, o);
        } else if (op == "config.get") {
            if (o.type == "f64") (void)c.use->get_f64(o.key);
            else if (o.type == "i64") (void)c.use->get_i64(o.key);
            else if (o.type == "bool") (void)c.use->get_bool(o.key);
            else (void)c.use->get_str(o.key);
        } else if (op == "config.validate") {
            c.use->validate();
        } else if (op == "config.to_text") {
            (void)c.use->to_text();
        } else if (op == "config.clone") {
            (void)c.use->clone();
        } else {
            throw std::runtime_error("operation " + op + " is not implemented by the C++ runner");
        }
        return;
    }
    if (op == "session.new" || op == "session.resume") {
        Arg<hessfree::Net> n = generic_object<hessfree::Net>(fx, arg == "net" ? v : "", &fx.net);
        Arg<hessfree::Data> train = data_arg(fx, arg == "train" ? v : "", &fx.data);
        Arg<hessfree::Data> test = data_arg(fx, arg == "test" ? v : "", nullptr);
        if (op == "session.new") {
            Arg<hessfree::Config> c = config_arg(fx, arg == "cfg" ? v : "", &fx.cfg);
            hessfree::Session s(*n.use, *train.use, test.use, c.use);
        } else {
            Arg<hessfree::Config> c = config_arg(fx, arg == "cfg" ? v : "", nullptr);
            hessfree::Session::resume(*n.use, *train.use, test.use, c.use,
                                      fx.text(pick("path", "<tmp>/session.hfs")));
        }
        return;
    }
    if (op == "session.new_host") {
        hessfree::HostObjective o = quadratic(4, static_cast<std::size_t>(u64(pick("num_examples", "1"))));
        if (arg == "num_params") o.num_params = static_cast<std::size_t>(u64(v));
        if (arg == "loss_grad") o.loss_grad = nullptr;
        std::vector<float> theta0 = arg == "theta0" ? vector_of(v) : std::vector<float>(4, 1.0f);
        if (arg == "theta0") o.num_params = theta0.size();
        Arg<hessfree::Config> c = config_arg(fx, arg == "cfg" ? v : "", &fx.host_cfg);
        hessfree::Session::from_objective(o, theta0, c.use);
        return;
    }
    if (op == "session.resume_host") {
        hessfree::HostObjective o = quadratic(static_cast<std::size_t>(u64(pick("num_params", "4"))), 1);
        hessfree::Session::resume_objective(o, nullptr, fx.text(pick("path", "<tmp>/host.hfs")));
        return;
    }
    if (starts_with(op, "session.")) {
        Arg<hessfree::Session> s;
        if (self_value() == "host") {
            s.use = &fx.host;
        } else {
            s = generic_object<hessfree::Session>(fx, self_value(), &fx.session);
        }
        if (op == "session.step") {
            (void)s.mut().step();
        } else if (op == "session.run") {
            (void)s.mut().run();
        } else if (op == "session.request_stop") {
            s.use->request_stop();
        } else if (op == "session.get_params") {
            (void)s.use->params();
        } else if (op == "session.copy_net") {
            (void)s.use->net();
        } else if (op == "session.iteration") {
            (void)s.use->iteration();
        } else if (op == "session.lambda") {
            (void)s.use->lambda();
        } else if (op == "session.get_config") {
            (void)s.use->config();
        } else if (op == "session.set_config") {
            Arg<hessfree::Config> c = config_arg(fx, arg == "cfg" ? v : "", &fx.cfg);
            s.mut().set_config(*c.use);
        } else if (op == "session.save") {
            s.use->save(fx.text(pick("path", "<tmp>/out.hfs")));
        } else if (op == "session.backend_name") {
            (void)s.use->backend_name();
        } else if (op == "session.summary_text") {
            (void)s.use->summary_text();
        } else if (op == "session.report_text") {
            (void)s.use->report_text();
        } else {
            throw std::runtime_error("operation " + op + " is not implemented by the C++ runner");
        }
        return;
    }
    throw std::runtime_error("operation " + op + " is not implemented by the C++ runner");
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

int main() {
    std::string path = table_path();
    std::vector<Row> rows;
    try {
        rows = load_rows(path);
    } catch (const std::exception& e) {
        check_record_(0, "load the table", __FILE__, __LINE__, e.what());
        return check_summary("test_bad_input_bindings");
    }
    char dir_template[] = "/tmp/hf-bad-input-cpp-XXXXXX";
    const char* dir = mkdtemp(dir_template);
    if (!dir) {
        check_record_(0, "mkdtemp", __FILE__, __LINE__, NULL);
        return check_summary("test_bad_input_bindings");
    }
    int passed = 0, failed = 0, not_applicable = 0;
    {
        Fixture fx(dir);
        for (const Row& row : rows) {
            if (row.not_applicable.count(BINDING)) {
                ++not_applicable;
                continue;
            }
            std::string status = row.status, fragment = row.fragment;
            auto ov = row.override_.find(BINDING);
            if (ov != row.override_.end()) {
                std::size_t colon = ov->second.find(':');
                status = ov->second.substr(0, colon);
                fragment = colon == std::string::npos ? "" : ov->second.substr(colon + 1);
            }
            fragment = fx.text(fragment);
            std::string got = "HF_OK", message, problem;
            try {
                run(fx, row);
            } catch (const hessfree::Error& e) {
                got = hessfree::status_name(e.status());
                message = e.message();
            } catch (const std::exception& e) {
                got = "another exception";
                message = e.what();
            }
            if (got != status) {
                problem = "expected " + status + ", got " + got + ": " + message;
            } else if (status != "HF_OK" && (message.empty() || !contains(message, fragment))) {
                problem = "message \"" + message + "\" lacks \"" + fragment + "\"";
            } else {
                std::string changed = fx.changes();
                if (!changed.empty()) problem = "fixture changed or unusable:" + changed;
            }
            const std::string what = "row " + row.id;
            check_record_(problem.empty(), what.c_str(), __FILE__, __LINE__,
                          problem.empty() ? NULL : problem.c_str());
            (problem.empty() ? passed : failed)++;
        }
        // Both sessions still take a real step after the whole table.
        const hf_iteration_report r = fx.session.step();
        CHECK(r.iteration == 1 && std::isfinite(r.objective));
        const hf_iteration_report h = fx.host.step();
        CHECK(h.iteration == 1 && std::isfinite(h.objective));
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
    std::printf("bad_input_table[%s]: %d passed, %d failed, %d not applicable\n", BINDING, passed,
                failed, not_applicable);
    return check_summary("test_bad_input_bindings");
}
