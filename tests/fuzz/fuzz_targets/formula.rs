//! The formula parser and evaluator (`accounting::formula`) on arbitrary text and parameter
//! values. Input: the formula text, a 0 byte, then 8-byte parameter values (or, for short tails,
//! one byte each choosing a special value: zeros of both signs, tiny, huge, NaN, infinities).
//!
//! Checked beyond "no panic": the documented round trip (the canonical text parses again to the
//! same canonical text and parameters, and evaluates to the same bits or the same error),
//! `eval` with the wrong number of values is an error, `eval_with` agrees with `eval`, and a
//! result is always finite.
#![no_main]

use accounting::formula::{EvalError, Formula};
use libfuzzer_sys::fuzz_target;

const SPECIAL: [f64; 12] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    2.0,
    1e-308,
    5e-324,
    1e308,
    f64::MAX,
    f64::NAN,
    f64::INFINITY,
];

fn values(tail: &[u8], count: usize) -> Vec<f64> {
    let wide = tail.len() >= 8 * count;
    (0..count)
        .map(|i| {
            if wide {
                let bytes: [u8; 8] = tail[8 * i..8 * i + 8].try_into().unwrap();
                f64::from_le_bytes(bytes)
            } else {
                let b = tail.get(i).copied().unwrap_or(i as u8);
                SPECIAL[b as usize % SPECIAL.len()] * if b >= 128 { 3.0 } else { 1.0 }
            }
        })
        .collect()
}

fn same(a: &Result<f64, EvalError>, b: &Result<f64, EvalError>) -> bool {
    match (a, b) {
        (Ok(x), Ok(y)) => x.to_bits() == y.to_bits(),
        // Errors carry the value (NaN != NaN): compare what they say.
        (Err(x), Err(y)) => format!("{x:?}") == format!("{y:?}"),
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let text = String::from_utf8_lossy(&data[..split]);
    let tail = data.get(split + 1..).unwrap_or(&[]);
    let formula = match Formula::parse(&text) {
        Ok(formula) => formula,
        Err(e) => {
            std::hint::black_box(e.to_string());
            return;
        }
    };
    let count = formula.parameters().len();
    let values = values(tail, count);
    let result = formula.eval(&values);
    if let Ok(x) = result {
        assert!(x.is_finite(), "{text:?} gave {x}");
    }
    if let Err(e) = &result {
        std::hint::black_box(e.to_string());
    }
    // The wrong number of values is an error, never a panic or a read past the slice.
    let mut more = values.clone();
    more.push(1.0);
    assert!(matches!(
        formula.eval(&more),
        Err(EvalError::ArityMismatch { .. })
    ));
    if count > 0 {
        assert!(matches!(
            formula.eval(&values[..count - 1]),
            Err(EvalError::ArityMismatch { .. })
        ));
    }
    // eval_with looks the same values up by name.
    let by_name = formula.eval_with(|name| {
        let i = formula.parameters().iter().position(|p| p == name)?;
        Some(values[i])
    });
    assert!(
        same(&result, &by_name),
        "{text:?}: {result:?} vs {by_name:?}"
    );
    if count == 0 {
        assert_eq!(
            formula.constant_value().map(f64::to_bits),
            result.clone().ok().map(f64::to_bits)
        );
    }
    // The canonical text round-trips.
    let canonical = formula.canonical();
    let again = Formula::parse(&canonical)
        .unwrap_or_else(|e| panic!("{text:?}: canonical {canonical:?} does not parse: {e}"));
    assert_eq!(again.canonical(), canonical, "{text:?}");
    assert_eq!(again.parameters(), formula.parameters(), "{text:?}");
    let twice = again.eval(&values);
    assert!(
        same(&result, &twice),
        "{text:?} = {result:?}, canonical {canonical:?} = {twice:?}"
    );
    std::hint::black_box(formula.to_string());
});
