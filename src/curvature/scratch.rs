//! A small, bounded pool of the large `f32` buffers the batch passes use for
//! their per-layer outputs, so that one pass reuses the memory of the last.
//!
//! Why: a pass allocates its layer outputs fresh (a 7500-example MNIST
//! gradient about 250 MB) and frees them at its end. Buffers that large come
//! from the kernel as fresh pages each time, and the page faults and the
//! kernel's zeroing of those pages cost 6–9 % of the pass (MNIST gradient,
//! `compare ops`: 770–779 ms minimum wall, 701–726 ms with malloc told to
//! keep freed memory through `MALLOC_MMAP_THRESHOLD_`/`MALLOC_TRIM_THRESHOLD_`,
//! which a library must not set for its host process).
//!
//! Only buffers of at least [`MIN_FLOATS`] are kept, at most [`MAX_BUFFERS`]
//! of them and [`MAX_BYTES`] in all (the oldest go first); a request that
//! finds nothing large enough frees the pooled buffers smaller than itself,
//! and a buffer not reused within [`MAX_AGE`] requests is freed. The bound is
//! a trade. Training the MNIST preset on all 60000 images
//! (`benches/peak_memory.sh 1 --set cg_max_iters=10`) peaks at 680 MB
//! resident without the pool, 711–725 MB with 128 MiB, 739 MB with 256 MiB
//! and 996 MB with 512 MiB; the worst case (`--set cg_min_iters=250`) 805,
//! 850 and 864 MB without the pool, with 128 and with 256 MiB. 128 MiB could
//! not hold the outputs of one 7500-example MNIST forward pass (153 MB), so
//! each such pass still faulted in 40–60 MB of fresh pages. With 256 MiB,
//! `/usr/bin/time target/release/examples/compare ops` (two alternating
//! pairs): 327 786 → 138 742 minor page faults, 0.85–1.06 → 0.37–0.39 s of
//! system time, minimum wall of the MNIST 7500 forward 267–273 → 243–258
//! ms, gradient 727–897 → 700–756 ms.
//! [`release_pooled_buffers`] hands them back to the allocator.

use parking_lot::Mutex;

/// Buffers below 1 MiB are left to malloc, which reuses its heap for them.
const MIN_FLOATS: usize = 1 << 18;
/// At most this many bytes are kept (see the module documentation).
const MAX_BYTES: usize = 256 << 20;
/// At most this many buffers are kept.
const MAX_BUFFERS: usize = 64;

struct Pool {
    /// Oldest first, each with the value of `takes` when it was given.
    buffers: Vec<(Vec<f32>, u64)>,
    bytes: usize,
    /// Requests served or refused so far (the pool's clock).
    takes: u64,
}

static POOL: Mutex<Pool> = Mutex::new(Pool::new());

/// A buffer of `len` floats whose values are unspecified (whatever a
/// previous pass left, or zeros): for outputs that are written in full
/// before they are read.
pub(crate) fn take_for_overwrite(len: usize) -> Vec<f32> {
    if len >= MIN_FLOATS {
        let (pooled, evicted) = POOL.lock().take(len);
        // Freed outside the lock.
        drop(evicted);
        if let Some(mut v) = pooled {
            // Shorter: drop the tail; longer (within the capacity): the new
            // tail is zeros. Either way every element is initialised.
            v.resize(len, 0.0);
            return v;
        }
    }
    vec![0.0; len]
}

/// Keeps `v` for a later [`take_for_overwrite`] (or frees it when it is
/// small or the pool is full).
pub(crate) fn give(v: Vec<f32>) {
    if v.capacity() >= MIN_FLOATS {
        // Whatever the pool evicts is freed after the lock is released.
        let evicted = POOL.lock().give(v);
        drop(evicted);
    }
}

/// Frees every buffer the CPU passes keep for reuse (at most 256 MiB,
/// held between passes so that a pass does not fault in fresh pages for its
/// layer outputs). Training continues to work after it; the next pass just
/// allocates afresh. Returns the number of bytes released.
pub fn release_pooled_buffers() -> usize {
    let released = std::mem::replace(&mut *POOL.lock(), Pool::new());
    released.bytes
}

/// A pooled buffer not reused within this many requests is freed: it
/// belongs to a pass of another shape, and keeping it would only add to the
/// peak memory of the passes that follow.
const MAX_AGE: u64 = 64;

impl Pool {
    const fn new() -> Self {
        Pool {
            buffers: Vec::new(),
            bytes: 0,
            takes: 0,
        }
    }

    /// The pooled buffer with the smallest capacity that holds `len` floats,
    /// if one is no more than twice that large; and the buffers to free.
    ///
    /// On a miss the working set is growing (a larger chunk, a longer pass):
    /// every pooled buffer too small for this request goes, so that memory
    /// kept for the old shapes does not stack on top of the new ones. Stale
    /// buffers (see [`MAX_AGE`]) go too.
    fn take(&mut self, len: usize) -> (Option<Vec<f32>>, Vec<Vec<f32>>) {
        self.takes += 1;
        let best = self
            .buffers
            .iter()
            .enumerate()
            .filter(|(_, (v, _))| v.capacity() >= len && v.capacity() <= 2 * len)
            .min_by_key(|(_, (v, _))| v.capacity())
            .map(|(i, _)| i);
        let found = best.map(|i| {
            let (v, _) = self.buffers.remove(i);
            self.bytes -= bytes_of(&v);
            v
        });
        let now = self.takes;
        let keep = |(v, given): &(Vec<f32>, u64)| {
            now - given <= MAX_AGE && (found.is_some() || v.capacity() >= len)
        };
        let evicted = self.evict_unless(keep);
        (found, evicted)
    }

    /// Adds `v` and returns what no longer fits, oldest first.
    fn give(&mut self, v: Vec<f32>) -> Vec<Vec<f32>> {
        self.bytes += bytes_of(&v);
        self.buffers.push((v, self.takes));
        let mut evicted = Vec::new();
        while self.bytes > MAX_BYTES || self.buffers.len() > MAX_BUFFERS {
            let (oldest, _) = self.buffers.remove(0);
            self.bytes -= bytes_of(&oldest);
            evicted.push(oldest);
        }
        evicted
    }

    /// Removes and returns the buffers for which `keep` is false.
    fn evict_unless(&mut self, keep: impl Fn(&(Vec<f32>, u64)) -> bool) -> Vec<Vec<f32>> {
        // The common case, on every request: nothing to evict, no allocation.
        if self.buffers.iter().all(&keep) {
            return Vec::new();
        }
        let (kept, evicted): (Vec<_>, Vec<_>) = std::mem::take(&mut self.buffers)
            .into_iter()
            .partition(|entry| keep(entry));
        self.buffers = kept;
        let evicted: Vec<Vec<f32>> = evicted.into_iter().map(|(v, _)| v).collect();
        self.bytes -= evicted.iter().map(bytes_of).sum::<usize>();
        evicted
    }
}

fn bytes_of(v: &Vec<f32>) -> usize {
    v.capacity() * std::mem::size_of::<f32>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_by_size_and_bounded() {
        // A pool of its own: the global one is shared with concurrent tests.
        let mut pool = Pool::new();
        let n = MIN_FLOATS * 4;
        let v = vec![1.0f32; n];
        let ptr = v.as_ptr();
        assert!(pool.give(v).is_empty());
        // Too small a request does not take a buffer over twice its size
        // (and evicts nothing: the pooled buffer is larger).
        let (none, evicted) = pool.take(n / 2 - 1);
        assert!(none.is_none() && evicted.is_empty());
        // The best fit is taken.
        assert!(pool.give(vec![0.0f32; 2 * n]).is_empty());
        let (w, evicted) = pool.take(n - 5);
        let w = w.expect("fits");
        assert!(evicted.is_empty());
        assert_eq!(w.as_ptr(), ptr);
        assert_eq!(pool.bytes, 2 * n * 4);
        assert!(pool.give(w).is_empty());
        // The bound evicts the oldest first.
        let big = MAX_BYTES / 4 / 2;
        let mut evicted = Vec::new();
        for _ in 0..3 {
            evicted.extend(pool.give(vec![0.0f32; big]));
        }
        assert!(pool.bytes <= MAX_BYTES, "{} bytes pooled", pool.bytes);
        assert!(evicted.iter().any(|v| v.as_ptr() == ptr), "oldest evicted");
        // The global functions: a taken buffer has the requested length.
        let g = take_for_overwrite(n);
        assert_eq!(g.len(), n);
        give(g);
        assert_eq!(take_for_overwrite(10).len(), 10);
    }

    #[test]
    fn a_growing_working_set_frees_the_buffers_it_outgrew() {
        let mut pool = Pool::new();
        let n = MIN_FLOATS * 4;
        for _ in 0..3 {
            assert!(pool.give(vec![0.0f32; n]).is_empty());
        }
        assert!(pool.give(vec![0.0f32; 4 * n]).is_empty());
        // A miss for a larger buffer: the three that are too small go, the
        // larger one stays.
        let (found, evicted) = pool.take(3 * n / 2);
        assert!(found.is_none());
        assert_eq!(evicted.len(), 3);
        assert_eq!(pool.buffers.len(), 1);
        assert_eq!(pool.bytes, 4 * n * 4);
        // A buffer not reused within MAX_AGE requests goes.
        for _ in 0..MAX_AGE {
            let (hit, evicted) = pool.take(2 * n);
            assert!(evicted.is_empty());
            assert!(pool.give(hit.expect("the large buffer fits")).is_empty());
        }
        let (_, evicted) = pool.take(2 * n);
        assert!(evicted.is_empty(), "a buffer reused every time stays");
        let mut stale = Pool::new();
        assert!(stale.give(vec![0.0f32; n]).is_empty());
        for _ in 0..MAX_AGE {
            let _ = stale.take(n / 4);
        }
        assert_eq!(stale.buffers.len(), 1, "still within its age");
        let (_, evicted) = stale.take(n / 4);
        assert_eq!(evicted.len(), 1, "older than MAX_AGE requests");
        assert_eq!(stale.bytes, 0);
    }
}
