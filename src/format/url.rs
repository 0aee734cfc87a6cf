//! URLs as they may be shown to people: database passwords masked, webhook URLs cut to their
//! scheme and host (the path of a Slack URL is the credential).

/// `--public-url`: its origin (`scheme://host[:port]`) and whether it is https.
#[derive(Clone, Debug)]
pub struct PublicUrl {
    pub origin: String,
    pub https: bool,
    /// Its host is this machine (`localhost`, a loopback address): plain http never crosses
    /// the network.
    pub loopback: bool,
}

/// `https://orch.example.com` checked: a scheme (http or https) and a host, no user, password,
/// path or query (the pages live at the root of their address).
pub fn parse_public_url(s: &str) -> Result<PublicUrl, String> {
    let url = reqwest::Url::parse(s.trim())
        .map_err(|e| format!("`{s}` is not a URL ({e}): write it as `https://orch.example.com`"))?;
    let https = match url.scheme() {
        "https" => true,
        "http" => false,
        other => return Err(format!("`{other}` is not http or https")),
    };
    if url.host_str().is_none() || !url.username().is_empty() || url.password().is_some() {
        return Err("give a scheme and host, without user or password".to_owned());
    }
    if url.path() != "/" || url.query().is_some() {
        return Err(
            "orch's pages live at the root of their address: leave out the path".to_owned(),
        );
    }
    // An IPv6 host comes bracketed (`[::1]`).
    let host = url.host_str().unwrap_or_default();
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    Ok(PublicUrl {
        origin: url.origin().ascii_serialization(),
        https,
        loopback,
    })
}

/// A webhook URL as it may be shown: scheme and host (and port) only. The path of a Slack
/// or similar URL is the credential.
pub fn display_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return "(not a URL)".to_owned();
    };
    let authority = authority(url, scheme_end + 3);
    // Drop any userinfo: `https://user:pw@host` shows as `https://host`.
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    format!("{}://{host}", &url[..scheme_end])
}

/// The parts of a webhook URL that are the credential on their own: its path and query as
/// written and percent-encoded (`/services/T0/B0/x` and `%2Fservices%2FT0%2FB0%2Fx`). A path
/// shorter than 8 characters (`/`, `/hook`) is no secret and would mask ordinary words.
pub fn credential_parts(url: &str) -> Vec<String> {
    let Some(scheme_end) = url.find("://") else {
        return Vec::new();
    };
    let start = scheme_end + 3;
    let rest = &url[start + authority(url, start).len()..];
    let rest = rest.split('#').next().unwrap_or(rest);
    if rest.len() < 8 {
        return Vec::new();
    }
    let encode = |upper: bool| {
        let mut out = String::new();
        for b in rest.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                out.push(b as char);
            } else if upper {
                out.push_str(&format!("%{b:02X}"));
            } else {
                out.push_str(&format!("%{b:02x}"));
            }
        }
        out
    };
    let mut parts = vec![rest.to_owned(), encode(true), encode(false)];
    parts.dedup();
    parts
}

/// The `user:pw@host:port` part of a URL whose authority starts at `start`.
fn authority(url: &str, start: usize) -> &str {
    let rest = &url[start..];
    &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())]
}

/// Masks the password of a URL's userinfo (`postgres://u:secret@h/db` → `postgres://u:***@h/db`)
/// and any `password=` query parameter.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..]
            .find(['/', '?', '#'])
            .map_or(out.len(), |i| rest_start + i);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                let start = rest_start + colon + 1;
                out.replace_range(start..rest_start + at, "***");
            }
        }
    }
    redact_query_password(&out)
}

fn redact_query_password(url: &str) -> String {
    let Some(q) = url.find('?') else {
        return url.to_owned();
    };
    let (base, query) = url.split_at(q + 1);
    let parts: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => kv.to_owned(),
        })
        .collect();
    format!("{base}{}", parts.join("&"))
}

/// The password in a URL's userinfo or `password=` parameter, so it can be masked in task
/// output too (tasks inherit `DATABASE_URL`).
pub fn url_password(url: &str) -> Option<String> {
    let authority = authority(url, url.find("://")? + 3);
    if let Some((userinfo, _)) = authority.rsplit_once('@')
        && let Some((_, pw)) = userinfo.split_once(':')
        && !pw.is_empty()
    {
        return Some(pw.to_owned());
    }
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.eq_ignore_ascii_case("password") && !v.is_empty()).then(|| v.to_owned())
    })
}

/// Masks passwords of any database URLs inside free text (driver error messages can echo the
/// URL they were given).
pub fn redact_urls(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            if word.contains("://") {
                redact_url(word)
            } else {
                word.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            redact_url("postgres://h/x?user=a&password=pw123456"),
            "postgres://h/x?user=a&password=***"
        );
        assert_eq!(redact_url("postgres://bob@h/x"), "postgres://bob@h/x");
        assert_eq!(
            redact_url("postgres://bob:hunter22@db:5432/x?sslmode=require"),
            "postgres://bob:***@db:5432/x?sslmode=require"
        );
    }

    #[test]
    fn a_webhook_path_is_a_credential_as_written_and_encoded() {
        assert_eq!(
            credential_parts("https://hooks.slack.com/services/T0/B0/xyz?a=1#f"),
            [
                "/services/T0/B0/xyz?a=1",
                "%2Fservices%2FT0%2FB0%2Fxyz%3Fa%3D1",
                "%2fservices%2fT0%2fB0%2fxyz%3fa%3d1"
            ]
        );
        assert!(credential_parts("https://h.example/hook").is_empty());
        assert!(credential_parts("not a url").is_empty());
    }

    #[test]
    fn webhook_urls_show_scheme_and_host_only() {
        assert_eq!(
            display_url("https://hooks.slack.com/services/T0/B0/XYZ"),
            "https://hooks.slack.com"
        );
        assert_eq!(
            display_url("http://u:pw@127.0.0.1:8080/x?y=1"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(display_url("nonsense"), "(not a URL)");
    }

    #[test]
    fn loopback_hosts_are_told_apart() {
        for local in [
            "http://127.0.0.1:8080",
            "http://localhost",
            "http://[::1]:80",
        ] {
            assert!(parse_public_url(local).unwrap().loopback, "{local}");
        }
        for far in [
            "http://orch.example.com",
            "http://10.0.0.5:8080",
            "http://localhost.example.com",
        ] {
            assert!(!parse_public_url(far).unwrap().loopback, "{far}");
        }
    }
}
