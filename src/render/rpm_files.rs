//! Write a path into a `%files` list so that the rpm reading the list finds exactly that file.
//!
//! `%files` entries are globs after one macro expansion. rpm 4.19 and later take backslash
//! escapes, but undo the ones before glob characters, `"`, `!` and `\` only through a glob
//! match: for a `%ghost` absent from the build root they record the escaped text as it is, so
//! such a name is written unescaped instead and must match nothing else (checked by `split`).
//! Older rpm takes white space only inside double quotes, globs quoted names too, and has no
//! escape for a glob character at all. No rpm since 4.15 takes a tab or newline in a file name.
//! What an rpm cannot hold is an error naming the path, never a silently wrong list: a wrong
//! list ships the wrong files or fails a build late.
//!
//! A list line is rpm code: after expanding its macros once (`%%` becomes `%`), rpm looks for
//! the directives of [`IN_LINE_DIRECTIVES`] anywhere in the line, erases them and applies them
//! (`build/files.cc`, rpm 4.18 to 6.1), so a name holding `%defattr(0666,root,root,0777)` would
//! make every file listed after it writable by anyone. Such a name is refused, as is any `%`
//! before a letter, where every directive starts, those a later rpm may add too. The other
//! directives (`%dir`, `%ghost`, `%doc`, ...) count only as words of their own, which an
//! escaped name never is.

use std::fmt;
use std::str::FromStr;

/// The `%files` syntax of the rpm that will read the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RpmSyntax {
    /// rpm 4.19 and later: backslash escapes for white space and glob characters.
    V419,
    /// rpm before 4.19: double quotes around white space; glob characters cannot be escaped.
    Legacy,
}

impl RpmSyntax {
    /// The syntax of an rpm with this `rpm --version` output (`RPM version 4.18.0`).
    pub fn for_version(version_output: &str) -> Option<RpmSyntax> {
        let version = version_output.split_whitespace().last()?;
        let mut parts = version.split(|c: char| !c.is_ascii_digit()).map(|p| p.parse::<u32>().unwrap_or(0));
        let (major, minor) = (parts.next()?, parts.next().unwrap_or(0));
        Some(if (major, minor) >= (4, 19) { RpmSyntax::V419 } else { RpmSyntax::Legacy })
    }
}

/// What to escape for: a given rpm, or the one installed (`auto`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EscapeChoice {
    Auto,
    Fixed(RpmSyntax),
}

impl FromStr for EscapeChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(EscapeChoice::Auto),
            "4.19" => Ok(EscapeChoice::Fixed(RpmSyntax::V419)),
            "legacy" => Ok(EscapeChoice::Fixed(RpmSyntax::Legacy)),
            _ => Err("expected auto, 4.19 or legacy".into()),
        }
    }
}

/// Why a path cannot be written for the chosen rpm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unlistable(pub &'static str);

impl fmt::Display for Unlistable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// The `%files` directives rpm reads anywhere in a line once its macros are expanded, each with
/// why a name holding it is refused. rpm 4.18 to 6.1 (`build/files.cc`: `parseForVerify`,
/// `parseForAttr`, `parseForDev`, `parseForConfig`, `parseForLang`, `parseForCaps`) find each
/// with `strstr` over the whole line, blank it and its parenthesised arguments out, and apply
/// it to the line's file (`%defattr` and `%defverify`: to every later line of the list);
/// `%config` and `%caps` need no arguments, so `/a%config` lists `/a` as a configuration file.
pub const IN_LINE_DIRECTIVES: [(&str, &str); 8] = [
    (
        "%defattr",
        "%defattr, which rpm reads anywhere in a %files line: the modes and owners of every file listed after it",
    ),
    ("%attr", "%attr, which rpm reads anywhere in a %files line: the mode and owner of a file"),
    (
        "%defverify",
        "%defverify, which rpm reads anywhere in a %files line: what rpm -V checks of every file listed after it",
    ),
    ("%verify", "%verify, which rpm reads anywhere in a %files line: what rpm -V checks of a file"),
    ("%config", "%config, which rpm reads anywhere in a %files line: a configuration file kept on upgrade"),
    ("%lang", "%lang, which rpm reads anywhere in a %files line: a file for one language only"),
    ("%caps", "%caps, which rpm reads anywhere in a %files line: the capabilities of a file"),
    ("%dev", "%dev, which rpm reads anywhere in a %files line: a device file"),
];

/// Refuses a name in which rpm 4.19 and later would read a `%files` directive once the
/// list's `%%` are expanded: any `%` before an ASCII letter, named after the directive it
/// starts when it is one of [`IN_LINE_DIRECTIVES`].
fn refuse_directives(text: &str) -> Result<(), Unlistable> {
    let bytes = text.as_bytes();
    match bytes.windows(2).position(|w| w[0] == b'%' && w[1].is_ascii_alphabetic()) {
        None => Ok(()),
        Some(at) => {
            let rest = &text[at..];
            let known = IN_LINE_DIRECTIVES.iter().find(|(directive, _)| rest.starts_with(directive));
            Err(Unlistable(
                known.map_or("a % before a letter, which rpm reads as the start of a %files directive", |(_, why)| why),
            ))
        }
    }
}

/// The characters that make a name a glob for rpm (`{` only with a matching `}`, but a stray
/// one is treated as a glob too, which errs on the safe side).
pub fn has_glob_chars(name: &[u8]) -> bool {
    name.iter().any(|b| b"*?[]{}".contains(b))
}

/// Writes `path` (installed, absolute) as one `%files` entry for `syntax`.
///
/// For [`RpmSyntax::Legacy`] a path with glob characters is written as it is, which is right
/// only if the glob matches nothing but the file itself: the caller checks that against the
/// build root (see `split`).
pub fn escape_path(path: &[u8], syntax: RpmSyntax) -> Result<String, Unlistable> {
    let text = listable_text(path)?;
    match syntax {
        RpmSyntax::V419 => {
            refuse_directives(text)?;
            let mut out = String::with_capacity(text.len() + 8);
            for c in text.chars() {
                match c {
                    '%' => out.push_str("%%"),
                    ' ' | '[' | ']' | '{' | '}' | '*' | '?' | '!' | '"' | '\\' => {
                        out.push('\\');
                        out.push(c);
                    }
                    c => out.push(c),
                }
            }
            Ok(out)
        }
        RpmSyntax::Legacy => {
            let spaced = text.contains(' ');
            if spaced && text.contains('"') {
                return Err(Unlistable("a double quote with white space, which rpm before 4.19 cannot list"));
            }
            if spaced && text.contains(['[', ']']) {
                return Err(Unlistable("square brackets with white space, which rpm before 4.19 cannot list"));
            }
            if text.contains('\\') && has_glob_chars(path) {
                return Err(Unlistable("a backslash with glob characters, which rpm before 4.19 cannot list"));
            }
            // rpm 4.18 expands a -f list's lines more than once: `%%{name}` still becomes the
            // package name and `%%-` drops itself and the rest of a word (measured), so `%` is
            // written only before a character that starts nothing in rpm's macro expander,
            // where one expansion and two give the same name. Refused: letters, digits and `_`
            // (macro names, `%0`..`%9` too), `-` (`%-f` option flags), `!` and `?` (negation
            // and existence tests), `{`, `(` and `[` (`%{...}`, `%(shell)`, `%[expression]`),
            // `%`, `*` and `#` (macro arguments), and a `%` at the end.
            const SAFE_AFTER_PERCENT: &[u8] = b" .,+=@~";
            if text.as_bytes().windows(2).any(|w| w[0] == b'%' && !SAFE_AFTER_PERCENT.contains(&w[1]))
                || text.ends_with('%')
            {
                return Err(Unlistable("a % that rpm before 4.19 would read as macro syntax"));
            }
            let escaped = text.replace('%', "%%");
            Ok(if spaced { format!("\"{escaped}\"") } else { escaped })
        }
    }
}

/// The name as text, if any rpm can hold it: UTF-8 without control characters (rpm refuses
/// tab and newline in file names since 4.15, whatever the escaping).
fn listable_text(path: &[u8]) -> Result<&str, Unlistable> {
    let text = std::str::from_utf8(path).map_err(|_| Unlistable("not UTF-8; rpm refuses such file names"))?;
    if text.contains(['\t', '\n']) {
        return Err(Unlistable("a tab or newline; rpm refuses such file names"));
    }
    if text.chars().any(char::is_control) {
        return Err(Unlistable("a control character; rpm refuses such file names"));
    }
    Ok(text)
}

/// Writes `path` (installed, absolute) for rpm 4.19 and later when no file of that name is in
/// the build root, as for a `%ghost` of a cache not compiled. rpm records such an entry as
/// its text with only `\ ` undone (measured with rpm 4.20 and 6.1): so white space is escaped,
/// `%` doubled, everything else written as it is. A name with glob characters is then a glob
/// for rpm, which records it literally only if it matches nothing: the caller checks that
/// against the build root. A backslash before a space or at the end has no such form.
pub fn escape_absent_path(path: &[u8]) -> Result<String, Unlistable> {
    let text = listable_text(path)?;
    if text.contains("\\ ") || text.ends_with('\\') {
        return Err(Unlistable("a backslash before a space or at the end, which rpm 4.19 and later cannot list for a file absent from the build root"));
    }
    refuse_directives(text)?;
    let mut out = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        match c {
            '%' => out.push_str("%%"),
            ' ' => out.push_str("\\ "),
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use RpmSyntax::*;

    #[test]
    fn rpm_versions() {
        assert_eq!(RpmSyntax::for_version("RPM version 4.18.0"), Some(Legacy));
        assert_eq!(RpmSyntax::for_version("RPM version 4.19.1.1"), Some(V419));
        assert_eq!(RpmSyntax::for_version("RPM version 4.20.0"), Some(V419));
        assert_eq!(RpmSyntax::for_version("RPM version 6.0.0"), Some(V419));
        assert_eq!(RpmSyntax::for_version("RPM version 4.16.1.3"), Some(Legacy));
        assert_eq!(RpmSyntax::for_version(""), None);
    }

    /// rpm 4.19's documented rules: backslash before white space and `[]{}*?!"\`, `%%` for `%`.
    #[test]
    fn v419_escapes() {
        let e = |p: &[u8]| escape_path(p, V419);
        assert_eq!(e(b"/usr/lib/a.pyc").unwrap(), "/usr/lib/a.pyc");
        assert_eq!(e(b"/a b/c").unwrap(), "/a\\ b/c");
        assert!(e(b"/c\td").is_err() && e(b"/d\ne").is_err(), "rpm refuses tab and newline since 4.15");
        assert_eq!(e(b"/[br]*?{x}!").unwrap(), r"/\[br\]\*\?\{x\}\!");
        assert_eq!(e(b"/quo\"te\\s").unwrap(), r#"/quo\"te\\s"#);
        assert_eq!(e(b"/100%").unwrap(), "/100%%");
        assert_eq!(e(b"/-dash.a.b").unwrap(), "/-dash.a.b");
        assert_eq!(e(b"/caf\xe9").unwrap_err().0, "not UTF-8; rpm refuses such file names");
        assert_eq!(e(b"/bell\x07").unwrap_err().0, "a control character; rpm refuses such file names");
    }

    /// Measured with rpm 4.20 and 6.1 for `%ghost` entries absent from the build root.
    #[test]
    fn absent_names_for_v419() {
        let e = escape_absent_path;
        assert_eq!(e(b"/a b/100%").unwrap(), "/a\\ b/100%%");
        assert_eq!(e(b"/[x]*?{y}!\"q\"").unwrap(), "/[x]*?{y}!\"q\"");
        assert_eq!(e(b"/back\\slash\\*").unwrap(), "/back\\slash\\*");
        for bad in [&b"/a\\ b"[..], b"/a\\", b"/a\tb", b"/a\nb", b"/caf\xe9", b"/bell\x07"] {
            assert!(e(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    /// Checked against rpm 4.18 by building packages (see tests/split_rpmbuild.rs).
    #[test]
    fn legacy_escapes() {
        let e = |p: &[u8]| escape_path(p, Legacy);
        assert_eq!(e(b"/a b").unwrap(), "\"/a b\"");
        assert_eq!(e(b"/sp %.x").unwrap(), "\"/sp %%.x\"");
        assert_eq!(e(b"/per%.cent").unwrap(), "/per%%.cent");
        assert_eq!(e(b"/quo\"te").unwrap(), "/quo\"te");
        assert_eq!(e(b"/back\\slash").unwrap(), "/back\\slash");
        assert_eq!(e(b"/[br]*?{x}").unwrap(), "/[br]*?{x}");
        assert_eq!(e(b"/sp*x y").unwrap(), "\"/sp*x y\"");
        let refusals = [
            (&b"/a\tb"[..], "a tab or newline; rpm refuses such file names"),
            (b"/a\nb", "a tab or newline; rpm refuses such file names"),
            (b"/a \"b\"", "a double quote with white space, which rpm before 4.19 cannot list"),
            (b"/a [b]", "square brackets with white space, which rpm before 4.19 cannot list"),
            (b"/a\\*", "a backslash with glob characters, which rpm before 4.19 cannot list"),
            (b"/caf\xe9", "not UTF-8; rpm refuses such file names"),
        ];
        for (bad, why) in refusals {
            assert_eq!(e(bad).unwrap_err().0, why, "{:?}", String::from_utf8_lossy(bad));
        }
        for bad in PERCENT_SPECIALS {
            let path = format!("/p/{bad}");
            let why = e(path.as_bytes()).unwrap_err().0;
            assert_eq!(why, "a % that rpm before 4.19 would read as macro syntax", "{path}");
        }
        assert_eq!(e(b"/a% b").unwrap(), "\"/a%% b\"");
        for fine in ["/a%.b", "/a%,b", "/a%+b", "/a%=b", "/a%@b", "/a%~b"] {
            assert_eq!(e(fine.as_bytes()).unwrap(), fine.replace('%', "%%"));
        }
    }

    /// What rpm's macro expander (rpmio/macro.c) reads specially after a `%`, each in a name.
    const PERCENT_SPECIALS: [&str; 18] = [
        "pct%-.py", "a%-b", "a%!b", "a%?b", "a%{b}", "a%(b)", "a%[b]", "a%%b", "a%*b", "a%**b", "a%#b", "a%0b", "a%9",
        "a%_b", "a%Z", "%{name}", "per%cent", "100%",
    ];

    /// rpm 4.19 and later expand a list's line once: `%%` is a `%` whatever follows, for a
    /// file in the build root and for an absent `%ghost` alike (measured with rpm 4.20 and 6.1
    /// in tests/split_rpmbuild.rs).
    #[test]
    fn v419_doubles_every_percent() {
        for name in PERCENT_SPECIALS {
            let path = format!("/p/{name}");
            if path.as_bytes().windows(2).any(|w| w[0] == b'%' && w[1].is_ascii_alphabetic()) {
                continue; // a % before a letter: refused, see below
            }
            let doubled = path.replace('%', "%%");
            let glob_escaped: String =
                doubled.chars().flat_map(|c| if "[]{}*?!".contains(c) { vec!['\\', c] } else { vec![c] }).collect();
            assert_eq!(escape_path(path.as_bytes(), V419).unwrap(), glob_escaped, "{path}");
            assert_eq!(escape_absent_path(path.as_bytes()).unwrap(), doubled, "{path}");
        }
    }

    /// Each directive rpm reads anywhere in a line, as a whole name, inside a name, with and
    /// without its arguments, as the last component or before it: refused for rpm 4.19 and
    /// later, present in the build root or absent, with the directive named.
    #[test]
    fn v419_refuses_every_in_line_directive() {
        let arguments = [
            ("%defattr", "(0666,root,root,0777)"),
            ("%attr", "(0777,root,root)"),
            ("%defverify", "(not mode)"),
            ("%verify", "(mode)"),
            ("%config", "(noreplace)"),
            ("%lang", "(de)"),
            ("%caps", "(cap_net_raw=ep)"),
            ("%dev", "(c,1,3)"),
        ];
        assert_eq!(arguments.map(|(d, _)| d), IN_LINE_DIRECTIVES.map(|(d, _)| d));
        for (directive, args) in arguments {
            for name in [
                format!("/p/sub{directive}{args}"),
                format!("/p/sub{directive}"),
                format!("/p/{directive}{args}/m.py"),
                format!("/p/a b{directive}{args}c/__pycache__/m.cpython-313.pyc"),
            ] {
                for why in [escape_path(name.as_bytes(), V419), escape_absent_path(name.as_bytes())] {
                    let why = why.unwrap_err().0;
                    assert!(why.starts_with(&format!("{directive}, which rpm reads anywhere")), "{name}: {why}");
                }
            }
        }
        // Any other % before a letter: rpm 4.18 to 6.1 read nothing there, a later rpm may.
        for name in ["/p/per%cent", "/p/a%Z", "/p/x%doc", "/p/y%ghost", "/p/%dir"] {
            let why = escape_path(name.as_bytes(), V419).unwrap_err().0;
            assert_eq!(why, "a % before a letter, which rpm reads as the start of a %files directive", "{name}");
            assert_eq!(escape_absent_path(name.as_bytes()).unwrap_err().0, why, "{name}");
        }
        // `%%attr` is written `%%%%attr`, which rpm expands to `%%attr`: `%attr` again.
        assert!(escape_path(b"/p/%%attr(0777,root,root)", V419).unwrap_err().0.starts_with("%attr,"));
        // Near misses are written, % doubled: rpm finds no directive in what it expands.
        for fine in ["/p/defattr(0666,root,root)", "/p/100%", "/p/%.config", "/p/%_lang", "/p/a%-caps", "/p/%(attr)"] {
            let doubled = fine.replace('%', "%%");
            assert_eq!(escape_path(fine.as_bytes(), V419).unwrap(), doubled, "{fine}");
            assert_eq!(escape_absent_path(fine.as_bytes()).unwrap(), doubled, "{fine}");
        }
    }
}
