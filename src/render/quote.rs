//! Quote a path for a message, so that any file name (newline, leading dash, non-UTF-8 bytes)
//! prints as one unambiguous token a shell would accept back.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Returns the path as is when it is plain, in single quotes when it has only printable
/// characters, and as a `$'...'` string with escapes otherwise (the style of `ls -b` and bash).
pub fn quote(path: &Path) -> String {
    let bytes = path.as_os_str().as_bytes();
    let plain = |b: &u8| b.is_ascii_alphanumeric() || b"/._-+,:@=%".contains(b);
    if !bytes.is_empty() && bytes.iter().all(plain) {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.chars().any(char::is_control) => format!("'{}'", s.replace('\'', r"'\''")),
        _ => {
            let mut out = String::from("$'");
            for chunk in bytes.utf8_chunks() {
                for c in chunk.valid().chars() {
                    match c {
                        '\n' => out.push_str(r"\n"),
                        '\t' => out.push_str(r"\t"),
                        '\\' => out.push_str(r"\\"),
                        '\'' => out.push_str(r"\'"),
                        c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
                        c => out.push(c),
                    }
                }
                for b in chunk.invalid() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
            out.push('\'');
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    fn q(bytes: &[u8]) -> String {
        quote(Path::new(OsStr::from_bytes(bytes)))
    }

    #[test]
    fn quoting() {
        assert_eq!(q(b"/usr/lib/a.pyc"), "/usr/lib/a.pyc");
        assert_eq!(q(b"a b"), "'a b'");
        assert_eq!(q(b"it's"), r"'it'\''s'");
        assert_eq!(q(b"a\nb"), r"$'a\nb'");
        assert_eq!(q(b"\xffx\\"), r"$'\xffx\\'");
        assert_eq!(q(b"caf\xc3\xa9"), "'café'");
    }
}
