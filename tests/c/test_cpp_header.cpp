// The C header used from C++17 (-Wall -Wextra -Werror -pedantic): it must
// compile without the extern "C" wrapper being added by hand, and link.
#include <cstdint>
#include <string>
#include <vector>

#include "check.h"

int main() {
    CHECK_STR(hf_version(), HF_VERSION_STRING);
    CHECK_STR(hf_status_str(HF_ERR_SHAPE_MISMATCH), "HF_ERR_SHAPE_MISMATCH");

    std::vector<double> x = {1, 2, 3, 4, 5, 6};
    hf_data *d = nullptr;
    CHECK_OK(hf_data_new_autoencoder_f64(3, 2, x.data(), x.size(), &d));
    std::size_t n = 0, di = 0, dt = 0;
    CHECK_OK(hf_data_size(d, &n, &di, &dt));
    CHECK(n == 3 && di == 2 && dt == 2);
    CHECK_ERR(hf_data_new_autoencoder_f64(3, 2, x.data(), 5, &d), HF_ERR_SHAPE_MISMATCH,
              "inputs_len is 5");
    std::string message = last_error();
    CHECK(message.rfind("hf_data_new_autoencoder_f64: ", 0) == 0);
    CHECK_OK(hf_data_free(d));
    CHECK_ERR(hf_data_size(d, &n, &di, &dt), HF_ERR_INVALID_HANDLE, "already been freed");
    return check_summary("test_cpp_header");
}
