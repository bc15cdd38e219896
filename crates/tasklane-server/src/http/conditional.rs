//! Conditional request headers (RFC 9110 §13): `If-None-Match` and `If-Match`.

use axum::http::{HeaderMap, HeaderName, StatusCode, header};

use super::problem::Problem;
use crate::cache::ETag;
use crate::store::Precondition;

/// The entity tags a conditional header lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntityTags {
    /// `*`
    Any,
    /// `"a", W/"b"`
    List(Vec<ETag>),
}

impl EntityTags {
    /// `If-None-Match` semantics: weak comparison, `*` matches any current representation.
    pub fn has_weakly(&self, etag: &ETag) -> bool {
        match self {
            EntityTags::Any => true,
            EntityTags::List(tags) => tags.iter().any(|tag| tag.opaque() == etag.opaque()),
        }
    }
}

/// The `If-None-Match` header, if sent.
pub fn if_none_match(headers: &HeaderMap) -> Result<Option<EntityTags>, Problem> {
    entity_tags(headers, header::IF_NONE_MATCH)
}

/// The precondition `If-Match` sets on a write: strong comparison against the task's
/// version, so a weak or non-version tag never matches (and the write answers `412`).
pub fn if_match(headers: &HeaderMap) -> Result<Precondition, Problem> {
    Ok(match entity_tags(headers, header::IF_MATCH)? {
        None => Precondition::None,
        Some(EntityTags::Any) => Precondition::Exists,
        Some(EntityTags::List(tags)) => Precondition::VersionIn(
            tags.iter()
                .filter(|tag| !tag.is_weak())
                .filter_map(|tag| tag.opaque().parse().ok())
                .collect(),
        ),
    })
}

fn entity_tags(headers: &HeaderMap, name: HeaderName) -> Result<Option<EntityTags>, Problem> {
    let mut tags = Vec::new();
    let mut any = false;
    for value in headers.get_all(&name) {
        let bad = || {
            Problem::new(
                StatusCode::BAD_REQUEST,
                format!("{name}: expected `*` or quoted entity tags"),
            )
            .at(name.as_str())
        };
        let text = value.to_str().map_err(|_| bad())?;
        if text.trim() == "*" {
            any = true;
            continue;
        }
        tags.extend(parse_list(text).ok_or_else(bad)?);
    }
    Ok(match (any, tags.is_empty()) {
        (true, _) => Some(EntityTags::Any),
        (false, true) if headers.get(&name).is_none() => None,
        (false, _) => Some(EntityTags::List(tags)),
    })
}

/// Parses `"a", W/"b"` (entity tags may contain commas, so this is not a split).
fn parse_list(mut text: &str) -> Option<Vec<ETag>> {
    let mut tags = Vec::new();
    loop {
        text = text.trim_start_matches([' ', '\t', ',']);
        if text.is_empty() {
            return Some(tags);
        }
        let (weak, rest) = match text.strip_prefix("W/") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let rest = rest.strip_prefix('"')?;
        let end = rest.find('"')?;
        let opaque = &rest[..end];
        tags.push(if weak {
            ETag::weak(opaque)
        } else {
            ETag::strong(opaque)
        });
        text = &rest[end + 1..];
        if !(text.is_empty() || text.starts_with([' ', '\t', ','])) {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: HeaderName, value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(name, value.parse().unwrap());
        map
    }

    #[test]
    fn if_match_compares_strongly_against_versions() {
        assert_eq!(if_match(&HeaderMap::new()).unwrap(), Precondition::None);
        assert_eq!(
            if_match(&headers(header::IF_MATCH, "*")).unwrap(),
            Precondition::Exists
        );
        assert_eq!(
            if_match(&headers(header::IF_MATCH, r#""3", W/"4", "x,y", "5""#)).unwrap(),
            Precondition::VersionIn(vec![3, 5])
        );
        assert!(if_match(&headers(header::IF_MATCH, "3")).is_err());
        assert!(if_match(&headers(header::IF_MATCH, r#""3"x"#)).is_err());
    }

    #[test]
    fn if_none_match_compares_weakly() {
        let tags = if_none_match(&headers(header::IF_NONE_MATCH, r#"W/"a-1", "b""#))
            .unwrap()
            .unwrap();
        assert!(tags.has_weakly(&ETag::weak("a-1")));
        assert!(tags.has_weakly(&ETag::weak("b")));
        assert!(!tags.has_weakly(&ETag::weak("a-2")));
        assert_eq!(if_none_match(&HeaderMap::new()).unwrap(), None);
    }
}
