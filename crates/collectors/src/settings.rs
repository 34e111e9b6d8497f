//! Configuration values that are checked as they are read: a source's settings that parse
//! are settings it can use, so `keytrail config check` and every job reject the same files,
//! at the same key.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};

/// An `http://` or `https://` URL with a host: a service endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpUrl(String);

impl HttpUrl {
    /// Checks `text` is an http(s) URL with a host.
    pub fn parse(text: &str) -> Result<Self, String> {
        match reqwest::Url::parse(text) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty()) => Ok(Self(text.to_string())),
            Ok(url) => Err(format!("'{text}' is a {} URL: give an http(s) URL such as https://api.example.com", url.scheme())),
            Err(e) => Err(format!("'{text}' is not a URL ({e}): give an http(s) URL such as https://api.example.com")),
        }
    }

    /// The URL as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A GUID as Azure writes them: 8-4-4-4-12 hexadecimal digits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Guid(String);

impl Guid {
    /// Checks `text` is a GUID.
    pub fn parse(text: &str) -> Result<Self, String> {
        let groups: Vec<&str> = text.split('-').collect();
        let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
        if lengths == [8, 4, 4, 4, 12] && groups.iter().all(|g| g.chars().all(|c| c.is_ascii_hexdigit())) {
            Ok(Self(text.to_string()))
        } else {
            Err(format!("'{text}' is not a GUID (like 72f988bf-86f1-41af-91ab-2d7cd011db47)"))
        }
    }

    /// The GUID as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A point in time written in RFC 3339 (`2026-11-01T00:00:00Z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rfc3339(pub DateTime<Utc>);

impl Rfc3339 {
    /// Parses `text`, which must carry its offset.
    pub fn parse(text: &str) -> Result<Self, String> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| Self(t.with_timezone(&Utc)))
            .map_err(|e| format!("'{text}' is not an RFC 3339 time with an offset, like 2026-11-01T00:00:00Z ({e})"))
    }
}

macro_rules! text_setting {
    ($type:ty) => {
        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                <$type>::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}
text_setting!(HttpUrl);
text_setting!(Guid);
text_setting!(Rfc3339);

impl std::ops::Deref for HttpUrl {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Guid {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_that_no_job_could_use_are_refused_as_they_are_read() {
        assert!(HttpUrl::parse("https://api.loganalytics.azure.com").is_ok());
        assert!(HttpUrl::parse("http://127.0.0.1:8080/akeyless").is_ok());
        assert!(HttpUrl::parse("not a url").unwrap_err().contains("not a URL"));
        assert!(HttpUrl::parse("ftp://x").unwrap_err().contains("ftp URL"));
        assert!(HttpUrl::parse("file:///tmp").is_err());

        assert!(Guid::parse("72f988bf-86f1-41af-91ab-2d7cd011db47").is_ok());
        for bad in ["", "my-workspace", "72f988bf-86f1-41af-91ab-2d7cd011db4", "72f988bf86f141af91ab2d7cd011db47", "72f988bg-86f1-41af-91ab-2d7cd011db47"] {
            assert!(Guid::parse(bad).is_err(), "{bad}");
        }

        assert_eq!(Rfc3339::parse("2026-11-01T00:00:00+01:00").unwrap().0.to_rfc3339(), "2026-10-31T23:00:00+00:00");
        for bad in ["yesterday", "2026-11-01", "2026-11-01 10:00:00", "2026-11-01T10:00:00"] {
            assert!(Rfc3339::parse(bad).is_err(), "{bad}");
        }
    }
}
