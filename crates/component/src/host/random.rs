//! The host's random source.

/// `len` fresh random bytes, in one host call.
pub fn bytes(len: usize) -> Vec<u8> {
    spin_sdk::wasip3::random::random::get_random_bytes(len as u64)
}
