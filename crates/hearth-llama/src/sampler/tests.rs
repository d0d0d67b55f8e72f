//! Sampling rules on hand-made logits.

use hearth_llm::SamplingParams;

use super::*;

fn params(temperature: f32, top_k: u32, seed: u64) -> SamplingParams {
    SamplingParams { temperature, top_k, top_p: 1.0, min_p: 0.0, repeat_penalty: 1.0, seed, ..SamplingParams::default() }
}

#[test]
fn greedy_takes_the_best_and_the_lowest_id_on_ties() {
    let mut s = Sampler::new(&params(0.0, 40, 0));
    assert_eq!(s.sample(&[0.1, 2.0, -1.0, 2.0]), 1);
    assert_eq!(s.sample(&[f32::NEG_INFINITY, -3.0]), 1);
}

#[test]
fn argmax_matches_the_obvious_loop() {
    let obvious = |l: &[f32]| {
        let mut best = (0usize, f32::NEG_INFINITY);
        for (i, &x) in l.iter().enumerate() {
            if x > best.1 {
                best = (i, x);
            }
        }
        best.0 as i32
    };
    let mut seed = 1u64;
    for len in [1usize, 15, 16, 17, 100, 1000, 262_144] {
        let logits: Vec<f32> = (0..len)
            .map(|_| {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((seed >> 40) % 1000) as f32 / 7.0
            })
            .collect();
        assert_eq!(argmax(&logits), obvious(&logits), "len {len}");
    }
    assert_eq!(argmax(&[f32::NAN, 1.0, f32::NAN, 1.0]), 1);
}

#[test]
fn top_k_keeps_the_best_in_order() {
    let c = top_k(&[0.5, 3.0, -1.0, 2.0, 2.0, f32::NAN, 9.0], 3);
    assert_eq!(c.iter().map(|c| c.id).collect::<Vec<_>>(), [6, 1, 3]);
}

#[test]
fn the_same_seed_draws_the_same_tokens() {
    let logits: Vec<f32> = (0..500).map(|i| ((i * 37) % 101) as f32 / 20.0).collect();
    let draw = |seed| {
        let mut s = Sampler::new(&params(1.0, 50, seed));
        (0..64).map(|_| s.sample(&logits)).collect::<Vec<_>>()
    };
    assert_eq!(draw(7), draw(7));
    assert_ne!(draw(7), draw(8));
}

#[test]
fn draws_follow_the_probabilities() {
    // Two tokens with probabilities 1/4 and 3/4.
    let logits = [0.0, 3f32.ln()];
    let mut s = Sampler::new(&params(1.0, 0, 42));
    let ones = (0..20_000).filter(|_| s.sample(&logits) == 1).count();
    assert!((14_500..15_500).contains(&ones), "{ones} of 20000");
}

#[test]
fn top_k_one_is_greedy_and_min_p_and_top_p_trim_the_tail() {
    let logits = [1.0, 5.0, 4.9, -2.0];
    let mut one = Sampler::new(&params(1.5, 1, 3));
    assert!((0..100).all(|_| one.sample(&logits) == 1));

    // min_p 0.5: token 3 (far below half the best) is never drawn; 1 and 2 both are.
    let mut s = Sampler::new(&SamplingParams { min_p: 0.5, ..params(1.0, 0, 5) });
    let seen: std::collections::BTreeSet<i32> = (0..2000).map(|_| s.sample(&logits)).collect();
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), [1, 2]);

    // top_p 0.4: the best token alone already holds more than 40%.
    let mut s = Sampler::new(&SamplingParams { top_p: 0.4, ..params(1.0, 0, 5) });
    assert!((0..200).all(|_| s.sample(&logits) == 1));
}

#[test]
fn the_repeat_penalty_lowers_recent_tokens() {
    let logits = [2.0, 1.9, -1.0];
    let mut s = Sampler::new(&SamplingParams { repeat_penalty: 1.5, ..params(0.0, 40, 0) });
    assert_eq!(s.sample(&logits), 0);
    s.accept(0);
    assert_eq!(s.sample(&logits), 1, "2.0 / 1.5 < 1.9");
    s.accept(0);
    s.accept(0);
    assert_eq!(s.sample(&[2.0, 0.8, -1.0]), 0, "penalized once (1.33 > 0.8), not three times (0.59)");
    // Negative logits are pushed further down, not up.
    let mut s = Sampler::new(&SamplingParams { repeat_penalty: 2.0, ..params(0.0, 40, 0) });
    s.accept(1);
    assert_eq!(s.sample(&[-1.0, -0.9, -5.0]), 0);
}

#[test]
fn min_p_judges_before_the_temperature_flattens() {
    // At temperature 1 token 0 has 0.27 against 0.73 (below min_p 0.5 of the best); at
    // temperature 10 it would have 0.475. The filter must use the model's own distribution.
    let mut s = Sampler::new(&SamplingParams { min_p: 0.5, ..params(10.0, 0, 11) });
    assert!((0..300).all(|_| s.sample(&[0.0, 1.0]) == 1));
    // And the temperature still shapes the draw among what is kept.
    let mut hot = Sampler::new(&params(10.0, 0, 11));
    let ones = (0..10_000).filter(|_| hot.sample(&[0.0, 1.0]) == 1).count();
    assert!((4_900..5_600).contains(&ones), "{ones}");
}
