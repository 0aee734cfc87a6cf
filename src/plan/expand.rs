//! `${VAR}` and `${VAR:-default}` in `env` values and `cwd` (and nowhere else: commands get
//! variables through their environment, so a shell does its own expansion). `$${` is a
//! literal `${`.

use super::problem::Problem;

/// One piece of a value: literal text or a reference.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Var {
        name: &'a str,
        default: Option<&'a str>,
    },
}

/// Why a value cannot be expanded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExpandError {
    /// `${` without `}`, `${…}` inside `${…}`, or a bad variable name.
    Syntax(Problem),
    /// `${NAME}` with no such variable and no default.
    Missing(String),
}

fn is_var_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

pub fn is_env_name(s: &str) -> bool {
    is_var_name(s)
}

fn pieces(value: &str) -> Result<Vec<Piece<'_>>, ExpandError> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(i) = rest.find("${") {
        if i > 0 && rest.as_bytes()[i - 1] == b'$' {
            // `$${` → literal `${`.
            out.push(Piece::Text(&rest[..i - 1]));
            out.push(Piece::Text("${"));
            rest = &rest[i + 2..];
            continue;
        }
        out.push(Piece::Text(&rest[..i]));
        let body_start = i + 2;
        // Values may be secrets: messages never quote them, the location says where.
        let Some(end) = rest[body_start..].find('}') else {
            return Err(ExpandError::Syntax(Problem::UnclosedReference));
        };
        let body = &rest[body_start..body_start + end];
        if body.contains("${") {
            return Err(ExpandError::Syntax(Problem::NestedReference));
        }
        let (name, default) = match body.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (body, None),
        };
        if !is_var_name(name) {
            let name = name.to_owned();
            return Err(ExpandError::Syntax(Problem::BadVariableName { name }));
        }
        out.push(Piece::Var { name, default });
        rest = &rest[body_start + end + 1..];
    }
    out.push(Piece::Text(rest));
    Ok(out)
}

/// Checks the syntax only (plan validation).
pub fn check(value: &str) -> Result<(), ExpandError> {
    pieces(value).map(|_| ())
}

/// The variables a value needs that have no default.
pub fn required_vars(value: &str) -> Vec<String> {
    pieces(value)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| match p {
            Piece::Var {
                name,
                default: None,
            } => Some(name.to_owned()),
            _ => None,
        })
        .collect()
}

/// Expands `value`, looking variables up with `lookup`. An empty variable counts as set, as
/// in POSIX `${VAR:-default}`… except that `:-` also replaces an empty value (POSIX too).
pub fn expand(value: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(value.len());
    for piece in pieces(value)? {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Var { name, default } => match (lookup(name), default) {
                (Some(v), Some(d)) if v.is_empty() => out.push_str(d),
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => return Err(ExpandError::Missing(name.to_owned())),
            },
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/home/a".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_references_and_defaults() {
        assert_eq!(expand("${HOME}/x", &env).unwrap(), "/home/a/x");
        assert_eq!(expand("${NOPE:-/tmp}", &env).unwrap(), "/tmp");
        assert_eq!(expand("${EMPTY:-d}", &env).unwrap(), "d");
        assert_eq!(expand("${EMPTY}", &env).unwrap(), "");
        assert_eq!(expand("a$$b $${HOME}", &env).unwrap(), "a$$b ${HOME}");
        assert_eq!(expand("$HOME", &env).unwrap(), "$HOME");
    }

    #[test]
    fn missing_and_malformed_references_are_named() {
        assert_eq!(
            expand("${NOPE}", &env),
            Err(ExpandError::Missing("NOPE".into()))
        );
        assert!(matches!(check("${HOME"), Err(ExpandError::Syntax(_))));
        assert!(matches!(check("${1X}"), Err(ExpandError::Syntax(_))));
        assert!(matches!(check("${A:-${B}}"), Err(ExpandError::Syntax(_))));
        assert_eq!(required_vars("${A}${B:-x}${C}"), ["A", "C"]);
    }
}
