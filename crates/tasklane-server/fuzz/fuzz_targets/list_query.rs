//! `GET /v1/tasks` query strings: any text either parses into a valid query or is
//! refused with a message, and a parsed query always has one canonical form (the cache
//! key and the ETag are hashed from it) within the documented bounds.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tasklane_server::domain::{CursorKey, ListQuery};

fuzz_target!(|raw: &str| {
    static KEY: OnceLock<CursorKey> = OnceLock::new();
    let key = KEY.get_or_init(CursorKey::generate);
    match ListQuery::parse(raw, key) {
        Ok(query) => {
            assert!((1..=ListQuery::MAX_LIMIT).contains(&query.limit));
            assert!((1..=ListQuery::MAX_PAGE).contains(&query.page()));
            assert!(query.filter.labels.len() <= ListQuery::MAX_LABELS);
            let again = ListQuery::parse(raw, key).expect("parsing is deterministic");
            assert_eq!(query.canonical(), again.canonical());
        }
        Err(error) => assert!(!error.message.is_empty()),
    }
});
