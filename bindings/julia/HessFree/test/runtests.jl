# Tests of the Julia binding. NOT run in CI (no Julia runtime there): run them
# by hand with the library built (see ../README.md):
#
#   HESSFREE_LIB=$PWD/target/release/libhessfree.so \
#       julia --project=bindings/julia/HessFree -e 'using Pkg; Pkg.test()'
#
# With HESSFREE_CANONICAL set to the line tests/c/canonical.c prints, the
# canonical run is also compared with it, bit for bit.
using Printf
using Test
using HessFree
const H = HessFree

@testset "HessFree" begin
    @testset "version and constants" begin
        @test H.version() isa VersionNumber
        @test status_name(H.HF_ERR_SHAPE_MISMATCH) == "HF_ERR_SHAPE_MISMATCH"
        @test termination_str(H.HF_TERMINATION_MAX_ITERATIONS) ==
              "maximum number of iterations reached"
    end

    @testset "training reduces the error" begin
        train = curves(300, 1)
        test = curves(100, 2)
        net = autoencoder([784, 32, 6], H.HF_ACT_LOGISTIC, 1)
        @test layer_sizes(net) == [784, 32, 6, 32, 784]
        before = evaluate(net, train)
        cfg = Config(chunk_size = 150, max_iters = 4, backend = "cpu")
        @test cfg["chunk_size"] == 150 && cfg["backend"] == "cpu"
        s = Session(net, train; test = test, config = cfg)
        seen = Int[]
        summary = run!(s; progress = r -> (push!(seen, Int(r.iteration)); false))
        @test seen == [1, 2, 3, 4]
        @test summary.termination == H.HF_TERMINATION_MAX_ITERATIONS
        @test summary.final_train_error < 0.9 * before.error
        @test isfinite(summary.final_test_error)
        trained = copy_net(s)
        @test params(trained) == params(s)
        @test abs(evaluate(trained, train).error - summary.final_train_error) <=
              1e-4 * summary.final_train_error
        @test occursin("maximum number of iterations", summary_text(s))
        @test startswith(report_text(s), "iter ")
        # A progress function returning true stops the run.
        cfg["max_iters"] = 10
        set_config!(s, cfg)
        sum2 = run!(s; progress = r -> true)
        @test sum2.iterations == 1 && sum2.termination == H.HF_TERMINATION_CALLBACK_STOP
    end

    @testset "errors carry status and message" begin
        x = rand(Float32, 3, 4)  # 4 examples of 3 values, one per column
        d = Data(x)
        @test data_size(d) == (n = 4, input_dim = 3, target_dim = 3)
        @test inputs(d) == x
        # Wrong shapes.
        e = try
            Data(x, rand(Float32, 3, 5))
        catch err
            err
        end
        @test e isa HessFreeError && e.status == H.HF_ERR_SHAPE_MISMATCH
        @test occursin("targets_len", e.message)
        # NaN data.
        x[2, 3] = NaN
        e = try
            Data(x)
        catch err
            err
        end
        @test e isa HessFreeError && e.status == H.HF_ERR_NON_FINITE
        # Unknown option: the message names it.
        cfg = Config()
        e = try
            cfg["chunk_sise"] = 5
        catch err
            err
        end
        @test e isa HessFreeError && e.status == H.HF_ERR_UNKNOWN_KEY
        @test occursin("chunk_sise", e.message)
        @test_throws HessFreeError (cfg["initial_lambda"] = -1.0)
        # A float key accepts an integer value.
        cfg["initial_lambda"] = 2
        @test cfg["initial_lambda"] === 2.0
        # Freed object.
        net = Net([3, 2, 3], [H.HF_ACT_TANH, H.HF_ACT_LINEAR], 1)
        @test num_params(net) == 3 * 2 + 2 + 2 * 3 + 3
        close(net)
        @test !isopen(net)
        e = try
            num_params(net)
        catch err
            err
        end
        @test e isa HessFreeError && e.status == H.HF_ERR_NULL_POINTER
        close(net)  # a second close is harmless
    end

    @testset "an exception in a progress function" begin
        train = curves(40, 4)
        net = autoencoder([784, 8, 3], H.HF_ACT_LOGISTIC, 4)
        s = Session(net, train; config = Config(max_iters = 10, chunk_size = 20, backend = "cpu"))
        calls = Ref(0)
        @test_throws DomainError run!(s; progress = r -> (calls[] += 1) == 2 ?
                                                         throw(DomainError(r.iteration)) : false)
        @test calls[] == 2 && iteration(s) == 2
        @test run!(s; progress = r -> true).iterations == 1  # still usable
    end

    @testset "host objective: least squares" begin
        m, d = 30, 4
        A = [sin(1.3 * i + 0.9 * j * j + 0.2) + (j == i % d ? 1.5 : 0.0) for i in 0:(m - 1), j in 0:(d - 1)]
        xtrue = [1.0, -2.0, 0.5, 3.0]
        b = A * xtrue
        chunk = Ref(1:m)
        fail = Ref(false)
        obj = HostObjective(
            num_params = d, num_examples = m,
            loss_grad = (θ, g, s) -> begin
                fail[] && error("loss_grad failed on purpose")
                r = A * Float64.(θ) - b
                g === nothing || (g .= Float32.(A' * r ./ m))
                sum(abs2, r) / (2m)
            end,
            set_chunk = (θ, c, kind) -> (chunk[] = c; nothing),
            curvature_product = (v, out) -> begin
                Ac = A[chunk[], :]
                out .= Float32.(Ac' * (Ac * Float64.(v)) ./ length(chunk[]))
                nothing
            end)
        s = Session(obj, zeros(Float32, d); config = Config(initial_lambda = 1.0, max_iters = 30))
        @test backend_name(s) == "host objective (callbacks)"
        summary = run!(s)
        @test maximum(abs.(params(s) .- xtrue)) < 1e-3
        fail[] = true
        @test_throws ErrorException step!(s)
        fail[] = false
        @test step!(s).iteration == 31
        e = try
            copy_net(s)
        catch err
            err
        end
        @test e isa HessFreeError && e.status == H.HF_ERR_UNSUPPORTED
    end

    @testset "canonical run" begin
        all = curves(400, 7)
        x = inputs(all)
        train = Data(x[:, 1:300])
        test = Data(x[:, 301:400])
        net = autoencoder([784, 32, 6], H.HF_ACT_LOGISTIC, 11)
        cfg = Config(chunk_size = 150, threads = 1, max_iters = 3, backend = "cpu")
        s = run!(Session(net, train; test = test, config = cfg))
        f(v) = @sprintf("%.17g", v)
        line = "CANONICAL $(f(s.final_objective)) $(f(s.final_train_error)) $(f(s.final_test_error))"
        println(line)
        expected = get(ENV, "HESSFREE_CANONICAL", "")
        if isempty(expected)
            @info "HESSFREE_CANONICAL not set: the canonical line was printed, not compared"
        else
            @test line == expected
        end
    end
end
