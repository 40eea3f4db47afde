//! The recordings "database" of the examples, shared with the load
//! benchmark's bare server (`bare_api`) so that both run the very same handler code.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

/// The recordings "database": ids only.
#[derive(Default)]
pub struct Recordings {
    next_id: AtomicU64,
}

impl Recordings {
    pub fn list(&self) -> Value {
        json!([{ "id": 0, "title": "Welcome to tokenguard" }])
    }

    /// Creates a recording from an optional JSON object body.
    pub fn create(&self, body: &[u8]) -> Result<Value, Value> {
        if !body.iter().all(u8::is_ascii_whitespace) {
            match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(_)) => {}
                _ => {
                    return Err(json!({
                        "error": "invalid_request",
                        "error_description": "the body must be a JSON object"
                    }));
                }
            }
        }
        Ok(json!({ "id": self.next_id.fetch_add(1, Ordering::Relaxed) + 1 }))
    }
}
