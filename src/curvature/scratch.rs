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
//! of them and [`MAX_BYTES`] in all (the oldest go first), so the pool never
//! holds more than one large pass's outputs. [`release_pooled_buffers`] hands
//! them back to the allocator.

use parking_lot::Mutex;

/// Buffers below 1 MiB are left to malloc, which reuses its heap for them.
const MIN_FLOATS: usize = 1 << 18;
/// At most this many bytes are kept.
const MAX_BYTES: usize = 512 << 20;
/// At most this many buffers are kept.
const MAX_BUFFERS: usize = 64;

struct Pool {
    /// Oldest first.
    buffers: Vec<Vec<f32>>,
    bytes: usize,
}

static POOL: Mutex<Pool> = Mutex::new(Pool::new());

/// A buffer of `len` floats whose values are unspecified (whatever a
/// previous pass left, or zeros): for outputs that are written in full
/// before they are read.
pub(crate) fn take_for_overwrite(len: usize) -> Vec<f32> {
    if len >= MIN_FLOATS {
        let pooled = POOL.lock().take(len);
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

/// Frees every buffer the CPU passes keep for reuse (at most 512 MiB,
/// held between passes so that a pass does not fault in fresh pages for its
/// layer outputs). Training continues to work after it; the next pass just
/// allocates afresh. Returns the number of bytes released.
pub fn release_pooled_buffers() -> usize {
    let released = std::mem::replace(&mut *POOL.lock(), Pool::new());
    released.bytes
}

impl Pool {
    const fn new() -> Self {
        Pool {
            buffers: Vec::new(),
            bytes: 0,
        }
    }

    /// The pooled buffer with the smallest capacity that holds `len` floats,
    /// if one is no more than twice that large.
    fn take(&mut self, len: usize) -> Option<Vec<f32>> {
        let best = self
            .buffers
            .iter()
            .enumerate()
            .filter(|(_, v)| v.capacity() >= len && v.capacity() <= 2 * len)
            .min_by_key(|(_, v)| v.capacity())
            .map(|(i, _)| i)?;
        let v = self.buffers.remove(best);
        self.bytes -= bytes_of(&v);
        Some(v)
    }

    /// Adds `v` and returns what no longer fits, oldest first.
    fn give(&mut self, v: Vec<f32>) -> Vec<Vec<f32>> {
        self.bytes += bytes_of(&v);
        self.buffers.push(v);
        let mut evicted = Vec::new();
        while self.bytes > MAX_BYTES || self.buffers.len() > MAX_BUFFERS {
            let oldest = self.buffers.remove(0);
            self.bytes -= bytes_of(&oldest);
            evicted.push(oldest);
        }
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
        // Too small a request does not take a buffer over twice its size.
        assert!(pool.take(n / 2 - 1).is_none());
        // The best fit is taken.
        let bigger = vec![0.0f32; 2 * n];
        assert!(pool.give(bigger).is_empty());
        let w = pool.take(n - 5).expect("fits");
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
}
