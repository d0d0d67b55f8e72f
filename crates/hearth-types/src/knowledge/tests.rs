//! Reading which sources an answer cites.

use super::Citation;

fn check(text: &str, expected: &[u32]) {
    assert_eq!(Citation::numbers_in(text), expected, "{text:?}");
}

#[test]
fn the_numbers_an_answer_cites() {
    check("The rail closes at dusk [1].", &[1]);
    check("Both say so [2][1], and again [1].", &[2, 1]);
    check("See [1, 3].", &[1, 3]);
    check("A list [a] and a bracket [1 that never closes", &[]);
    check("an [array[2]] inside", &[2]);
    check("[0] is no source, nor [-1] nor [1.5]", &[]);
    check("no sources at all", &[]);
}
