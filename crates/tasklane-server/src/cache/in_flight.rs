//! Writes in flight in this process, per scope: the announcements of in-process
//! generations (see "Monotonic reads" in the cache's documentation). Only this process
//! writes through its generations, so only its own writes need counting.

use dashmap::DashMap;

use crate::domain::Scope;

/// How many writes are in flight in each scope, between their announcement and their
/// advance.
#[derive(Default)]
pub(super) struct InFlight {
    writing: DashMap<Scope, usize>,
}

impl InFlight {
    /// Announces a write in `scope`: until it [ends](InFlight::end), reads of the scope
    /// bypass the cache and fills in it are refused.
    pub(super) fn begin(&self, scope: &Scope) {
        *self.writing.entry(scope.clone()).or_insert(0) += 1;
    }

    /// Withdraws the announcement of one write in `scope`, once its generation advanced.
    pub(super) fn end(&self, scope: &Scope) {
        if let Some(mut count) = self.writing.get_mut(scope) {
            *count -= 1;
        }
        self.writing.remove_if(scope, |_, count| *count == 0);
    }

    /// Whether a write is in flight in `scope`.
    pub(super) fn writing(&self, scope: &Scope) -> bool {
        self.writing.contains_key(scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_is_written_until_its_last_write_ends() {
        let (scope, in_flight) = (Scope::default(), InFlight::default());
        in_flight.begin(&scope);
        in_flight.begin(&scope);
        assert!(
            !in_flight.writing(&Scope::named("other")),
            "only its own scope"
        );
        in_flight.end(&scope);
        assert!(in_flight.writing(&scope), "one write is still in flight");
        in_flight.end(&scope);
        assert!(!in_flight.writing(&scope));
    }
}
