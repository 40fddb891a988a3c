//! Receive buffers that stay warm: each socket reads into buffers from its own small
//! pool, and a `message` that holds a buffer gives it back when its last copy is
//! dropped. Fresh buffers would cost a page fault per 4 KiB on every read (the
//! allocator hands freed memory of a worker thread back to the system), a fifth of
//! the time of bulk TCP. Small reads are copied out instead, so a kept message
//! never pins a whole buffer.

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

/// Reads of at most this many bytes are copied into a message of their own size.
const COPY_AT_MOST: usize = 4 * 1024;

/// Idle buffers a pool keeps: the one read into next and one on its way back.
/// Streams take a large read at a time and callbacks handle it at once, so that is
/// all a steady flow reuses; more would only hold memory on every idle socket.
const KEEP: usize = 2;

/// Buffers of one size, kept for reuse.
pub(crate) struct BufferPool {
    size: usize,
    free: Mutex<Vec<Vec<u8>>>,
}

impl BufferPool {
    /// A pool of buffers of `size` bytes.
    pub(crate) fn new(size: usize) -> Arc<Self> {
        Arc::new(Self {
            size,
            free: Mutex::new(Vec::new()),
        })
    }

    /// An empty buffer with room for `size` bytes, reused if one is idle.
    pub(crate) fn take(&self) -> Vec<u8> {
        let reused = self
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        reused.unwrap_or_else(|| Vec::with_capacity(self.size))
    }

    fn give_back(&self, mut buffer: Vec<u8>) {
        buffer.clear();
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        if free.len() < KEEP {
            free.push(buffer);
        }
    }

    /// The bytes read into `buffer`, as a message; `buffer` is left empty and ready
    /// for the next read (the same one if the bytes were copied out, else another).
    pub(crate) fn message(self: &Arc<Self>, buffer: &mut Vec<u8>) -> Bytes {
        if buffer.len() <= COPY_AT_MOST {
            let message = Bytes::copy_from_slice(buffer);
            buffer.clear();
            return message;
        }
        let full = std::mem::replace(buffer, self.take());
        Bytes::from_owner(Pooled {
            buffer: full,
            pool: Arc::clone(self),
        })
    }
}

/// A buffer lent to a message; back to its pool on drop.
struct Pooled {
    buffer: Vec<u8>,
    pool: Arc<BufferPool>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buffer
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.buffer));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_reads_are_copied_and_the_buffer_kept() {
        let pool = BufferPool::new(64 * 1024);
        let mut buffer = pool.take();
        buffer.extend_from_slice(b"hello");
        let address = buffer.as_ptr();
        let message = pool.message(&mut buffer);
        assert_eq!(&message[..], b"hello");
        assert!(buffer.is_empty());
        assert_eq!(buffer.as_ptr(), address);
    }

    #[test]
    fn large_reads_lend_the_buffer_until_the_message_is_dropped() {
        let pool = BufferPool::new(64 * 1024);
        let mut buffer = pool.take();
        buffer.resize(COPY_AT_MOST + 1, 7);
        let lent = buffer.as_ptr();
        let message = pool.message(&mut buffer);
        assert_eq!(message.as_ptr(), lent);
        assert_ne!(buffer.as_ptr(), lent);
        let copy = message.clone();
        drop(message);
        let other = pool.take();
        assert_ne!(other.as_ptr(), lent, "a clone still holds it");
        drop(copy);
        let reused = pool.take();
        assert_eq!(reused.as_ptr(), lent);
        assert!(reused.is_empty() && reused.capacity() >= 64 * 1024);
    }

    #[test]
    fn keeps_at_most_its_limit() {
        let pool = BufferPool::new(8 * 1024);
        let messages: Vec<Bytes> = (0..KEEP + 2)
            .map(|_| {
                let mut buffer = pool.take();
                buffer.resize(8 * 1024, 0);
                pool.message(&mut buffer)
            })
            .collect();
        drop(messages);
        assert_eq!(pool.free.lock().unwrap().len(), KEEP);
    }
}
