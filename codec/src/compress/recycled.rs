//! Chunk-sized buffers handed from one chunk to the next.
//!
//! A chunk's values and residual codes are megabytes each. Allocated afresh for every chunk,
//! they come back from the allocator as new pages that the kernel zeroes on first touch (the
//! allocator hands memory of that size back to the system, more so when, as here, it is freed
//! on another thread than the one that allocated it). Kept here between chunks, the same
//! memory serves the whole run.

use std::sync::Mutex;

/// Buffers of one element type, free for the next chunk.
pub struct Pool<T> {
    free: Mutex<Vec<Vec<T>>>,
}

/// More than the chunks in flight at once on any machine this runs on: beyond, a buffer given
/// back is simply freed.
const MOST_KEPT: usize = 64;

impl<T> Pool<T> {
    pub const fn new() -> Pool<T> {
        Pool { free: Mutex::new(Vec::new()) }
    }

    /// An empty vector with room for at least `capacity` elements: the smallest kept one that
    /// has the room, else a new one (growing a kept one would copy it).
    pub fn take(&self, capacity: usize) -> Vec<T> {
        let kept = {
            let mut free = self.free.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let roomy = (0..free.len()).filter(|&i| free[i].capacity() >= capacity);
            let smallest = roomy.min_by_key(|&i| free[i].capacity());
            smallest.map(|i| free.swap_remove(i))
        };
        let mut buffer = kept.unwrap_or_else(|| Vec::with_capacity(capacity));
        buffer.clear();
        buffer
    }

    /// A buffer no longer needed, for a later [`Pool::take`].
    pub fn give(&self, buffer: Vec<T>) {
        if buffer.capacity() == 0 {
            return;
        }
        let mut free = self.free.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if free.len() < MOST_KEPT {
            free.push(buffer);
        }
    }
}

/// Reconstructed values of a chunk, on their way to the output.
pub static VALUES: Pool<f64> = Pool::new();
/// Residual symbols of a chunk, as entropy decoding gives them.
pub static SYMBOLS: Pool<u64> = Pool::new();
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_given_back_is_taken_again_empty_and_large_enough() {
        let pool: Pool<u32> = Pool::new();
        let mut first = pool.take(100);
        assert!(first.capacity() >= 100 && first.is_empty());
        first.extend(0..100);
        let address = first.as_ptr();
        pool.give(first);
        let again = pool.take(50);
        assert_eq!((again.as_ptr(), again.len()), (address, 0));
        let fresh = pool.take(1000);
        assert!(fresh.capacity() >= 1000);
        // The smallest that has the room.
        let (small, large) = (pool.take(10), pool.take(500));
        let (small_at, large_at) = (small.as_ptr(), large.as_ptr());
        pool.give(large);
        pool.give(small);
        assert_eq!(pool.take(5).as_ptr(), small_at);
        assert_eq!(pool.take(400).as_ptr(), large_at);
    }
}
