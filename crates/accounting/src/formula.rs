//! Coefficient formulas written the way the coefficient manuals (产排污系数手册) write them, such
//! as `16S`, `0.00026Aar²+0.0103Aar` or `（1－0.15）×Vdaf`.
//!
//! [`Formula::parse`] reads such a text once and compiles it to a short postfix program over
//! numbered parameter slots. [`Formula::eval`] runs that program in a tight loop on a small stack
//! array, so a formula can be evaluated millions of times without allocating. The language has
//! no functions, no variables other than parameters and no loops, so the cost of a formula is
//! bounded by its length, whatever table it came from.
//!
//! # Notation
//!
//! | written | meaning |
//! | --- | --- |
//! | `2.94`, `.5`, `8271`, `5.` | a number: ASCII digits and at most one `.`, nothing else |
//! | `S`, `Aar`, `S2`, `硫分`, `η`, `_k` | a parameter (see below) |
//! | `+`, `-`, `−` | addition and subtraction, or a unary sign |
//! | `*`, `×`, `·`, `⋅`, `∙` | multiplication (also implicit, see below) |
//! | `/`, `÷` | division |
//! | `^`, `²`, `³` | power: `S²` is exactly `S^2` and `S³` is exactly `S^3` |
//! | `(`, `)` | grouping |
//!
//! Characters of the full-width block U+FF01–U+FF5E (`（ ） ＋ － ＊ ／ ＾ ．`, full-width digits
//! and letters) are read as their ASCII counterparts, because that is what a Chinese input
//! method types; so `Ｓ` and `S` are the same parameter. Whitespace, including the ideographic
//! space U+3000, may stand between any two tokens and is ignored. Every other character, such as
//! `%`, `=`, `,`, `，` or `;`, is an error: `1,500` is rejected rather than guessed at.
//!
//! A parameter name starts with a Unicode letter or `_` and goes on with Unicode letters, digits
//! and `_`, so `S2` is one name and `硫分` is a name. Superscripts (`¹ ² ³` and U+2070–U+207F)
//! never belong to a name: `S²` is `S` squared, and `S⁴` is an error rather than a parameter
//! called `S⁴`. A number directly followed by `e` or `E` and digits (`2.5e-3`, `1E5`) is rejected
//! because exponent notation is not supported and reading it as `2.5*e-3` would be silently wrong;
//! `2e` alone, or `2 e5` with a space, is a multiplication by the parameter `e` or `e5`.
//!
//! # Precedence
//!
//! From tightest to loosest:
//!
//! 1. `²`, `³` and `^`, right-associative: `2^3^2` is `2^(3^2)` = 512, and `2^3²` is `2^(3²)`.
//!    A superscript binds to the operand just before it, so `S²^3` is `(S²)^3` and `S²²` is
//!    `(S²)²`. An exponent may carry a sign: `2^-1` is 0.5.
//! 2. Unary `+` and `-`: `-S^2` is `-(S^2)` and `-2²` is −4.
//! 3. `*`, `×`, `·`, `⋅`, `∙`, `/`, `÷` and implicit multiplication, left to right.
//! 4. Binary `+` and `-`, left to right: `1-2-3` is −4.
//!
//! Two operands in a row multiply only in these cases: a number before a parameter or `(`
//! (`16S`, `16 S`, `2(1+S)`); a parameter before `(` (`S(1+S)`, as there are no functions); `)`
//! before a number, a parameter or `(` (`(1+S)2`, `(1+S)S`, `(1+S)(2)`); and `²` or `³` before a
//! parameter or `(` (`0.5Aar²Vdaf`). Any other pair, such as `2 3`, `S T` or `S 2`, is an error.
//! Implicit multiplication is an ordinary `*`, with the same precedence and read left to right:
//! `16S²` is `16*(S^2)`, but `1/2S` is `(1/2)*S`, not `1/(2*S)`, and `2^3S` is `(2^3)*S`.
//!
//! # Limits
//!
//! - The text, trimmed, has at most [`MAX_FORMULA_CHARS`] characters.
//! - Nesting is at most [`MAX_FORMULA_DEPTH`] levels deep. Each `(` group, each unary sign and
//!   each `^` exponent opens one level inside the one it stands in. The parser checks the level
//!   before it descends, so its recursion is bounded whatever the input, even 100 000 `(`.
//! - The canonical text (below) must itself be accepted: at most [`MAX_FORMULA_CHARS`]
//!   characters and [`MAX_FORMULA_DEPTH`] levels. It can be longer than the text because it
//!   writes every `*` and writes `²` as `^2`, and deeper because `S²²²` becomes `((S^2)^2)^2`, so
//!   a long superscript chain counts as a power chain. Checking this at parse time is what makes
//!   the round trip hold for every formula that parses.
//!
//! Syntax errors carry the 0-based position, counted in characters of the text as passed to
//! [`Formula::parse`] (leading whitespace included), and the offending character or token.
//!
//! # Evaluation
//!
//! The program performs exactly the IEEE 754 double operations written, in the order written:
//! no constant folding, no reassociation, no fused multiply-add. Every power, `²` and `³`
//! included, is [`f64::powf`]; there is no `powi` or `x*x` shortcut, so `S²` and `S^2` compile to
//! the same program and always give the same bits. The same formula with the same inputs gives
//! bit-identical results on one platform; across platforms the last bit of a power can differ,
//! because `powf` comes from the platform's math library. For the same reason, Rust code that
//! writes `x.powf(2.0)` with a literal exponent may be compiled to `x * x` and differ from the
//! formula `x²` in the last bit, so tests that compare with hand-written arithmetic need a
//! tolerance.
//!
//! Dividing by zero (of either sign, even `0/0`) is [`EvalError::DivisionByZero`]. Any other
//! operation whose result is not finite, such as the overflow in `10^400` or the NaN of
//! `(-8)^(1/3)`, is [`EvalError::NonFinite`] at the operation where it happens, so an overflow
//! cannot vanish later as in `1/10^400`. A non-finite parameter value is
//! [`EvalError::NonFiniteParameter`].
//!
//! # Canonical text
//!
//! [`Formula::canonical`] writes the formula with ASCII operators, an explicit `*` for every
//! multiplication, `^2`/`^3` for superscripts, no whitespace, the fewest parentheses that keep
//! the same program (parentheses are kept where floating point would change, as in `a*(b*c)`),
//! unary `+` dropped, and every number in its shortest round-trip decimal form (`.50` → `0.5`).
//! Parsing the canonical text again gives an identical program with the same parameters in the
//! same order, so two formulas have the same canonical text exactly when they compile to the same
//! program, which is why coefficient sets hash the canonical text rather than the text.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

/// The longest accepted formula, in characters of the trimmed text; longer text is rejected.
///
/// The manuals' formulas are a few dozen characters long; the limit keeps a malformed table cell
/// from turning into a large program.
pub const MAX_FORMULA_CHARS: usize = 256;

/// The deepest accepted nesting of parentheses, unary signs and power chains.
pub const MAX_FORMULA_DEPTH: usize = 32;

/// A parsed and compiled coefficient formula. See the [module documentation](self) for the
/// notation.
///
/// Equality compares the text as well as the program, so `16S` and `16*S` are different values;
/// compare [`Formula::canonical`] to ask whether two formulas compute the same thing.
#[derive(Debug, Clone, PartialEq)]
pub struct Formula {
    /// The text as given, trimmed.
    text: String,
    /// Distinct parameter names in order of first appearance; `Op::Param(i)` reads slot `i`.
    parameters: Vec<String>,
    /// The postfix program.
    program: Vec<Op>,
    /// The most values the program holds on its stack at once.
    stack_len: usize,
    /// The canonical text, rendered once while parsing.
    canonical: String,
}

/// Why a formula text was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FormulaError {
    /// The text is empty or only whitespace.
    #[error("formula is empty")]
    Empty,
    /// The trimmed text has more than [`MAX_FORMULA_CHARS`] characters.
    #[error("formula has {chars} characters, more than the maximum of {max}")]
    TooLong {
        /// Characters in the trimmed text.
        chars: usize,
        /// The limit.
        max: usize,
    },
    /// The text or its canonical form nests more than [`MAX_FORMULA_DEPTH`] levels deep.
    #[error("formula is nested more than {max} levels deep")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// The canonical form has more than [`MAX_FORMULA_CHARS`] characters, so it could not be
    /// parsed back.
    #[error("canonical form of the formula has {chars} characters, more than the maximum of {max}")]
    CanonicalTooLong {
        /// Characters in the canonical text.
        chars: usize,
        /// The limit.
        max: usize,
    },
    /// A character that belongs to no token.
    #[error("unexpected character `{ch}` at position {pos}")]
    UnexpectedChar {
        /// 0-based character position.
        pos: usize,
        /// The character as written.
        ch: char,
    },
    /// The text ends where an operand is needed, as in `2+` or `-`.
    #[error("unexpected end of formula")]
    UnexpectedEnd,
    /// A token that cannot stand where it stands, as the `3` in `2 3` or the `*` in `*2`.
    #[error("unexpected `{found}` at position {pos}")]
    UnexpectedToken {
        /// 0-based character position.
        pos: usize,
        /// The token as written.
        found: String,
    },
    /// A `(` that is never closed, or a `)` that closes nothing.
    #[error("unbalanced parenthesis at position {pos}")]
    UnbalancedParenthesis {
        /// 0-based character position of the parenthesis.
        pos: usize,
    },
    /// `()` with nothing inside.
    #[error("empty parentheses at position {pos}")]
    EmptyParentheses {
        /// 0-based character position of the `(`.
        pos: usize,
    },
    /// Digits and dots that are not a number, such as `1.2.3` or a lone `.`.
    #[error("malformed number `{text}` at position {pos}")]
    BadNumber {
        /// 0-based character position.
        pos: usize,
        /// The number as written.
        text: String,
    },
    /// A number in exponent notation such as `2.5e-3`, which is not supported.
    #[error("exponent notation `{text}` at position {pos} is not supported")]
    ExponentNotation {
        /// 0-based character position.
        pos: usize,
        /// The number and its exponent as written.
        text: String,
    },
    /// A number too large for an `f64`. Within [`MAX_FORMULA_CHARS`] no number is, so this is a
    /// safeguard should the limit ever grow.
    #[error("number `{text}` at position {pos} is not finite")]
    NonFiniteNumber {
        /// 0-based character position.
        pos: usize,
        /// The number as written.
        text: String,
    },
}

/// Why a formula could not be evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// The lookup of [`Formula::eval_with`] has no value for this parameter.
    #[error("missing value for parameter `{0}`")]
    MissingParameter(String),
    /// A parameter value is infinite or NaN.
    #[error("parameter `{name}` has non-finite value `{value}`")]
    NonFiniteParameter {
        /// The parameter.
        name: String,
        /// Its value.
        value: f64,
    },
    /// A division by zero (of either sign).
    #[error("division by zero")]
    DivisionByZero,
    /// An operation gave an infinite or NaN result.
    #[error("an intermediate or final result is not finite")]
    NonFinite,
    /// [`Formula::eval`] got a different number of values than the formula has parameters.
    #[error("expected {expected} parameter values, got {got}")]
    ArityMismatch {
        /// The number of parameters.
        expected: usize,
        /// The number of values given.
        got: usize,
    },
}

impl Formula {
    /// Parses and compiles a formula. Leading and trailing whitespace is ignored.
    pub fn parse(text: &str) -> Result<Formula, FormulaError> {
        parse_with_limit(text, MAX_FORMULA_CHARS)
    }

    /// The text as given (trimmed).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Distinct parameter names in order of first appearance.
    pub fn parameters(&self) -> &[String] {
        &self.parameters
    }

    /// The value when the formula has no parameters (a plain number like `2.94` or
    /// `(1-0.15)*2`). `None` when it has parameters or when evaluating it fails, as for `1/0`;
    /// [`Formula::eval`] with no values tells why.
    pub fn constant_value(&self) -> Option<f64> {
        if self.parameters.is_empty() {
            self.eval(&[]).ok()
        } else {
            None
        }
    }

    /// Evaluates with `values` aligned to [`Formula::parameters`]. Never panics: a length
    /// mismatch is [`EvalError::ArityMismatch`].
    pub fn eval(&self, values: &[f64]) -> Result<f64, EvalError> {
        if values.len() != self.parameters.len() {
            return Err(EvalError::ArityMismatch {
                expected: self.parameters.len(),
                got: values.len(),
            });
        }
        if let Some((name, &value)) = self
            .parameters
            .iter()
            .zip(values)
            .find(|(_, value)| !value.is_finite())
        {
            return Err(EvalError::NonFiniteParameter {
                name: name.clone(),
                value,
            });
        }
        // Most coefficients are plain numbers: the same value the program would give, without
        // setting up a stack for every result.
        if let [Op::Const(value)] = self.program[..] {
            return Ok(value);
        }
        // Nearly every formula fits the small array, which is cheap to set up on each call; the
        // larger one covers the deepest program the parser accepts (see `EVAL_STACK`).
        let result = if self.stack_len <= SMALL_STACK {
            self.run(values, &mut [0.0; SMALL_STACK])
        } else {
            self.run(values, &mut [0.0; EVAL_STACK])
        };
        result.map_err(EvalError::from)
    }

    /// Evaluates, looking each parameter up by name once, in the order of
    /// [`Formula::parameters`]. A parameter the lookup has no value for is
    /// [`EvalError::MissingParameter`] with its name.
    pub fn eval_with(&self, mut lookup: impl FnMut(&str) -> Option<f64>) -> Result<f64, EvalError> {
        let mut resolve =
            |name: &String| lookup(name).ok_or_else(|| EvalError::MissingParameter(name.clone()));
        let count = self.parameters.len();
        if count <= INLINE_PARAMETERS {
            let mut values = [0.0; INLINE_PARAMETERS];
            for (slot, name) in values.iter_mut().zip(&self.parameters) {
                *slot = resolve(name)?;
            }
            self.eval(&values[..count])
        } else {
            let values = self
                .parameters
                .iter()
                .map(resolve)
                .collect::<Result<Vec<f64>, EvalError>>()?;
            self.eval(&values)
        }
    }

    /// The canonical text: ASCII operators, explicit `*`, minimal parentheses and numbers in
    /// shortest round-trip form, so that parsing it again gives the identical program. See the
    /// [module documentation](self#canonical-text).
    pub fn canonical(&self) -> String {
        self.canonical.clone()
    }
}

impl fmt::Display for Formula {
    /// Writes [`Formula::canonical`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical)
    }
}

impl FromStr for Formula {
    type Err = FormulaError;

    fn from_str(text: &str) -> Result<Formula, FormulaError> {
        Formula::parse(text)
    }
}

/// The stack array for ordinary formulas, which need only a few values (`0.00026Aar²+0.0103Aar`
/// needs three); it is set up on every call, so it is kept small.
const SMALL_STACK: usize = 8;

/// The stack array for the rest. Each nesting level holds at most two values more than the
/// one it stands in (the left operands of a `+` and a `*` waiting for a parenthesized right
/// operand, as in `1+1*(…)`), and the innermost level, which can open nothing more, holds at
/// most three (`1+1*1`), so `2 * MAX_FORMULA_DEPTH + 3` values suffice; the rest is margin. The
/// parser still rejects a program that would need more, so `run` can never index past it.
const EVAL_STACK: usize = 2 * MAX_FORMULA_DEPTH + 8;

/// Parameters resolved on the stack by `eval_with`; more than this are collected in a `Vec`.
const INLINE_PARAMETERS: usize = 16;

/// One instruction of the postfix program.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    /// Push a (finite, non-negative) number.
    Const(f64),
    /// Push the value of a parameter slot.
    Param(usize),
    /// Negate the top value.
    Neg,
    /// Pop the right operand and combine it into the left one.
    Binary(Binary),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

/// How an operation fails. Kept apart from `EvalError`, which owns `String`s, so that the
/// evaluation loop passes a one-byte error rather than a large `Result`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    DivisionByZero,
    NonFinite,
}

impl From<Fault> for EvalError {
    fn from(fault: Fault) -> EvalError {
        match fault {
            Fault::DivisionByZero => EvalError::DivisionByZero,
            Fault::NonFinite => EvalError::NonFinite,
        }
    }
}

impl Binary {
    fn apply(self, lhs: f64, rhs: f64) -> Result<f64, Fault> {
        let value = match self {
            Binary::Add => lhs + rhs,
            Binary::Sub => lhs - rhs,
            Binary::Mul => lhs * rhs,
            Binary::Div if rhs == 0.0 => return Err(Fault::DivisionByZero),
            Binary::Div => lhs / rhs,
            Binary::Pow => lhs.powf(rhs),
        };
        if value.is_finite() {
            Ok(value)
        } else {
            Err(Fault::NonFinite)
        }
    }

    fn symbol(self) -> char {
        match self {
            Binary::Add => '+',
            Binary::Sub => '-',
            Binary::Mul => '*',
            Binary::Div => '/',
            Binary::Pow => '^',
        }
    }
}

impl Formula {
    /// Runs the program. The parser only builds well-formed programs whose stack need is
    /// `stack_len <= stack.len()`, and `eval` has checked that `values` has one value per slot,
    /// so the indexing below stays in bounds.
    fn run(&self, values: &[f64], stack: &mut [f64]) -> Result<f64, Fault> {
        let mut len = 0;
        for op in &self.program {
            match *op {
                Op::Const(value) => {
                    stack[len] = value;
                    len += 1;
                }
                Op::Param(slot) => {
                    stack[len] = values[slot];
                    len += 1;
                }
                Op::Neg => stack[len - 1] = -stack[len - 1],
                Op::Binary(binary) => {
                    len -= 1;
                    stack[len - 1] = binary.apply(stack[len - 1], stack[len])?;
                }
            }
        }
        Ok(stack[0])
    }
}

/// Parses with a configurable length limit. `Formula::parse` uses `MAX_FORMULA_CHARS`; the tests
/// lift the limit to show that the depth limit alone keeps the parser's recursion bounded.
fn parse_with_limit(text: &str, max_chars: usize) -> Result<Formula, FormulaError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(FormulaError::Empty);
    }
    let chars = trimmed.chars().count();
    if chars > max_chars {
        return Err(FormulaError::TooLong {
            chars,
            max: max_chars,
        });
    }
    // Lexing the untrimmed text keeps error positions relative to what the caller passed.
    let mut parser = Parser {
        text,
        tokens: lex(text)?,
        next: 0,
        program: Vec::new(),
        parameters: Vec::new(),
    };
    let piece = parser.expr(0)?;
    if let Some(token) = parser.tokens.get(parser.next) {
        return Err(match token.tok {
            Tok::Close => FormulaError::UnbalancedParenthesis { pos: token.pos },
            _ => parser.unexpected(),
        });
    }
    if piece.depth > MAX_FORMULA_DEPTH {
        return Err(FormulaError::TooDeep {
            max: MAX_FORMULA_DEPTH,
        });
    }
    let canonical_chars = piece.text.chars().count();
    if canonical_chars > max_chars {
        return Err(FormulaError::CanonicalTooLong {
            chars: canonical_chars,
            max: max_chars,
        });
    }
    let stack_len = stack_len(&parser.program);
    if stack_len > EVAL_STACK {
        // Unreachable within the depth limit (see `EVAL_STACK`), but if it were reached the
        // program would be too deep for the evaluator, which is what this error says.
        return Err(FormulaError::TooDeep {
            max: MAX_FORMULA_DEPTH,
        });
    }
    Ok(Formula {
        text: trimmed.to_owned(),
        parameters: parser.parameters,
        program: parser.program,
        stack_len,
        canonical: piece.text,
    })
}

/// The most values a program holds on its stack at once.
fn stack_len(program: &[Op]) -> usize {
    let (mut len, mut max) = (0usize, 0usize);
    for op in program {
        match op {
            Op::Const(_) | Op::Param(_) => {
                len += 1;
                max = max.max(len);
            }
            Op::Neg => {}
            Op::Binary(_) => len = len.saturating_sub(1),
        }
    }
    max
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Number(f64),
    Ident(String),
    Plus,
    Minus,
    Times,
    Divide,
    Caret,
    Square,
    Cube,
    Open,
    Close,
}

#[derive(Debug)]
struct Token {
    tok: Tok,
    /// 0-based character position in the text.
    pos: usize,
    /// Byte range in the text, to quote the token as written.
    span: Range<usize>,
}

fn lex(text: &str) -> Result<Vec<Token>, FormulaError> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let folded = |i: usize| chars.get(i).map(|&(_, c)| fold_width(c));
    let byte = |i: usize| chars.get(i).map_or(text.len(), |&(b, _)| b);
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&(_, raw)) = chars.get(i) {
        let start = i;
        let c = fold_width(raw);
        let tok = if raw.is_whitespace() {
            i += 1;
            continue;
        } else if c.is_ascii_digit() || c == '.' {
            // Take every digit and dot, so that `1.2.3` is reported whole rather than as `1.2`
            // followed by a stray `.3`.
            while folded(i).is_some_and(|c| c.is_ascii_digit() || c == '.') {
                i += 1;
            }
            if let Some(end) = exponent_end(&folded, i) {
                return Err(FormulaError::ExponentNotation {
                    pos: start,
                    text: text[byte(start)..byte(end)].to_owned(),
                });
            }
            let written = || text[byte(start)..byte(i)].to_owned();
            let literal: String = (start..i).filter_map(folded).collect();
            let well_formed =
                literal.matches('.').count() <= 1 && literal.contains(|c: char| c.is_ascii_digit());
            let value = match literal.parse::<f64>() {
                Ok(value) if well_formed => value,
                _ => {
                    return Err(FormulaError::BadNumber {
                        pos: start,
                        text: written(),
                    });
                }
            };
            if !value.is_finite() {
                return Err(FormulaError::NonFiniteNumber {
                    pos: start,
                    text: written(),
                });
            }
            Tok::Number(value)
        } else if let Some(tok) = symbol(c) {
            i += 1;
            tok
        } else if is_identifier_start(c) {
            while folded(i).is_some_and(is_identifier_continue) {
                i += 1;
            }
            Tok::Ident((start..i).filter_map(folded).collect())
        } else {
            return Err(FormulaError::UnexpectedChar {
                pos: start,
                ch: raw,
            });
        };
        tokens.push(Token {
            tok,
            pos: start,
            span: byte(start)..byte(i),
        });
    }
    Ok(tokens)
}

/// Where an exponent suffix (`e5`, `E-3`, `e+2`) directly after a number at `i` ends, if there
/// is one.
fn exponent_end(folded: &impl Fn(usize) -> Option<char>, i: usize) -> Option<usize> {
    if !matches!(folded(i), Some('e' | 'E')) {
        return None;
    }
    let mut j = i + 1;
    if matches!(folded(j), Some('+' | '-' | '\u{2212}')) {
        j += 1;
    }
    if !folded(j).is_some_and(|c| c.is_ascii_digit()) {
        return None;
    }
    while folded(j).is_some_and(|c| c.is_ascii_digit()) {
        j += 1;
    }
    Some(j)
}

/// Reads a full-width form (U+FF01–U+FF5E) as the ASCII character it stands for.
fn fold_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

fn symbol(c: char) -> Option<Tok> {
    Some(match c {
        '+' => Tok::Plus,
        // U+2212 MINUS SIGN.
        '-' | '\u{2212}' => Tok::Minus,
        // U+00D7 MULTIPLICATION SIGN, U+00B7 MIDDLE DOT, U+22C5 DOT OPERATOR, U+2219 BULLET
        // OPERATOR: the manuals use all of them for a product.
        '*' | '\u{00D7}' | '\u{00B7}' | '\u{22C5}' | '\u{2219}' => Tok::Times,
        // U+00F7 DIVISION SIGN.
        '/' | '\u{00F7}' => Tok::Divide,
        '^' => Tok::Caret,
        '\u{00B2}' => Tok::Square,
        '\u{00B3}' => Tok::Cube,
        '(' => Tok::Open,
        ')' => Tok::Close,
        _ => return None,
    })
}

/// Superscript characters, which are Unicode "numeric" or even letters (`ⁿ`) but never part of
/// a name: `S²` must be a square, and `S⁴` an error rather than a parameter.
fn is_superscript(c: char) -> bool {
    matches!(
        c,
        '\u{00B2}' | '\u{00B3}' | '\u{00B9}' | '\u{2070}'..='\u{207F}'
    )
}

fn is_identifier_start(c: char) -> bool {
    (c.is_alphabetic() || c == '_') && !is_superscript(c)
}

fn is_identifier_continue(c: char) -> bool {
    (c.is_alphanumeric() || c == '_') && !is_superscript(c)
}

/// Binding strength of a rendered piece of canonical text, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Prec {
    Sum,
    Product,
    Unary,
    Power,
    Atom,
}

/// The canonical text of a subexpression, built alongside its program so that the two cannot
/// disagree.
#[derive(Debug)]
struct Piece {
    text: String,
    prec: Prec,
    /// The nesting level that parsing `text` reaches, counted as the parser counts it.
    depth: usize,
}

impl Piece {
    fn atom(text: String) -> Piece {
        Piece {
            text,
            prec: Prec::Atom,
            depth: 0,
        }
    }

    /// This piece as an operand that must bind at least as tightly as `min`, in parentheses if
    /// it does not.
    fn at_least(self, min: Prec) -> Piece {
        if self.prec >= min {
            self
        } else {
            Piece {
                text: format!("({})", self.text),
                prec: Prec::Atom,
                depth: self.depth + 1,
            }
        }
    }

    fn negated(self) -> Piece {
        let operand = self.at_least(Prec::Unary);
        Piece {
            text: format!("-{}", operand.text),
            prec: Prec::Unary,
            depth: operand.depth + 1,
        }
    }

    fn combine(self, op: Binary, rhs: Piece) -> Piece {
        // The right operand must bind more tightly than a left-associative operator, so that
        // `a-(b-c)` and `a*(b*c)` keep their parentheses; a power's base must be an atom
        // because `^` is right-associative and binds tighter than a sign.
        let (prec, lhs_min, rhs_min) = match op {
            Binary::Add | Binary::Sub => (Prec::Sum, Prec::Sum, Prec::Product),
            Binary::Mul | Binary::Div => (Prec::Product, Prec::Product, Prec::Unary),
            Binary::Pow => (Prec::Power, Prec::Atom, Prec::Unary),
        };
        let lhs = self.at_least(lhs_min);
        let rhs = rhs.at_least(rhs_min);
        // An exponent is parsed one level deeper than its base.
        let rhs_depth = rhs.depth + usize::from(op == Binary::Pow);
        Piece {
            text: format!("{}{}{}", lhs.text, op.symbol(), rhs.text),
            prec,
            depth: lhs.depth.max(rhs_depth),
        }
    }
}

/// A recursive-descent parser that emits the postfix program and the canonical text as it goes.
/// Every recursive call passes through `deeper`, so the recursion depth is bounded by
/// `MAX_FORMULA_DEPTH` times the handful of frames per level.
struct Parser<'t> {
    text: &'t str,
    tokens: Vec<Token>,
    next: usize,
    program: Vec<Op>,
    parameters: Vec<String>,
}

/// The nesting level one deeper than `depth`, or `TooDeep`.
fn deeper(depth: usize) -> Result<usize, FormulaError> {
    if depth < MAX_FORMULA_DEPTH {
        Ok(depth + 1)
    } else {
        Err(FormulaError::TooDeep {
            max: MAX_FORMULA_DEPTH,
        })
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.next).map(|token| &token.tok)
    }

    /// The error for the token at `next`, or for the end of the text.
    fn unexpected(&self) -> FormulaError {
        match self.tokens.get(self.next) {
            Some(token) => FormulaError::UnexpectedToken {
                pos: token.pos,
                found: self.text[token.span.clone()].to_owned(),
            },
            None => FormulaError::UnexpectedEnd,
        }
    }

    /// expr := term (('+' | '-') term)*
    fn expr(&mut self, depth: usize) -> Result<Piece, FormulaError> {
        let mut acc = self.term(depth)?;
        loop {
            let op = match self.peek() {
                Some(Tok::Plus) => Binary::Add,
                Some(Tok::Minus) => Binary::Sub,
                _ => return Ok(acc),
            };
            self.next += 1;
            let rhs = self.term(depth)?;
            self.program.push(Op::Binary(op));
            acc = acc.combine(op, rhs);
        }
    }

    /// term := unary (('*' | '/') unary | power)*, the bare `power` being implicit
    /// multiplication, which cannot start with a sign (`2-S` is a subtraction).
    fn term(&mut self, depth: usize) -> Result<Piece, FormulaError> {
        let mut acc = self.unary(depth)?;
        loop {
            let (op, rhs) = match self.peek() {
                Some(Tok::Times) => {
                    self.next += 1;
                    (Binary::Mul, self.unary(depth)?)
                }
                Some(Tok::Divide) => {
                    self.next += 1;
                    (Binary::Div, self.unary(depth)?)
                }
                Some(_) if self.juxtaposed() => (Binary::Mul, self.power(depth)?),
                _ => return Ok(acc),
            };
            self.program.push(Op::Binary(op));
            acc = acc.combine(op, rhs);
        }
    }

    /// Whether the token at `next` starts an operand that multiplies the one just read.
    fn juxtaposed(&self) -> bool {
        let previous = self.next.checked_sub(1).and_then(|i| self.tokens.get(i));
        let (Some(previous), Some(next)) = (previous, self.tokens.get(self.next)) else {
            return false;
        };
        match previous.tok {
            Tok::Number(_) => matches!(next.tok, Tok::Ident(_) | Tok::Open),
            Tok::Ident(_) => matches!(next.tok, Tok::Open),
            Tok::Close => matches!(next.tok, Tok::Number(_) | Tok::Ident(_) | Tok::Open),
            Tok::Square | Tok::Cube => matches!(next.tok, Tok::Ident(_) | Tok::Open),
            _ => false,
        }
    }

    /// unary := ('+' | '-')* power. The signs are counted in a loop rather than by recursion,
    /// each one a level deeper.
    fn unary(&mut self, depth: usize) -> Result<Piece, FormulaError> {
        let mut depth = depth;
        let mut negations = 0usize;
        loop {
            match self.peek() {
                Some(Tok::Plus) => {}
                Some(Tok::Minus) => negations += 1,
                _ => break,
            }
            self.next += 1;
            depth = deeper(depth)?;
        }
        let mut piece = self.power(depth)?;
        for _ in 0..negations {
            self.program.push(Op::Neg);
            piece = piece.negated();
        }
        Ok(piece)
    }

    /// power := primary ('²' | '³')* ('^' unary)?, so `^` is right-associative and its
    /// exponent may carry a sign.
    fn power(&mut self, depth: usize) -> Result<Piece, FormulaError> {
        let mut base = self.primary(depth)?;
        loop {
            let exponent = match self.peek() {
                Some(Tok::Square) => 2.0,
                Some(Tok::Cube) => 3.0,
                _ => break,
            };
            self.next += 1;
            self.program.push(Op::Const(exponent));
            self.program.push(Op::Binary(Binary::Pow));
            base = base.combine(Binary::Pow, Piece::atom(format!("{exponent}")));
        }
        if matches!(self.peek(), Some(Tok::Caret)) {
            self.next += 1;
            let exponent = self.unary(deeper(depth)?)?;
            self.program.push(Op::Binary(Binary::Pow));
            base = base.combine(Binary::Pow, exponent);
        }
        Ok(base)
    }

    /// primary := number | name | '(' expr ')'
    fn primary(&mut self, depth: usize) -> Result<Piece, FormulaError> {
        let Some(token) = self.tokens.get(self.next) else {
            return Err(FormulaError::UnexpectedEnd);
        };
        let pos = token.pos;
        match &token.tok {
            Tok::Number(value) => {
                let value = *value;
                self.next += 1;
                self.program.push(Op::Const(value));
                // `Display` for f64 is the shortest decimal that parses back to the same bits,
                // and never uses exponent notation, so the lexer reads it back exactly.
                Ok(Piece::atom(format!("{value}")))
            }
            Tok::Ident(name) => {
                let slot = match self.parameters.iter().position(|known| known == name) {
                    Some(slot) => slot,
                    None => {
                        self.parameters.push(name.clone());
                        self.parameters.len() - 1
                    }
                };
                let piece = Piece::atom(name.clone());
                self.next += 1;
                self.program.push(Op::Param(slot));
                Ok(piece)
            }
            Tok::Open => {
                if matches!(
                    self.tokens.get(self.next + 1),
                    Some(Token {
                        tok: Tok::Close,
                        ..
                    })
                ) {
                    return Err(FormulaError::EmptyParentheses { pos });
                }
                self.next += 1;
                // The source's parentheses are not kept: `Piece::at_least` puts back exactly
                // those the canonical text needs.
                let inner = self.expr(deeper(depth)?)?;
                match self.peek() {
                    Some(Tok::Close) => {
                        self.next += 1;
                        Ok(inner)
                    }
                    None => Err(FormulaError::UnbalancedParenthesis { pos }),
                    Some(_) => Err(self.unexpected()),
                }
            }
            _ => Err(self.unexpected()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::{assert_relative_eq, relative_eq};
    use proptest::prelude::*;
    use std::hint::black_box;

    /// Expected values are written by hand as decimal literals or Rust expressions, which may
    /// round or associate differently from the compiled program by a few ULPs (about 1e-16
    /// relative); 1e-12 is far above that and far below any real mistake in a coefficient.
    const REL_TOL: f64 = 1e-12;

    /// Parameter names and values, in order of first appearance in the formula.
    type Params<'a> = &'a [(&'a str, f64)];

    /// Parses `text`, checks its parameters are exactly the names of `params` in that order,
    /// evaluates it with `params` and compares with `expected`; also checks the canonical round
    /// trip.
    fn check(text: &str, params: Params<'_>, expected: f64) {
        let formula = Formula::parse(text).unwrap_or_else(|e| panic!("`{text}` should parse: {e}"));
        let names: Vec<&str> = params.iter().map(|&(name, _)| name).collect();
        assert_eq!(
            formula.parameters(),
            names.as_slice(),
            "parameters of `{text}`"
        );
        let lookup = |name: &str| params.iter().find(|&&(n, _)| n == name).map(|&(_, v)| v);
        let got = formula
            .eval_with(lookup)
            .unwrap_or_else(|e| panic!("`{text}` should evaluate: {e}"));
        assert_relative_eq!(got, expected, max_relative = REL_TOL);
        let values: Vec<f64> = params.iter().map(|&(_, v)| v).collect();
        assert_eq!(
            formula.eval(&values).map(f64::to_bits),
            Ok(got.to_bits()),
            "`{text}`"
        );
        assert_round_trip(&formula);
    }

    fn check_err(text: &str, expected: FormulaError) {
        assert_eq!(Formula::parse(text), Err(expected), "`{text}`");
    }

    fn assert_round_trip(formula: &Formula) {
        let canonical = formula.canonical();
        let again = Formula::parse(&canonical).unwrap_or_else(|e| {
            panic!(
                "canonical `{canonical}` of `{}` should parse: {e}",
                formula.text()
            )
        });
        assert_eq!(
            again.program,
            formula.program,
            "`{}` → `{canonical}`",
            formula.text()
        );
        assert_eq!(again.parameters, formula.parameters);
        assert_eq!(again.canonical, canonical);
    }

    #[test]
    fn manual_notation() {
        let s = 2.5;
        let aar = 20.0;
        let vdaf = 30.0;
        let cases: &[(&str, Params, f64)] = &[
            // Products as the manuals write them.
            ("16S", &[("S", s)], 16.0 * s),
            ("16×S", &[("S", s)], 16.0 * s),
            ("16*S", &[("S", s)], 16.0 * s),
            ("16 S", &[("S", s)], 16.0 * s),
            ("16·S", &[("S", s)], 16.0 * s),
            ("16⋅S", &[("S", s)], 16.0 * s),
            ("16∙S", &[("S", s)], 16.0 * s),
            ("16＊S", &[("S", s)], 16.0 * s),
            ("１６Ｓ", &[("S", s)], 16.0 * s),
            ("16\u{3000}S", &[("S", s)], 16.0 * s),
            ("  16S \t", &[("S", s)], 16.0 * s),
            (
                "0.00026Aar²+0.0103Aar",
                &[("Aar", aar)],
                0.00026 * aar * aar + 0.0103 * aar,
            ),
            (
                "0.00026 Aar^2 + 0.0103 Aar",
                &[("Aar", aar)],
                0.00026 * aar * aar + 0.0103 * aar,
            ),
            ("(1-0.15)·Vdaf", &[("Vdaf", vdaf)], (1.0 - 0.15) * vdaf),
            ("（1－0.15）×Vdaf", &[("Vdaf", vdaf)], (1.0 - 0.15) * vdaf),
            ("(1−0.15)×Vdaf", &[("Vdaf", vdaf)], (1.0 - 0.15) * vdaf),
            (
                "16×Sar×(1−η)",
                &[("Sar", 1.2), ("η", 0.8)],
                16.0 * 1.2 * (1.0 - 0.8),
            ),
            ("硫分*2", &[("硫分", 1.5)], 3.0),
            (
                "0.5Aar²Vdaf",
                &[("Aar", aar), ("Vdaf", vdaf)],
                0.5 * aar * aar * vdaf,
            ),
            // Numbers.
            ("2.94", &[], 2.94),
            (".5", &[], 0.5),
            ("5.", &[], 5.0),
            ("8271", &[], 8271.0),
            ("007", &[], 7.0),
            ("１．５", &[], 1.5),
            // Powers.
            ("S^2", &[("S", 3.0)], 9.0),
            ("S²", &[("S", 3.0)], 9.0),
            ("S³", &[("S", 3.0)], 27.0),
            ("S ²", &[("S", 3.0)], 9.0),
            ("2^3^2", &[], 512.0),
            ("2^3²", &[], 512.0),
            ("2²^3", &[], 64.0),
            ("(2^3)^2", &[], 64.0),
            ("S²²", &[("S", 2.0)], 16.0),
            ("-S^2", &[("S", 3.0)], -9.0),
            ("-2²", &[], -4.0),
            ("(-2)²", &[], 4.0),
            ("2^-1", &[], 0.5),
            ("2 ^ - 1", &[], 0.5),
            ("4^0.5", &[], 2.0),
            // Division.
            ("6÷4", &[], 1.5),
            ("6/4", &[], 1.5),
            ("6／4", &[], 1.5),
            ("8/2/2", &[], 2.0),
            // Implicit multiplication.
            ("2(1+S)", &[("S", 1.0)], 4.0),
            ("2 (1+S)", &[("S", 1.0)], 4.0),
            ("(1+S)(2)", &[("S", 1.0)], 4.0),
            ("(1+S)2", &[("S", 1.0)], 4.0),
            ("(1+S)S", &[("S", 2.0)], 6.0),
            ("S(1+S)", &[("S", 2.0)], 6.0),
            ("S²(1+S)", &[("S", 2.0)], 12.0),
            ("16S²", &[("S", 3.0)], 144.0),
            ("1/2S", &[("S", 4.0)], 2.0),
            ("2^3S", &[("S", 2.0)], 16.0),
            ("2e", &[("e", 3.0)], 6.0),
            ("2 e5", &[("e5", 3.0)], 6.0),
            // Precedence and signs.
            ("1+2*3", &[], 7.0),
            ("(1+2)*3", &[], 9.0),
            ("1-2-3", &[], -4.0),
            ("2*3/4", &[], 1.5),
            ("--2", &[], 2.0),
            ("-+-2", &[], 2.0),
            ("+S", &[("S", 2.0)], 2.0),
            ("2--3", &[], 5.0),
            ("2*-3", &[], -6.0),
            ("-2S", &[("S", 3.0)], -6.0),
            // Names.
            ("S2+S", &[("S2", 1.0), ("S", 2.0)], 3.0),
            ("Ｓ+S", &[("S", 2.0)], 4.0),
            ("_k*Q_net", &[("_k", 2.0), ("Q_net", 3.0)], 6.0),
            ("Aar+S+Aar", &[("Aar", 1.0), ("S", 2.0)], 4.0),
        ];
        for &(text, params, expected) in cases {
            check(text, params, expected);
        }
    }

    #[test]
    fn canonical_text() {
        let cases = [
            ("16S", "16*S"),
            ("16 × S", "16*S"),
            ("0.00026Aar²+0.0103Aar", "0.00026*Aar^2+0.0103*Aar"),
            ("（1－0.15）×Vdaf", "(1-0.15)*Vdaf"),
            ("2^3^2", "2^3^2"),
            ("2^(3^2)", "2^3^2"),
            ("(2^3)^2", "(2^3)^2"),
            ("S²²", "(S^2)^2"),
            ("S³", "S^3"),
            ("-S^2", "-S^2"),
            ("(-S)^2", "(-S)^2"),
            ("-(S^2)", "-S^2"),
            ("-(S+1)", "-(S+1)"),
            ("-(2*S)", "-(2*S)"),
            ("(-2)*S", "-2*S"),
            ("a-(b-c)", "a-(b-c)"),
            ("(a-b)-c", "a-b-c"),
            ("a+(b+c)", "a+(b+c)"),
            ("a*(b*c)", "a*(b*c)"),
            ("a/(b*c)", "a/(b*c)"),
            ("(a*b)+c", "a*b+c"),
            ("((S))", "S"),
            ("+S", "S"),
            ("2*-S", "2*-S"),
            ("2-(-S)", "2--S"),
            ("2^(-S)", "2^-S"),
            ("1/2S", "1/2*S"),
            ("2(1+S)", "2*(1+S)"),
            ("(1+S)(2)", "(1+S)*2"),
            (".5", "0.5"),
            ("5.", "5"),
            ("0.10", "0.1"),
            ("007", "7"),
            ("Ｓ", "S"),
        ];
        for (text, canonical) in cases {
            let formula = Formula::parse(text).unwrap_or_else(|e| panic!("`{text}`: {e}"));
            assert_eq!(formula.canonical(), canonical, "`{text}`");
            assert_eq!(formula.to_string(), canonical, "`{text}`");
            assert_eq!(formula.text(), text.trim());
            assert_round_trip(&formula);
        }
    }

    #[test]
    fn syntax_errors() {
        use FormulaError::*;
        let token = |pos: usize, found: &str| UnexpectedToken {
            pos,
            found: found.to_owned(),
        };
        let cases = [
            ("", Empty),
            (" \t\u{3000}", Empty),
            ("16S#", UnexpectedChar { pos: 3, ch: '#' }),
            ("  16S#", UnexpectedChar { pos: 5, ch: '#' }),
            ("1,500", UnexpectedChar { pos: 1, ch: ',' }),
            ("1，5", UnexpectedChar { pos: 1, ch: '，' }),
            ("S%", UnexpectedChar { pos: 1, ch: '%' }),
            ("a=1", UnexpectedChar { pos: 1, ch: '=' }),
            ("a;b", UnexpectedChar { pos: 1, ch: ';' }),
            ("S⁴", UnexpectedChar { pos: 1, ch: '⁴' }),
            (
                "1.2.3",
                BadNumber {
                    pos: 0,
                    text: "1.2.3".to_owned(),
                },
            ),
            (
                "2*.",
                BadNumber {
                    pos: 2,
                    text: ".".to_owned(),
                },
            ),
            (
                "2e5",
                ExponentNotation {
                    pos: 0,
                    text: "2e5".to_owned(),
                },
            ),
            (
                "S*2.5E-3",
                ExponentNotation {
                    pos: 2,
                    text: "2.5E-3".to_owned(),
                },
            ),
            ("2 3", token(2, "3")),
            ("S 2", token(2, "2")),
            ("S T", token(2, "T")),
            ("S²2", token(2, "2")),
            ("*2", token(0, "*")),
            ("2*/3", token(2, "/")),
            ("2**3", token(2, "*")),
            ("²", token(0, "²")),
            ("2×÷S", token(2, "÷")),
            ("(1 2)", token(3, "2")),
            ("(1+)", token(3, ")")),
            ("2+", UnexpectedEnd),
            ("2*", UnexpectedEnd),
            ("S^", UnexpectedEnd),
            ("-", UnexpectedEnd),
            ("()", EmptyParentheses { pos: 0 }),
            ("2+( )", EmptyParentheses { pos: 2 }),
            ("(1+2", UnbalancedParenthesis { pos: 0 }),
            ("（1＋2", UnbalancedParenthesis { pos: 0 }),
            ("((1)", UnbalancedParenthesis { pos: 0 }),
            ("1+2)", UnbalancedParenthesis { pos: 3 }),
            ("(1+2))", UnbalancedParenthesis { pos: 5 }),
        ];
        for (text, expected) in cases {
            check_err(text, expected);
        }
    }

    #[test]
    fn error_messages() {
        let message = |text: &str| Formula::parse(text).unwrap_err().to_string();
        assert_eq!(message("16S#"), "unexpected character `#` at position 3");
        assert_eq!(message("2 3"), "unexpected `3` at position 2");
        assert_eq!(message("1.2.3"), "malformed number `1.2.3` at position 0");
        assert_eq!(message("(1"), "unbalanced parenthesis at position 0");
        assert_eq!(message(""), "formula is empty");
        assert_eq!(
            message(&"1".repeat(300)),
            "formula has 300 characters, more than the maximum of 256"
        );
        assert_eq!(
            message(&"(".repeat(40)),
            "formula is nested more than 32 levels deep"
        );
        let eval = |text: &str, values: &[f64]| {
            Formula::parse(text)
                .unwrap()
                .eval(values)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(eval("1/S", &[0.0]), "division by zero");
        assert_eq!(
            eval("S", &[f64::INFINITY]),
            "parameter `S` has non-finite value `inf`"
        );
        assert_eq!(eval("S", &[]), "expected 1 parameter values, got 0");
        let missing = Formula::parse("S+Aar")
            .unwrap()
            .eval_with(|_| None)
            .unwrap_err();
        assert_eq!(missing.to_string(), "missing value for parameter `S`");
    }

    #[test]
    fn length_limit() {
        let longest = format!("11{}", "+1".repeat(127));
        assert_eq!(longest.chars().count(), MAX_FORMULA_CHARS);
        check(&longest, &[], 11.0 + 127.0);
        check_err(
            &format!("1{longest}"),
            FormulaError::TooLong {
                chars: 257,
                max: 256,
            },
        );
        // Characters, not bytes, are counted.
        let chinese = format!("硫{}", "+硫".repeat(127));
        assert_eq!(
            Formula::parse(&chinese).map(|f| f.parameters().len()),
            Ok(1)
        );
        // Surrounding whitespace does not count.
        assert!(Formula::parse(&format!("   {longest}   ")).is_ok());
        check_err(
            &"9".repeat(300),
            FormulaError::TooLong {
                chars: 300,
                max: 256,
            },
        );
        // `2S` is 2 characters but its canonical `2*S` is 3, so this 254-character text has a
        // 339-character canonical form, which could not be parsed back.
        let implicit = format!("2S{}", "+2S".repeat(84));
        assert_eq!(implicit.chars().count(), 254);
        check_err(
            &implicit,
            FormulaError::CanonicalTooLong {
                chars: 339,
                max: 256,
            },
        );
    }

    #[test]
    fn depth_limit() {
        let too_deep = FormulaError::TooDeep {
            max: MAX_FORMULA_DEPTH,
        };
        let parens = |n: usize| format!("{}1{}", "(".repeat(n), ")".repeat(n));
        check(&parens(32), &[], 1.0);
        check_err(&parens(33), too_deep.clone());
        check_err(&parens(40), too_deep.clone());
        let signs = |n: usize| format!("{}1", "-".repeat(n));
        check(&signs(32), &[], 1.0);
        check_err(&signs(33), too_deep.clone());
        let powers = |n: usize| format!("1{}", "^1".repeat(n));
        check(&powers(32), &[], 1.0);
        check_err(&powers(33), too_deep.clone());
        let squares = |n: usize| format!("S{}", "²".repeat(n));
        check(&squares(32), &[("S", 1.0)], 1.0);
        check_err(&squares(33), too_deep.clone());
        // Levels add up across kinds: each `-(` opens two.
        let mixed = |n: usize| format!("{}1{}", "-(".repeat(n), ")".repeat(n));
        check(&mixed(16), &[], 1.0);
        check_err(&mixed(17), too_deep);
    }

    #[test]
    fn parser_is_stack_safe_beyond_the_length_limit() {
        let too_deep = Err(FormulaError::TooDeep {
            max: MAX_FORMULA_DEPTH,
        });
        let texts = [
            "(".repeat(100_000),
            format!("{}1", "-".repeat(100_000)),
            format!("2{}", "^2".repeat(10_000)),
            format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000)),
        ];
        for text in &texts {
            let chars = text.chars().count();
            assert_eq!(
                Formula::parse(text),
                Err(FormulaError::TooLong { chars, max: 256 })
            );
            // Without the length limit the depth limit alone stops the parser.
            assert_eq!(parse_with_limit(text, usize::MAX), too_deep);
        }
        // A number too large for an f64 can only occur past the length limit.
        let huge = format!("1{}", "0".repeat(400));
        assert_eq!(
            parse_with_limit(&huge, usize::MAX),
            Err(FormulaError::NonFiniteNumber {
                pos: 0,
                text: huge.clone()
            })
        );
    }

    #[test]
    fn deepest_programs_fit_the_eval_stack() {
        // Each level keeps the left operands of `+` and `*` waiting, the most stack a level can
        // hold; the innermost `1+1*1` adds three.
        let sums = format!("{}1+1*1{}", "1+1*(".repeat(32), ")".repeat(32));
        let powers = format!("{}1{}", "1+1*1^(".repeat(16), ")".repeat(16));
        let implicit = format!("{}1+2S{}", "1+2(".repeat(32), ")".repeat(32));
        for text in [&sums, &powers, &implicit] {
            let formula = Formula::parse(text).unwrap_or_else(|e| panic!("{e}"));
            assert!(
                formula.stack_len > SMALL_STACK,
                "`{text}` needs {}",
                formula.stack_len
            );
            assert!(
                formula.stack_len <= EVAL_STACK,
                "`{text}` needs {}",
                formula.stack_len
            );
            assert!(formula.eval_with(|_| Some(1.0)).is_ok());
        }
        assert_eq!(
            Formula::parse(&sums).unwrap().stack_len,
            2 * MAX_FORMULA_DEPTH + 3
        );
        check(&sums, &[], 34.0);
    }

    #[test]
    fn evaluation_errors() {
        let eval = |text: &str, values: &[f64]| Formula::parse(text).unwrap().eval(values);
        assert_eq!(eval("1/0", &[]), Err(EvalError::DivisionByZero));
        assert_eq!(eval("0/0", &[]), Err(EvalError::DivisionByZero));
        assert_eq!(eval("1/-0", &[]), Err(EvalError::DivisionByZero));
        assert_eq!(eval("1/(S-S)", &[1.0]), Err(EvalError::DivisionByZero));
        assert_eq!(eval("10^400", &[]), Err(EvalError::NonFinite));
        // The overflow is caught where it happens, not hidden by the division after it.
        assert_eq!(eval("1/10^400", &[]), Err(EvalError::NonFinite));
        assert_eq!(eval("(-8)^(1/3)", &[]), Err(EvalError::NonFinite));
        assert_eq!(eval("S*S", &[1e200]), Err(EvalError::NonFinite));
        assert_eq!(
            eval("S+1", &[f64::NEG_INFINITY]),
            Err(EvalError::NonFiniteParameter {
                name: "S".to_owned(),
                value: f64::NEG_INFINITY
            })
        );
        assert!(matches!(
            eval("Aar+S", &[1.0, f64::NAN]),
            Err(EvalError::NonFiniteParameter { name, value }) if name == "S" && value.is_nan()
        ));
        assert_eq!(
            eval("S+Aar", &[1.0]),
            Err(EvalError::ArityMismatch {
                expected: 2,
                got: 1
            })
        );
        assert_eq!(
            eval("2", &[1.0]),
            Err(EvalError::ArityMismatch {
                expected: 0,
                got: 1
            })
        );
    }

    #[test]
    fn missing_parameter_is_named() {
        let formula = Formula::parse("16S+Aar").unwrap();
        let only_s = |name: &str| (name == "S").then_some(1.0);
        assert_eq!(
            formula.eval_with(only_s),
            Err(EvalError::MissingParameter("Aar".to_owned()))
        );
        // Each parameter is looked up once, in order of first appearance.
        let mut asked = Vec::new();
        let formula = Formula::parse("Aar*S+S*Aar+Vdaf").unwrap();
        let value = formula.eval_with(|name| {
            asked.push(name.to_owned());
            Some(2.0)
        });
        assert_eq!(value, Ok(10.0));
        assert_eq!(asked, ["Aar", "S", "Vdaf"]);
    }

    #[test]
    fn many_parameters_are_resolved_on_the_heap() {
        let names: Vec<String> = (0..40).map(|i| format!("p{i}")).collect();
        let formula = Formula::parse(&names.join("+")).unwrap();
        assert_eq!(formula.parameters(), names.as_slice());
        assert_eq!(formula.eval_with(|_| Some(0.5)), Ok(20.0));
        assert_eq!(
            formula.eval_with(|name| (name != "p39").then_some(0.5)),
            Err(EvalError::MissingParameter("p39".to_owned()))
        );
    }

    #[test]
    fn constant_value() {
        assert_eq!(Formula::parse("2.94").unwrap().constant_value(), Some(2.94));
        assert_eq!(
            Formula::parse("(1-0.15)*2").unwrap().constant_value(),
            Some((1.0 - 0.15) * 2.0)
        );
        assert_eq!(Formula::parse("-0.5").unwrap().constant_value(), Some(-0.5));
        assert_eq!(Formula::parse("16S").unwrap().constant_value(), None);
        assert_eq!(Formula::parse("1/0").unwrap().constant_value(), None);
        assert_eq!(
            "8271".parse::<Formula>().unwrap().constant_value(),
            Some(8271.0)
        );
    }

    /// A random expression tree and a manual-style rendering of it, with full-width forms,
    /// superscripts, implicit multiplication and redundant parentheses.
    #[derive(Debug, Clone)]
    enum Tree {
        Num(String),
        Var(usize),
        Neg(Box<Tree>, usize),
        Bin(Binary, usize, Box<Tree>, Box<Tree>),
        Square(Box<Tree>, bool),
        Cube(Box<Tree>, bool),
    }

    const VARS: [&str; 2] = ["S", "Aar"];

    fn pick(options: &[&'static str], style: usize) -> &'static str {
        options[style % options.len()]
    }

    impl Tree {
        fn is_leaf(&self) -> bool {
            matches!(self, Tree::Num(_) | Tree::Var(_))
        }

        /// Renders the tree so that it can stand as an operand: a leaf as itself, anything
        /// else in parentheses.
        fn render(&self) -> String {
            let group = |inner: String, style: usize| {
                let open = pick(&["(", "（", "( "], style);
                let close = pick(&[")", "）", " )"], style / 3);
                format!("{open}{inner}{close}")
            };
            match self {
                Tree::Num(text) => text.clone(),
                Tree::Var(i) => VARS[*i].to_owned(),
                Tree::Neg(x, style) => group(
                    format!("{}{}", pick(&["-", "−", "－", "- "], *style), x.render()),
                    *style,
                ),
                Tree::Square(x, sup) => group(
                    format!("{}{}", x.render(), if *sup { "²" } else { "^2" }),
                    0,
                ),
                Tree::Cube(x, sup) => group(
                    format!("{}{}", x.render(), if *sup { "³" } else { "^3" }),
                    1,
                ),
                Tree::Bin(op, style, a, b) => {
                    let (ra, rb) = (a.render(), b.render());
                    let glyph = match op {
                        Binary::Add => pick(&["+", "＋", " + "], *style),
                        Binary::Sub => pick(&["-", "−", "－", " - "], *style),
                        Binary::Mul => pick(&["*", "×", "·", "⋅", "∙", "＊", "", " "], *style),
                        Binary::Div => pick(&["/", "÷", "／"], *style),
                        Binary::Pow => pick(&["^", " ^ "], *style),
                    };
                    let inner = if glyph.trim().is_empty() {
                        // Implicit multiplication: allowed after a number, a name before `(`,
                        // or a `)`; otherwise parenthesize the leaves to make it allowed.
                        let juxtaposable = match (&**a, &**b) {
                            (Tree::Num(_), Tree::Var(_)) => true,
                            (Tree::Num(_) | Tree::Var(_), y) => !y.is_leaf(),
                            (_, _) => true,
                        };
                        if juxtaposable {
                            format!("{ra}{glyph}{rb}")
                        } else {
                            format!("({ra}){glyph}({rb})")
                        }
                    } else {
                        format!("{ra}{glyph}{rb}")
                    };
                    group(inner, *style)
                }
            }
        }

        /// Evaluates the tree directly by recursion, independently of the parser and the
        /// program, with the same IEEE operations and the same checks.
        fn eval(&self, values: &[f64; 2]) -> Result<f64, EvalError> {
            let finite = |value: f64| {
                if value.is_finite() {
                    Ok(value)
                } else {
                    Err(EvalError::NonFinite)
                }
            };
            match self {
                Tree::Num(text) => Ok(text.parse().unwrap()),
                Tree::Var(i) => Ok(values[*i]),
                Tree::Neg(x, _) => Ok(-x.eval(values)?),
                // `black_box` keeps the compiler from turning `powf(x, 2.0)` with a literal
                // exponent into `x * x`, which can differ in the last bit from the library
                // `pow` that the program always calls.
                Tree::Square(x, _) => finite(x.eval(values)?.powf(black_box(2.0))),
                Tree::Cube(x, _) => finite(x.eval(values)?.powf(black_box(3.0))),
                Tree::Bin(op, _, a, b) => {
                    let (lhs, rhs) = (a.eval(values)?, b.eval(values)?);
                    match op {
                        Binary::Add => finite(lhs + rhs),
                        Binary::Sub => finite(lhs - rhs),
                        Binary::Mul => finite(lhs * rhs),
                        Binary::Div if rhs == 0.0 => Err(EvalError::DivisionByZero),
                        Binary::Div => finite(lhs / rhs),
                        Binary::Pow => finite(lhs.powf(rhs)),
                    }
                }
            }
        }
    }

    fn number() -> impl Strategy<Value = String> {
        (0u32..100_000, 0usize..5, any::<bool>()).prop_map(|(n, scale, bare)| {
            if scale == 0 {
                return n.to_string();
            }
            let digits = format!("{n:0width$}", width = scale + 1);
            let (int, frac) = digits.split_at(digits.len() - scale);
            if bare && int == "0" {
                format!(".{frac}")
            } else {
                format!("{int}.{frac}")
            }
        })
    }

    fn tree() -> impl Strategy<Value = Tree> {
        let leaf = prop_oneof![
            number().prop_map(Tree::Num),
            (0usize..2).prop_map(Tree::Var)
        ];
        leaf.prop_recursive(6, 48, 2, |inner| {
            let op = prop::sample::select(
                &[
                    Binary::Add,
                    Binary::Sub,
                    Binary::Mul,
                    Binary::Div,
                    Binary::Pow,
                ][..],
            );
            prop_oneof![
                1 => (inner.clone(), 0usize..12)
                    .prop_map(|(x, style)| Tree::Neg(Box::new(x), style)),
                1 => (inner.clone(), any::<bool>())
                    .prop_map(|(x, sup)| Tree::Square(Box::new(x), sup)),
                1 => (inner.clone(), any::<bool>())
                    .prop_map(|(x, sup)| Tree::Cube(Box::new(x), sup)),
                4 => (op, 0usize..24, inner.clone(), inner)
                    .prop_map(|(op, style, a, b)| Tree::Bin(op, style, Box::new(a), Box::new(b))),
            ]
        })
    }

    /// Same bits when both are `Ok`, the same error otherwise.
    fn same(a: &Result<f64, EvalError>, b: &Result<f64, EvalError>) -> bool {
        match (a, b) {
            (Ok(x), Ok(y)) => x.to_bits() == y.to_bits(),
            (Err(x), Err(y)) => x == y,
            _ => false,
        }
    }

    /// Pieces formulas are made of, so that random sequences of them reach deep into the
    /// parser far more often than random characters do.
    const PIECES: &[&str] = &[
        "1", "2.5", "16", "0", "S", "Aar", "硫分", "e", "(", ")", "（", "）", "(", ")", "+", "-",
        "−", "-", "*", "×", "·", "/", "÷", "^", "²", "³", " ",
    ];

    fn assert_accepted_formula_round_trips(text: &str) -> Result<(), TestCaseError> {
        if let Ok(formula) = Formula::parse(text) {
            let again = Formula::parse(&formula.canonical());
            prop_assert!(
                again.is_ok(),
                "`{}` → `{}`: {:?}",
                text,
                formula.canonical(),
                again
            );
            let again = again.unwrap();
            prop_assert_eq!(&again.program, &formula.program);
            prop_assert_eq!(&again.canonical, &formula.canonical);
            let values = vec![1.5; formula.parameters().len()];
            prop_assert!(same(&formula.eval(&values), &again.eval(&values)));
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn canonical_round_trip_is_bit_identical(
            tree in tree(),
            s in -50.0f64..50.0,
            aar in -50.0f64..50.0,
        ) {
            let text = tree.render();
            let formula = match Formula::parse(&text) {
                Ok(formula) => formula,
                // Big trees can exceed the limits; every other rendering must parse.
                Err(
                    FormulaError::TooLong { .. }
                    | FormulaError::TooDeep { .. }
                    | FormulaError::CanonicalTooLong { .. },
                ) => return Ok(()),
                Err(error) => return Err(TestCaseError::fail(format!("`{text}`: {error}"))),
            };
            let values = [s, aar];
            let lookup = |name: &str| VARS.iter().position(|&v| v == name).map(|i| values[i]);
            let expected = tree.eval(&values);
            let got = formula.eval_with(lookup);
            prop_assert!(same(&got, &expected), "`{}`: {:?} vs tree {:?}", text, got, expected);

            let canonical = formula.canonical();
            let again = Formula::parse(&canonical);
            prop_assert!(again.is_ok(), "`{}` → `{}`: {:?}", text, canonical, again);
            let again = again.unwrap();
            prop_assert_eq!(&again.program, &formula.program);
            prop_assert_eq!(again.parameters(), formula.parameters());
            prop_assert_eq!(&again.canonical(), &canonical);
            let got_again = again.eval_with(lookup);
            prop_assert!(same(&got_again, &got), "`{}`: {:?} vs {:?}", canonical, got_again, got);
        }

        #[test]
        fn sixteen_s_is_linear(s in -1e6f64..1e6, t in -1e6f64..1e6) {
            for text in ["16S", "16×S", "16*S", "16 S", "16·S", "16⋅S", "16∙S"] {
                let formula = Formula::parse(text).unwrap();
                let f = |x: f64| formula.eval(&[x]).unwrap();
                prop_assert_eq!(f(s).to_bits(), (16.0 * s).to_bits());
                // Scaling by 16 is exact in binary floating point, so both sides are in fact
                // equal; the tolerance keeps this a check of linearity rather than of rounding,
                // and the absolute `epsilon` covers sums that cancel to near zero.
                let close = |a: f64, b: f64| relative_eq!(a, b, epsilon = 1e-9, max_relative = REL_TOL);
                prop_assert!(close(f(s + t), f(s) + f(t)));
                prop_assert!(close(f(3.0 * s), 3.0 * f(s)));
            }
        }

        #[test]
        fn parse_never_panics(chars in prop::collection::vec(any::<char>(), 0..300)) {
            let text: String = chars.into_iter().collect();
            assert_accepted_formula_round_trips(&text)?;
        }

        #[test]
        fn parse_never_panics_on_formula_pieces(
            pieces in prop::collection::vec(prop::sample::select(PIECES), 0..60),
        ) {
            assert_accepted_formula_round_trips(&pieces.concat())?;
        }
    }
}
