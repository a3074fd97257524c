"""PyTorch baseline for the GPU benchmark (a comparison only, never a dependency).

G·v on the paper's autoencoders with the chunk's activations cached (the same
algorithm as hessfree's CUDA backend: R-forward, loss Hessian, backward) and
with torch.func jvp + vjp, FP32 and TF32, timed with CUDA events.

Run on the device machine: python3 benches/gpu/torch_gv.py [mnist|curves]
Prints: case precision operation median_ms min_ms reps
"""
import sys

import torch

CASES = {
    "mnist": ([784, 1000, 500, 250, 30], 7500),
    "curves": ([784, 400, 200, 100, 50, 25, 6], 5000),
}


def time_ms(fn, warm=5, reps=50):
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return times[len(times) // 2], times[0], reps


def bench(case, encoder, n, tf32):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    dev = "cuda"
    sizes = encoder + encoder[-2::-1]
    code = len(encoder) - 1
    layers = len(sizes) - 1
    g = torch.Generator(device=dev).manual_seed(1)
    W = [torch.randn(o, i, device=dev, generator=g) * 0.05 for i, o in zip(sizes[:-1], sizes[1:])]
    b = [torch.zeros(o, device=dev) for o in sizes[1:]]
    VW = [torch.randn_like(w) for w in W]
    Vb = [torch.randn_like(x) for x in b]
    x = torch.rand(n, sizes[0], device=dev, generator=g)
    linear = lambda l: l + 1 == code

    with torch.no_grad():
        acts, derivs = [x], []
        for l in range(layers):
            z = acts[-1] @ W[l].T + b[l]
            a = z if linear(l) else torch.sigmoid(z)
            derivs.append(torch.ones_like(a) if linear(l) else a * (1 - a))
            acts.append(a)
        y = acts[-1]
        h_out = y * (1 - y)

    @torch.no_grad()
    def gv_cached():
        ra = None
        for l in range(layers):
            rz = torch.addmm(Vb[l], acts[l], VW[l].T)
            if ra is not None:
                rz.addmm_(ra, W[l].T)
            ra = rz * (h_out if l + 1 == layers else derivs[l])
        rd, out = ra, []
        for l in reversed(range(layers)):
            out.append((rd.T @ acts[l] / n, rd.sum(0) / n))
            if l > 0:
                rd = (rd @ W[l]) * derivs[l - 1]
        return out

    def z_out(params):
        a = x
        for l in range(layers):
            z = a @ params[2 * l].T + params[2 * l + 1]
            a = z if (linear(l) or l + 1 == layers) else torch.sigmoid(z)
        return a

    params = tuple(t for pair in zip(W, b) for t in pair)
    tangents = tuple(t for pair in zip(VW, Vb) for t in pair)

    def gv_func():
        z, jv = torch.func.jvp(z_out, (params,), (tangents,))
        _, vjp = torch.func.vjp(z_out, params)
        return vjp(jv * h_out / n)

    @torch.no_grad()
    def gemms_only():
        for l in range(layers):
            torch.mm(acts[l], VW[l].T)
            if l > 0:
                torch.mm(acts[l], W[l].T)
        for l in reversed(range(layers)):
            torch.mm(acts[l + 1].T, acts[l])
            if l > 0:
                torch.mm(acts[l + 1], W[l])

    prec = "tf32" if tf32 else "fp32"
    for name, fn in [("G·v torch cached", gv_cached), ("G·v torch.func jvp+vjp", gv_func),
                     ("G·v GEMMs alone", gemms_only)]:
        med, lo, reps = time_ms(fn)
        print(f"{case:<7} {prec:<5} {name:<28} {med:>9.3f} {lo:>9.3f} {reps:>5}", flush=True)


def main():
    wanted = [a for a in sys.argv[1:] if a in CASES] or list(CASES)
    print(f"# torch {torch.__version__} on {torch.cuda.get_device_name()}")
    for case in wanted:
        for tf32 in (False, True):
            bench(case, *CASES[case], tf32)


if __name__ == "__main__":
    main()
