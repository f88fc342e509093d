//! Message and channel ids: unique strings (JS uses cuids; any unique string
//! will do). A per-process start stamp keeps ids unique across restarts.

use std::time::{SystemTime, UNIX_EPOCH};

/// Makes unique message ids for one clone.
pub(super) struct MessageIds {
    prefix: String,
    next: u64,
}

impl MessageIds {
    pub(super) fn new(clone_id: &str) -> Self {
        let stamp = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
        // Ids go to other clones; keep them short and free of odd characters
        let short: String = clone_id.chars().filter(char::is_ascii_alphanumeric).take(8).collect();
        MessageIds { prefix: format!("m{short}{stamp:x}"), next: 0 }
    }

    pub(super) fn next(&mut self) -> String {
        self.next += 1;
        format!("{}{:x}", self.prefix, self.next)
    }
}
