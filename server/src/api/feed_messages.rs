//! Cuts the feed's visible changes into stream messages so that their shape depends only on
//! what the caller is shown: changes are buffered across log pages and sent in groups of a fixed
//! number (or by encoded size), never one message per log page, since how many log entries a
//! page needed to find its visible changes would count the caller's invisible ones. Pull's last
//! message is always a separate empty one marked complete, for the same reason.

use std::collections::VecDeque;

use prost::Message;
use slt_proto::v1 as pb;

/// Most bytes of changes in one message, well under the 4 MiB message limit.
pub const MAX_MESSAGE_CHANGE_BYTES: usize = 3 * 1024 * 1024;

/// One visible change waiting to be sent, with the log page it came from.
struct Waiting {
    change: pb::Change,
    /// The log position before its page (re-reading from there sends it again).
    page_before: i64,
    /// The log position after its page.
    page_after: i64,
    /// Whether it is the last change of its page.
    last_of_page: bool,
}

/// Changes read but not sent yet.
#[derive(Default)]
pub struct Pending {
    waiting: VecDeque<Waiting>,
}

/// One message: changes and the log position its cursor stands for.
pub struct Outgoing {
    pub changes: Vec<pb::Change>,
    pub cursor_seq: i64,
}

impl Pending {
    /// Adds the visible changes of one log page (`before`..`after`).
    pub fn push_page(&mut self, changes: Vec<pb::Change>, before: i64, after: i64) {
        let count = changes.len();
        for (index, change) in changes.into_iter().enumerate() {
            self.waiting.push_back(Waiting {
                change,
                page_before: before,
                page_after: after,
                last_of_page: index + 1 == count,
            });
        }
    }

    /// The next message: `group` changes (fewer if the byte limit is reached first), or with
    /// `flush` whatever waits; `None` when there is not enough. Its cursor covers every change
    /// sent so far: after the last change's page when that page is all sent, otherwise before
    /// it (a client resuming there gets part of the page again, which is harmless).
    pub fn next(&mut self, group: usize, flush: bool) -> Option<Outgoing> {
        if self.waiting.is_empty() || (!flush && self.waiting.len() < group.max(1)) {
            return None;
        }
        let mut changes = Vec::new();
        let mut size = 0;
        let mut cursor_seq = 0;
        while let Some(next) = self.waiting.front() {
            let length = next.change.encoded_len();
            let full = changes.len() >= group.max(1)
                || (size + length > MAX_MESSAGE_CHANGE_BYTES && !changes.is_empty());
            if full {
                break;
            }
            let Some(waiting) = self.waiting.pop_front() else {
                break;
            };
            size += length;
            cursor_seq = if waiting.last_of_page {
                waiting.page_after
            } else {
                waiting.page_before
            };
            changes.push(waiting.change);
        }
        Some(Outgoing {
            changes,
            cursor_seq,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(bytes: usize) -> pb::Change {
        pb::Change {
            r#type: pb::ChangeType::Upsert as i32,
            incident_id: "x".repeat(bytes),
            ..Default::default()
        }
    }

    #[test]
    fn groups_do_not_follow_log_pages() {
        let mut pending = Pending::default();
        pending.push_page(vec![change(1)], 0, 10);
        pending.push_page(vec![change(1), change(1)], 10, 900);
        assert!(pending.next(2, false).map(|m| m.changes.len()) == Some(2));
        let last = pending.next(2, true).expect("flushed");
        assert_eq!((last.changes.len(), last.cursor_seq), (1, 900));
        assert!(pending.next(2, true).is_none());
    }

    #[test]
    fn a_message_inside_a_page_resumes_before_it() {
        let mut pending = Pending::default();
        pending.push_page(vec![change(1), change(1), change(1)], 5, 9);
        assert_eq!(pending.next(2, false).map(|m| m.cursor_seq), Some(5));
        assert_eq!(pending.next(2, true).map(|m| m.cursor_seq), Some(9));
    }

    #[test]
    fn messages_are_cut_by_encoded_size() {
        let mut pending = Pending::default();
        let big = || change(1024 * 1024);
        pending.push_page(vec![big(), big(), big(), big()], 0, 4);
        let mut sizes = Vec::new();
        while let Some(message) = pending.next(500, true) {
            assert!(
                message
                    .changes
                    .iter()
                    .map(Message::encoded_len)
                    .sum::<usize>()
                    <= MAX_MESSAGE_CHANGE_BYTES
            );
            sizes.push(message.changes.len());
        }
        assert_eq!(sizes, [2, 2]);
    }
}
