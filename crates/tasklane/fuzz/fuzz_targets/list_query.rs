//! `GET /v1/tasks` query strings: any text either parses into a valid query or is
//! refused with a message, and a parsed query always has one canonical form (the cache
//! key and the ETag are hashed from it) within the documented bounds.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tasklane::domain::ListQuery;

fuzz_target!(|raw: &str| {
    match ListQuery::parse(raw) {
        Ok(query) => {
            assert!((1..=ListQuery::MAX_LIMIT).contains(&query.limit));
            assert!((1..=ListQuery::MAX_PAGE).contains(&query.page()));
            let again = ListQuery::parse(raw).expect("parsing is deterministic");
            assert_eq!(query.canonical(), again.canonical());
        }
        Err(error) => assert!(!error.message.is_empty()),
    }
});
