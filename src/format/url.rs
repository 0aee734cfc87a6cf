//! URLs as they may be shown to people: database passwords masked, webhook URLs cut to their
//! scheme and host (the path of a Slack URL is the credential).

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
}
