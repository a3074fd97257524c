// The canonical cross-binding run (issue 6) through bindings/cpp/hessfree.hpp:
// the same run as tests/c/canonical.c, printing the same line
//
//   CANONICAL <final objective> <final train error> <final test error>
//
// with each number as "%.17g" (tests/c_api.rs checks the two lines are
// identical). Exit status 0 on success; on an error it prints the exception
// to stderr and exits 1.
#include <cstdio>
#include <exception>
#include <vector>

#include "hessfree.hpp"

int main() {
    try {
        const std::size_t n_all = 400, n_train = 300, dim = 784;
        const hessfree::Data all = hessfree::Data::curves(n_all, 7);
        const std::vector<float> x = all.inputs();
        const hessfree::Data train = hessfree::Data::autoencoder(n_train, dim, x.data(), n_train * dim);
        const hessfree::Data test = hessfree::Data::autoencoder(
            n_all - n_train, dim, x.data() + n_train * dim, (n_all - n_train) * dim);
        const hessfree::Net net = hessfree::Net::autoencoder({784, 32, 6}, HF_ACT_LOGISTIC, 11);
        hessfree::Config cfg;
        cfg.set("chunk_size", 150).set("threads", 1).set("max_iters", 3).set("backend", "cpu");
        hessfree::Session session(net, train, test, cfg);
        const hf_summary s = session.run();
        std::printf("CANONICAL %.17g %.17g %.17g\n", s.final_objective, s.final_train_error,
                    s.final_test_error);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "canonical_cpp: %s\n", e.what());
        return 1;
    }
}
