//! Redis URLs: checked when the options are read, and shown only without their
//! password.

use std::fmt;
use std::str::FromStr;

use redis::IntoConnectionInfo;

/// A Redis URL the Redis client can connect with. `Display` and `Debug` show where it
/// points (`redis://HOST:PORT/DB`), never its password.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(String);

impl RedisUrl {
    /// The URL as given, to connect with (never to log: it may hold a password).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for RedisUrl {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        text.into_connection_info()
            .map(|_| RedisUrl(text.to_owned()))
            .map_err(|_| {
                "expected redis://HOST:PORT/DB (redis://:PASSWORD@HOST:PORT/DB with a password, \
                 redis+unix:///PATH for a socket)"
                    .to_owned()
            })
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_str().into_connection_info() {
            Ok(info) => write!(f, "redis://{}/{}", info.addr(), info.redis_settings().db()),
            Err(_) => f.write_str("(unparsable)"),
        }
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redis_url_that_does_not_parse_says_what_is_expected() {
        assert!("redis://127.0.0.1:6379/2".parse::<RedisUrl>().is_ok());
        let error = "127.0.0.1:6379".parse::<RedisUrl>().unwrap_err();
        assert!(
            error.starts_with("expected redis://HOST:PORT/DB"),
            "{error}"
        );
    }

    #[test]
    fn a_redis_url_is_shown_without_its_password() {
        let url: RedisUrl = "redis://:s3cret@127.0.0.1:6379/2".parse().unwrap();
        assert_eq!(url.to_string(), "redis://127.0.0.1:6379/2");
        assert!(!format!("{url:?}").contains("s3cret"));
    }
}
