//! A container id as a file name, one to one: two ids never share a name (`web.1` and `web_1`
//! did, so one container's poststop stopped the other's recorder). Letters, digits and `-` stay;
//! every other byte, `_` included, becomes `_XX` (its hex), so the name decodes back to the id.
//! Pure.

/// The longest name made (file systems allow 255 bytes; room is left for suffixes).
pub const MAX_NAME: usize = 200;

/// The file name for `id`, or `None` when it would be longer than `MAX_NAME` (or `id` is empty).
pub fn file_name(id: &str) -> Option<String> {
    let mut s = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' {
            s.push(char::from(b));
        } else {
            s.push_str(&format!("_{b:02x}"));
        }
        if s.len() > MAX_NAME {
            return None;
        }
    }
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_used_to_collide_get_their_own_names() {
        let names: Vec<_> = ["web.1", "web_1", "web/1", "web:1", "web-1", "web1"]
            .iter()
            .map(|id| file_name(id).unwrap())
            .collect();
        let unique: std::collections::BTreeSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        assert_eq!(file_name("web.1").unwrap(), "web_2e1");
        assert_eq!(file_name("web_1").unwrap(), "web_5f1");
        // A docker id stays as it is.
        let docker = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(file_name(docker).unwrap(), docker);
    }

    #[test]
    fn names_are_plain_file_names_and_bounded() {
        for id in ["..", ".", "a/../b", "\u{0}", "é", ".hidden"] {
            let n = file_name(id).unwrap();
            assert!(
                n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{n}"
            );
            assert!(!n.starts_with('.'));
        }
        assert_eq!(file_name(""), None);
        assert_eq!(file_name(&"x".repeat(MAX_NAME + 1)), None);
        assert!(file_name(&"x".repeat(MAX_NAME)).is_some());
    }

    #[test]
    fn the_mapping_is_one_to_one() {
        // Decoding gives back the id: no two ids can share a name.
        fn decode(n: &str) -> Vec<u8> {
            let b = n.as_bytes();
            let mut out = Vec::new();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'_' {
                    out.push(u8::from_str_radix(&n[i + 1..i + 3], 16).unwrap());
                    i += 3;
                } else {
                    out.push(b[i]);
                    i += 1;
                }
            }
            out
        }
        for id in ["web.1", "web_1", "a_2e", "a.", "_5f", "x-y_z.w/v"] {
            assert_eq!(decode(&file_name(id).unwrap()), id.as_bytes());
        }
    }
}
