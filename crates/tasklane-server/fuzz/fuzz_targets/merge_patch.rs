//! `PATCH /v1/tasks/{id}` bodies: any bytes either deserialise into a valid merge patch
//! or are refused; a valid patch applies without panicking, bumps the version exactly
//! when it changes something, keeps the task valid, and is idempotent (applying it to
//! its own result changes nothing more), as RFC 7396 merge patches are.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tasklane_server::domain::{NewTask, TaskPatch, Timestamp};

fuzz_target!(|body: &[u8]| {
    let Ok(patch) = serde_json::from_slice::<TaskPatch>(body) else {
        return;
    };
    let new: NewTask = serde_json::from_str(
        r#"{"title": "fuzzed", "labels": ["a"], "assignee": "ana", "due_at": "2026-01-01T00:00:00Z"}"#,
    )
    .expect("a valid new task");
    let task = new.into_task(Timestamp::from_micros(1_000_000).expect("in range"));
    let now = Timestamp::from_micros(2_000_000).expect("in range");
    match patch.apply(&task, now) {
        None => {}
        Some(next) => {
            assert_eq!(next.version, task.version + 1);
            assert_ne!(next, task);
            assert_eq!((next.id, next.created_at), (task.id, task.created_at));
            assert!(!next.title.trim().is_empty());
            assert!(
                patch.apply(&next, now).is_none(),
                "a merge patch is idempotent"
            );
        }
    }
});
