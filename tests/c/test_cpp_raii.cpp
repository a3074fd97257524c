// C++ host test of bindings/cpp/hessfree.hpp (C++17, -Wall -Wextra -Werror
// -pedantic): training through the RAII classes reduces the error; owners
// are move-only and a moved-from object throws hessfree::Error instead of
// crashing; every failing call throws Error carrying the status and the
// library's message; typed config setters pick the right C setter; an
// exception thrown by a progress function stops the run and arrives after
// it; a host objective written in C++ trains to its known solution, and an
// exception thrown by one of its functions surfaces from step()/run() with
// the session still usable.
//
// Under valgrind (HESSFREE_TEST_UNDER_VALGRIND=1) the training is smaller.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "check.h"
#include "hessfree.hpp"

namespace {

bool under_valgrind() {
    const char* v = std::getenv("HESSFREE_TEST_UNDER_VALGRIND");
    return v && v[0] == '1';
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// Runs `body`, which must throw hessfree::Error with `status` and a message
// containing `part`; records one check.
template <class Body>
void check_throws(Body body, hf_status status, const std::string& part, const char* what,
                  int line) {
    std::string detail;
    bool ok = false;
    try {
        body();
        detail = "no exception";
    } catch (const hessfree::Error& e) {
        ok = e.status() == status && contains(e.message(), part) &&
             contains(e.what(), hessfree::status_name(status));
        detail = std::string("status ") + hessfree::status_name(e.status()) + ", what(): " +
                 e.what();
    } catch (const std::exception& e) {
        detail = std::string("another exception: ") + e.what();
    }
    check_record_(ok ? 1 : 0, what, __FILE__, line, ok ? nullptr : detail.c_str());
}

#define CHECK_THROWS(expr, status, part) \
    check_throws([&] { (void)(expr); }, (status), (part), #expr, __LINE__)

static_assert(!std::is_copy_constructible<hessfree::Net>::value, "Net is move-only");
static_assert(!std::is_copy_assignable<hessfree::Session>::value, "Session is move-only");
static_assert(std::is_nothrow_move_constructible<hessfree::Config>::value, "noexcept move");
static_assert(std::is_nothrow_move_constructible<hessfree::Data>::value, "noexcept move");
static_assert(std::is_nothrow_move_constructible<hessfree::Net>::value, "noexcept move");
static_assert(std::is_nothrow_move_constructible<hessfree::Session>::value, "noexcept move");
static_assert(std::is_nothrow_move_assignable<hessfree::Session>::value, "noexcept move");
static_assert(std::is_base_of<std::runtime_error, hessfree::Error>::value, "Error type");

hessfree::Config small_config(std::int64_t max_iters, std::int64_t chunk) {
    hessfree::Config cfg;
    cfg.set("max_iters", max_iters).set("chunk_size", chunk).set("backend", "cpu");
    return cfg;
}

// ---- Training reduces the error; reports and accessors work. ----

void test_training_reduces_error() {
    const bool small = under_valgrind();
    const std::size_t n = small ? 60 : 300;
    const std::int64_t iters = small ? 2 : 4;
    hessfree::Data train = hessfree::Data::curves(n, 1);
    hessfree::Data test = hessfree::Data::curves(small ? 20 : 100, 2);
    hessfree::Net net =
        hessfree::Net::autoencoder({784, small ? 16u : 32u, 6}, HF_ACT_LOGISTIC, 1);
    CHECK(net.layer_sizes() == (std::vector<std::size_t>{784, small ? 16u : 32u, 6,
                                                         small ? 16u : 32u, 784}));
    CHECK(net.activations().size() == 4 && net.activations()[1] == HF_ACT_LINEAR);
    CHECK(contains(net.describe(), "784-"));
    const hessfree::Evaluation before = net.evaluate(train);

    hessfree::Config cfg = small_config(iters, static_cast<std::int64_t>(n / 2));
    cfg.set("cg_max_iters", small ? 10 : 50);
    hessfree::Session session(net, train, test, cfg);
    CHECK(contains(session.backend_name(), "cpu"));
    CHECK(session.num_params() == net.num_params());
    CHECK(session.params() == net.params());

    std::vector<std::uint64_t> seen;
    const hf_summary sum = session.run([&](const hf_iteration_report& r) {
        seen.push_back(r.iteration);
        return false;
    });
    CHECK(seen.size() == static_cast<std::size_t>(iters) && seen.back() == std::uint64_t(iters));
    CHECK(sum.termination == HF_TERMINATION_MAX_ITERATIONS);
    CHECK(hessfree::termination_str(sum.termination) == "maximum number of iterations reached");
    CHECK(std::isfinite(sum.final_test_error));
    std::printf("cpp curves autoencoder: train error %.3f -> %.3f\n", before.error,
                sum.final_train_error);
    CHECK(sum.final_train_error < 0.9 * before.error);
    CHECK(session.iteration() == std::uint64_t(iters));
    CHECK(session.lambda() > 0);
    CHECK(contains(session.summary_text(), "maximum number of iterations"));
    CHECK(contains(session.summary_text(true), "curvature products:"));
    CHECK(session.report_text().rfind("iter ", 0) == 0);

    // The trained network, copied out, gives the reported error.
    hessfree::Net trained = session.net();
    const hessfree::Evaluation after = trained.evaluate(train);
    CHECK(std::fabs(after.error - sum.final_train_error) <= 1e-4 * after.error);
    CHECK(trained.params() == session.params());

    // One more step continues from there.
    hessfree::Config more = session.config();
    CHECK(more.get_i64("max_iters") == iters);
    more.set("max_iters", iters + 1);
    session.set_config(more);
    const hf_iteration_report r = session.step();
    CHECK(r.iteration == std::uint64_t(iters) + 1 && std::isfinite(r.objective));

    // A progress function returning true stops the run.
    more.set("max_iters", iters + 10);
    session.set_config(more);
    int calls = 0;
    const hf_summary stopped = session.run([&](const hf_iteration_report&) { return ++calls == 1; });
    CHECK(calls == 1 && stopped.iterations == 1);
    CHECK(stopped.termination == HF_TERMINATION_CALLBACK_STOP);
}

// ---- Net, Data, Config accessors and their errors. ----

void test_objects_and_errors() {
    hessfree::Net net({3, 2, 3}, {HF_ACT_TANH, HF_ACT_LINEAR}, 5);
    CHECK(net.num_params() == 3 * 2 + 2 + 2 * 3 + 3);
    std::vector<float> theta = net.params();
    for (std::size_t i = 0; i < theta.size(); ++i) theta[i] = 0.01f * static_cast<float>(i);
    net.set_params(theta);
    CHECK(net.params() == theta);
    hessfree::Net copy = net.clone();
    CHECK(copy.params() == theta);

    // NaN parameters: Error with HF_ERR_NON_FINITE naming the index; unchanged.
    std::vector<float> bad = theta;
    bad[4] = std::nanf("");
    CHECK_THROWS(net.set_params(bad), HF_ERR_NON_FINITE, "4");
    CHECK(net.params() == theta);
    CHECK_THROWS(net.set_params(std::vector<float>(3)), HF_ERR_SHAPE_MISMATCH, "params_len");

    const std::vector<float> x = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};
    hessfree::Data data(2, 3, x, 3, x);
    CHECK(data.size() == 2 && data.input_dim() == 3 && data.target_dim() == 3);
    CHECK(data.inputs() == x && data.targets() == x);
    hessfree::Data d64 = hessfree::Data::autoencoder(2, 3, std::vector<double>{1, 2, 3, 4, 5, 6});
    CHECK(d64.inputs()[5] == 6.0f);
    CHECK(net.predict(x, 2).size() == 6);
    double loss = -1;
    const std::vector<float> grad = net.gradient(data, &loss);
    CHECK(grad.size() == net.num_params() && loss >= 0);
    const std::vector<float> gv =
        net.curvature_product(data, HF_CURVATURE_GAUSS_NEWTON, std::vector<float>(theta.size(), 1.0f));
    CHECK(gv.size() == theta.size());
    CHECK(net.hessian_product_fd(data, theta, 1e-3).size() == theta.size());

    // Wrong shapes, NaN data, bad arguments.
    CHECK_THROWS(hessfree::Data(2, 3, std::vector<float>(5), 3, x), HF_ERR_SHAPE_MISMATCH,
                 "inputs_len is 5");
    std::vector<float> nan_x = x;
    nan_x[3] = INFINITY;
    CHECK_THROWS(hessfree::Data::autoencoder(2, 3, nan_x), HF_ERR_NON_FINITE, "example 1");
    CHECK_THROWS(hessfree::Data::curves(0, 1), HF_ERR_INVALID_ARGUMENT, "hf_data_curves");
    hessfree::Data wide = hessfree::Data::autoencoder(1, 4, std::vector<float>{1, 2, 3, 4});
    CHECK_THROWS(net.evaluate(wide), HF_ERR_SHAPE_MISMATCH, "hf_net_evaluate");
    CHECK_THROWS(hessfree::Net({3}, {}, 1), HF_ERR_INVALID_ARGUMENT, "hf_net_new");
    CHECK_THROWS(hessfree::Net::preset("nope", 1), HF_ERR_INVALID_ARGUMENT, "nope");
    CHECK_THROWS(hessfree::Net::load("/nonexistent/hessfree/net.bin"), HF_ERR_IO,
                 "/nonexistent/hessfree/net.bin");

    // Typed config setters reach the right C setter; errors name the key.
    hessfree::Config cfg;
    cfg.set("initial_lambda", 2.5).set("cg_max_iters", 77).set("backtrack", false);
    cfg.set("curvature", "hessian").set("backend", std::string("cpu"));
    cfg.set("max_iters", std::uint64_t{9}).set("chunk_size", 10L);
    cfg.set_from_string("rho_low=0.2");
    CHECK(cfg.get_f64("initial_lambda") == 2.5);
    CHECK(cfg.get_i64("cg_max_iters") == 77 && cfg.get_i64("max_iters") == 9);
    CHECK(!cfg.get_bool("backtrack"));
    CHECK(cfg.get_str("curvature") == "hessian");
    CHECK(cfg.get_f64("rho_low") == 0.2);
    CHECK(contains(cfg.to_text(), "cg_max_iters=77"));
    cfg.validate();
    CHECK_THROWS(cfg.set("chunk_sise", 5), HF_ERR_UNKNOWN_KEY, "chunk_sise");
    CHECK_THROWS(cfg.set("chunk_size", 0.5), HF_ERR_WRONG_TYPE, "chunk_size");
    CHECK_THROWS(cfg.set("initial_lambda", -1.0), HF_ERR_OUT_OF_RANGE, "initial_lambda");
    CHECK_THROWS(cfg.set("curvature", "newton"), HF_ERR_OUT_OF_RANGE, "newton");
    CHECK_THROWS(cfg.get_bool("initial_lambda"), HF_ERR_WRONG_TYPE, "initial_lambda");
    CHECK(cfg.get_f64("initial_lambda") == 2.5);
    hessfree::Config clone = cfg.clone();
    CHECK(clone.get_i64("cg_max_iters") == 77);
    CHECK(hessfree::Config::preset("curves").get_i64("chunk_size") > 0);
    const std::vector<hessfree::KeyInfo> keys = hessfree::Config::keys();
    bool found = false;
    for (const hessfree::KeyInfo& k : keys)
        found = found || (k.name == "chunk_size" && k.type == HF_KEY_I64 && !k.doc.empty());
    CHECK(keys.size() > 10 && found);

    // A session whose data does not fit the net.
    CHECK_THROWS(hessfree::Session(net, wide), HF_ERR_SHAPE_MISMATCH, "hf_session_new");
    // Error is a std::runtime_error; what() has the status name and the message.
    try {
        cfg.set("no_such_key", 1.0);
        CHECK(false);
    } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()).rfind("HF_ERR_UNKNOWN_KEY: hf_config_set_f64", 0) == 0);
    }
    CHECK(hessfree::version() == HF_VERSION_STRING);
}

// ---- Move-only owners; moved-from objects throw; no double free. ----

void test_moves() {
    hessfree::Net a = hessfree::Net::autoencoder({4, 2}, HF_ACT_LOGISTIC, 1);
    hf_net* handle = a.get();
    hessfree::Net b = std::move(a);
    CHECK(b.get() == handle && !a && a.get() == nullptr);
    CHECK(b.num_params() == 4 * 2 + 2 + 2 * 4 + 4);
    CHECK_THROWS(a.num_params(), HF_ERR_NULL_POINTER, "net");
    CHECK_THROWS(a.params(), HF_ERR_NULL_POINTER, "net");

    // Move assignment frees the target's old handle.
    hessfree::Net c = hessfree::Net::autoencoder({4, 3}, HF_ACT_LOGISTIC, 2);
    hf_net* old = c.get();
    c = std::move(b);
    CHECK(c.get() == handle && !b);
    std::size_t count = 0;
    CHECK_ERR(hf_net_num_params(old, &count), HF_ERR_INVALID_HANDLE, "freed");
    c = std::move(c);  // self-move keeps the handle
    CHECK(c.get() == handle);

    hessfree::Config cfg;
    hessfree::Config cfg2(std::move(cfg));
    CHECK(!cfg && cfg2);
    CHECK_THROWS(cfg.set("max_iters", 1), HF_ERR_NULL_POINTER, "cfg");

    hessfree::Data d = hessfree::Data::curves(5, 3);
    std::vector<hessfree::Data> sets;
    sets.push_back(std::move(d));
    sets.push_back(hessfree::Data::curves(6, 3));
    CHECK(!d && sets[0].size() == 5 && sets[1].size() == 6);
    CHECK_THROWS(d.size(), HF_ERR_NULL_POINTER, "data");

    // release() hands the handle over; the C owner frees it.
    hf_data* raw = sets[1].release();
    CHECK(!sets[1]);
    CHECK_OK(hf_data_free(raw));

    hessfree::Data eight = hessfree::Data::curves(8, 1);
    hessfree::Net ae = hessfree::Net::autoencoder({784, 2}, HF_ACT_LOGISTIC, 1);
    hessfree::Session s(ae, eight, small_config(1, 0));
    hessfree::Session s2 = std::move(s);
    CHECK(!s && s2);
    CHECK_THROWS(s.step(), HF_ERR_NULL_POINTER, "session");
    CHECK_THROWS(s.run(), HF_ERR_NULL_POINTER, "session");
    CHECK(s2.num_params() == ae.num_params());
}

// ---- A throwing progress function stops the run; its exception arrives. ----

struct UserStop : std::runtime_error {
    std::uint64_t at;
    explicit UserStop(std::uint64_t iteration)
        : std::runtime_error("user stop"), at(iteration) {}
};

void test_progress_exception() {
    hessfree::Data train = hessfree::Data::curves(40, 4);
    hessfree::Net net = hessfree::Net::autoencoder({784, 8, 3}, HF_ACT_LOGISTIC, 4);
    hessfree::Session session(net, train, small_config(10, 20));
    int calls = 0;
    bool caught = false;
    try {
        session.run([&](const hf_iteration_report& r) -> bool {
            if (++calls == 2) throw UserStop(r.iteration);
            return false;
        });
    } catch (const UserStop& e) {
        caught = e.at == 2;
    }
    CHECK(caught);
    CHECK(calls == 2);  // the run stopped at the throwing iteration
    CHECK(session.iteration() == 2);
    // The session stays usable; an exception of any type is carried.
    caught = false;
    try {
        session.run([](const hf_iteration_report&) -> bool { throw 42; });
    } catch (int v) {
        caught = v == 42;
    }
    CHECK(caught && session.iteration() == 3);
    const hf_summary sum = session.run([](const hf_iteration_report&) { return true; });
    CHECK(sum.iterations == 1 && sum.termination == HF_TERMINATION_CALLBACK_STOP);
}

// ---- A host objective in C++: least squares with a known solution. ----

constexpr int M = 30, D = 4;
const double x_true[D] = {1.0, -2.0, 0.5, 3.0};

struct LeastSquares {
    double a[M][D], b[M];
    std::size_t start = 0, len = M;
    int loss_calls = 0, fail_loss_at = 0, fail_product_at = 0, product_calls = 0;

    LeastSquares() {
        for (int i = 0; i < M; ++i) {
            b[i] = 0;
            for (int j = 0; j < D; ++j) {
                a[i][j] = std::sin(1.3 * i + 0.9 * j * j + 0.2) + (j == i % D ? 1.5 : 0.0);
                b[i] += a[i][j] * x_true[j];  // consistent: the minimum is x_true, f = 0
            }
        }
    }

    double residual(const float* x, int i) const {
        double r = -b[i];
        for (int j = 0; j < D; ++j) r += a[i][j] * x[j];
        return r;
    }

    hessfree::HostObjective objective() {
        hessfree::HostObjective o;
        o.num_params = D;
        o.num_examples = M;
        o.loss_grad = [this](const float* x, std::size_t n, float* grad, float*) {
            if (++loss_calls == fail_loss_at) throw std::domain_error("loss_grad failed on purpose");
            if (n != D) throw std::logic_error("wrong n");
            double f = 0, g[D] = {0, 0, 0, 0};
            for (int i = 0; i < M; ++i) {
                const double r = residual(x, i);
                f += 0.5 * r * r;
                for (int j = 0; j < D; ++j) g[j] += a[i][j] * r;
            }
            if (grad)
                for (int j = 0; j < D; ++j) grad[j] = static_cast<float>(g[j] / M);
            return f / M;
        };
        o.set_chunk = [this](const float*, std::size_t, std::size_t s, std::size_t l,
                             hf_curvature kind) {
            if (kind != HF_CURVATURE_GAUSS_NEWTON) throw std::logic_error("unexpected kind");
            start = s;
            len = l;
        };
        o.curvature_product = [this](const float* v, std::size_t, float* out) {
            if (++product_calls == fail_product_at) throw std::overflow_error("product failed");
            double acc[D] = {0, 0, 0, 0};
            for (std::size_t i = start; i < start + len; ++i) {
                double av = 0;
                for (int j = 0; j < D; ++j) av += a[i][j] * v[j];
                for (int j = 0; j < D; ++j) acc[j] += a[i][j] * av;
            }
            for (int j = 0; j < D; ++j) out[j] = static_cast<float>(acc[j] / double(len));
        };
        return o;
    }
};

void test_host_objective() {
    LeastSquares p;
    hessfree::Config cfg;
    cfg.set("initial_lambda", 1.0).set("max_iters", 30);
    hessfree::Session session =
        hessfree::Session::from_objective(p.objective(), std::vector<float>(D, 0.0f), &cfg);
    CHECK(session.backend_name() == "host objective (callbacks)");
    const hf_summary sum = session.run();
    CHECK(sum.termination == HF_TERMINATION_MAX_ITERATIONS && sum.iterations == 30);
    const std::vector<float> x = session.params();
    double err = 0;
    for (int j = 0; j < D; ++j) err = std::fmax(err, std::fabs(x[j] - x_true[j]));
    std::printf("cpp least squares: |x - x_true|_inf = %.2e, f = %.2e\n", err,
                sum.final_objective);
    CHECK(err < 1e-3 && sum.final_objective < 1e-6);
    CHECK_THROWS(session.net(), HF_ERR_UNSUPPORTED, "host-defined objective");

    // A throwing host function: the same exception arrives from run(); theta
    // is that of the last completed iteration; the session goes on after.
    LeastSquares q;
    hessfree::Session s2 =
        hessfree::Session::from_objective(q.objective(), std::vector<float>(D, 0.0f), &cfg);
    (void)s2.step();
    const std::vector<float> after_one = s2.params();
    q.fail_product_at = q.product_calls + 2;
    bool caught = false;
    try {
        (void)s2.run([](const hf_iteration_report&) { return false; });
    } catch (const std::overflow_error& e) {
        caught = std::string(e.what()) == "product failed";
    }
    CHECK(caught);
    CHECK(s2.iteration() == 1 && s2.params() == after_one);
    q.fail_loss_at = q.loss_calls + 1;
    caught = false;
    try {
        (void)s2.step();
    } catch (const std::domain_error&) {
        caught = true;
    }
    CHECK(caught && s2.iteration() == 1);
    const hf_iteration_report r = s2.step();  // usable again
    CHECK(r.iteration == 2);

    // A move keeps the callbacks' state: the moved-to session still trains.
    hessfree::Session s3 = std::move(s2);
    CHECK(s3.step().iteration == 3);

    // A missing required function: the library names it.
    hessfree::HostObjective incomplete = p.objective();
    incomplete.curvature_product = nullptr;
    CHECK_THROWS(hessfree::Session::from_objective(incomplete, std::vector<float>(D, 0.0f)),
                 HF_ERR_NULL_POINTER, "curvature_product");
    CHECK_THROWS(hessfree::Session::from_objective(p.objective(), std::vector<float>(D + 1)),
                 HF_ERR_SHAPE_MISMATCH, "theta0");
}

}  // namespace

int main() {
    try {
        test_training_reduces_error();
        test_objects_and_errors();
        test_moves();
        test_progress_exception();
        test_host_objective();
    } catch (const std::exception& e) {
        check_record_(0, "unexpected exception", __FILE__, __LINE__, e.what());
    }
    return check_summary("test_cpp_raii");
}
