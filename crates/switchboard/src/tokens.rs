//! What a tool definition costs a model's context: its size in tokens (OpenAI's `o200k_base`
//! encoding, through `tiktoken-rs`: an estimate, since each model family tokenizes a little
//! differently) and in bytes, of the JSON a client receives in `tools/list`.
//!
//! Counts are cached by the text's hash, so a catalog is tokenized once, not on every dashboard
//! refresh. The encoder itself is large (o200k's 200,000 ranks: about 47 MB once loaded), so it
//! is loaded only to count what the cache lacks and let go again when the caller is done
//! ([`TokenCounter::release`]); a catalog that changed costs one load (a fraction of a second)
//! the next time its cost is asked.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use serde::Serialize;
use tiktoken_rs::CoreBPE;

/// Tokens and bytes of something a client receives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Cost {
    pub tokens: u64,
    pub bytes: u64,
}

impl std::ops::Add for Cost {
    type Output = Cost;
    fn add(self, other: Cost) -> Cost {
        Cost {
            tokens: self.tokens + other.tokens,
            bytes: self.bytes + other.bytes,
        }
    }
}

impl std::iter::Sum for Cost {
    fn sum<I: Iterator<Item = Cost>>(iter: I) -> Cost {
        iter.fold(Cost::default(), |a, b| a + b)
    }
}

/// Cached texts at most; past this the cache starts over (catalogs are far smaller).
const CACHE_MAX: usize = 20_000;

/// Counts tokens; one per gateway, shared by the API's handlers.
#[derive(Default)]
pub struct TokenCounter {
    /// Loaded while counting (see [`TokenCounter::release`]).
    encoder: Mutex<Option<CoreBPE>>,
    cache: Mutex<HashMap<u64, u64>>,
}

impl TokenCounter {
    /// The cost of `value`'s JSON as sent.
    pub fn cost(&self, value: &impl Serialize) -> Cost {
        let text = serde_json::to_string(value).unwrap_or_default();
        Cost {
            tokens: self.tokens(&text),
            bytes: text.len() as u64,
        }
    }

    /// The tokens of `text` (0 if the encoder could not be loaded, which the embedded data
    /// rules out).
    pub fn tokens(&self, text: &str) -> u64 {
        let key = {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            text.hash(&mut hasher);
            hasher.finish()
        };
        if let Some(n) = self.lock().get(&key) {
            return *n;
        }
        let n = {
            let mut encoder = self.encoder.lock().unwrap_or_else(|p| p.into_inner());
            if encoder.is_none() {
                match tiktoken_rs::o200k_base() {
                    Ok(loaded) => *encoder = Some(loaded),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot load the o200k tokenizer; token counts are 0")
                    }
                }
            }
            encoder
                .as_ref()
                .map_or(0, |encoder| encoder.encode_ordinary(text).len() as u64)
        };
        let mut cache = self.lock();
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert(key, n);
        n
    }

    /// Lets the encoder go if it was loaded (the counts stay cached), and gives the memory back
    /// to the system: call when done counting.
    pub fn release(&self) {
        let dropped = self
            .encoder
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .is_some();
        if dropped {
            // The encoder's many small allocations would stay in the RSS.
            crate::heap::give_back_freed();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, u64>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_counted_with_o200k_and_cached() {
        let counter = TokenCounter::default();
        // "hello world" is two tokens in every OpenAI encoding.
        assert_eq!(counter.tokens("hello world"), 2);
        counter.release();
        assert_eq!(
            counter.tokens("hello world"),
            2,
            "from the cache, after the release"
        );
        let cost = counter.cost(&serde_json::json!({ "name": "echo" }));
        assert_eq!(cost.bytes, 15);
        assert!(cost.tokens >= 4 && cost.tokens <= 8, "{cost:?}");
    }
}
