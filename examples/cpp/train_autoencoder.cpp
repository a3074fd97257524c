// Example C++ host: trains a small deep autoencoder (784-100-20-6, mirrored)
// on CURVES-like images through the header-only RAII layer
// bindings/cpp/hessfree.hpp, printing one line per iteration and the summary.
//
// Build (from the crate root, after `cargo build --release`):
//
//   c++ -std=c++17 -O2 -I include -I bindings/cpp examples/cpp/train_autoencoder.cpp -L target/release -lhessfree -Wl,-rpath,$PWD/target/release -o train_cpp
//
// Run: ./train_cpp [max_iters (default 10)] [training examples (default 2000)]
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "hessfree.hpp"

namespace {

// A positive integer argument, or std::invalid_argument naming it.
long positive_arg(const char* text, const char* name) {
    char* end = nullptr;
    const long v = std::strtol(text, &end, 10);
    if (end == text || *end != '\0' || v <= 0) {
        throw std::invalid_argument(std::string(name) + " must be a positive integer, got '" +
                                    text + "'\nusage: train_cpp [max_iters] [training examples]");
    }
    return v;
}

void print_report(const hf_iteration_report& r) {
    std::printf("%4llu  obj %10.4f  train err %9.4f  test err %9.4f  cg %3llu  rho %6.3f  "
                "lambda %9.3g  %s%.2fs\n",
                static_cast<unsigned long long>(r.iteration), r.objective, r.train_error,
                r.test_error, static_cast<unsigned long long>(r.cg_iterations), r.rho, r.lambda,
                r.rejected ? "REJECTED  " : "", r.wall_seconds);
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const long max_iters = argc > 1 ? positive_arg(argv[1], "max_iters") : 10;
        const long n_train = argc > 2 ? positive_arg(argv[2], "training examples") : 2000;
        const long n_test = n_train / 4 > 0 ? n_train / 4 : 1;

        std::printf("hessfree %s (header %s)\n", hessfree::version().c_str(), HF_VERSION_STRING);
        const hessfree::Data train = hessfree::Data::curves(static_cast<std::size_t>(n_train), 1);
        const hessfree::Data test = hessfree::Data::curves(static_cast<std::size_t>(n_test), 2);
        const hessfree::Net net = hessfree::Net::autoencoder({784, 100, 20, 6}, HF_ACT_LOGISTIC, 1);
        std::printf("network %s, %ld training and %ld test images\n", net.describe().c_str(),
                    n_train, n_test);

        hessfree::Config cfg;
        // The curvature chunk: a quarter of the training set, as in the paper's CURVES run.
        cfg.set("max_iters", max_iters)
            .set("chunk_size", n_train / 4 > 0 ? n_train / 4 : 1)
            .set("weight_cost", 2e-5);
        hessfree::Session session(net, train, test, cfg);
        std::printf("backend: %s\n", session.backend_name().c_str());

        // The progress function may throw: the run stops and the exception
        // reaches the catch below after the library has returned.
        const hf_summary summary = session.run([](const hf_iteration_report& r) {
            print_report(r);
            return false;  // keep going
        });
        std::printf("%s\n", session.summary_text(true).c_str());
        std::printf("final: objective %.6f, train error %.4f, test error %.4f (%s)\n",
                    summary.final_objective, summary.final_train_error, summary.final_test_error,
                    hessfree::termination_str(summary.termination).c_str());
        return 0;
    } catch (const hessfree::Error& e) {
        std::fprintf(stderr, "train_cpp: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "train_cpp: %s\n", e.what());
        return 2;
    }
}
