//! Unit tests of `connection`.

use super::head_ends;

#[test]
fn a_heads_end_is_found_however_the_bytes_are_cut() {
    let head = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody";
    let end = head.len() - 4;
    for cut in 0..=head.len() {
        let mut newline = 0;
        let first = head_ends(&mut newline, &head[..cut]);
        let ended = first || head_ends(&mut newline, &head[cut..]);
        assert!(ended, "cut at {cut}");
        assert_eq!(first, cut >= end, "cut at {cut}");
    }
    let mut newline = 0;
    assert!(head_ends(&mut newline, b"GET / HTTP/1.1\nHost: x\n\n"));
    for not_yet in [
        &b"GET / HTTP/1.1\r\nHost: x\r\n"[..],
        b"a\n\rb\n",
        b"\r\r\n",
    ] {
        let mut newline = 0;
        assert!(!head_ends(&mut newline, not_yet), "{not_yet:?}");
    }
}
