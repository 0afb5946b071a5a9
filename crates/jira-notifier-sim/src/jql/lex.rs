//! Splits a JQL string into tokens, with Jira's messages for strings that cannot be split.

use std::fmt;

/// Characters JQL reserves: an unquoted value may not contain them.
const RESERVED_CHARS: &[char] = &[
    '+', '.', ';', '?', '|', '*', '/', '%', '^', '$', '#', '@', '[', ']',
];

/// Characters that end an unquoted word.
const DELIMITERS: &[char] = &['(', ')', ',', '=', '!', '<', '>', '~', '"', '\''];

/// Where a token starts, as Jira reports it (both counted from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos {
    pub(crate) line: usize,
    pub(crate) column: usize,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(line {}, character {})", self.line, self.column)
    }
}

/// The comparison operators JQL writes with symbols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Symbol {
    Eq,
    NotEq,
    Like,
    NotLike,
    Lt,
    Gt,
    LtEq,
    GtEq,
}

impl Symbol {
    pub(crate) const fn text(self) -> &'static str {
        match self {
            Symbol::Eq => "=",
            Symbol::NotEq => "!=",
            Symbol::Like => "~",
            Symbol::NotLike => "!~",
            Symbol::Lt => "<",
            Symbol::Gt => ">",
            Symbol::LtEq => "<=",
            Symbol::GtEq => ">=",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// An unquoted word: a field name, a keyword or a value.
    Word(String),
    /// A quoted string, escapes resolved.
    Quoted(String),
    LParen,
    RParen,
    Comma,
    Symbol(Symbol),
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Word(w) | Tok::Quoted(w) => f.write_str(w),
            Tok::LParen => f.write_str("("),
            Tok::RParen => f.write_str(")"),
            Tok::Comma => f.write_str(","),
            Tok::Symbol(s) => f.write_str(s.text()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) pos: Pos,
}

pub(crate) fn error(message: impl fmt::Display) -> String {
    format!("Error in the JQL Query: {message}")
}

struct Lexer {
    chars: Vec<char>,
    at: usize,
    pos: Pos,
}

impl Lexer {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn peek_second(&self) -> Option<char> {
        self.chars.get(self.at + 1).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += 1;
        if c == '\n' {
            self.pos.line += 1;
            self.pos.column = 1;
        } else {
            self.pos.column += 1;
        }
        Some(c)
    }

    fn quoted(&mut self, quote: char, start: Pos) -> Result<String, String> {
        let raw_start = self.at;
        let mut text = String::new();
        loop {
            let escape_pos = self.pos;
            match self.bump() {
                None => {
                    let raw: String = self.chars.get(raw_start..).unwrap_or(&[]).iter().collect();
                    return Err(error(format_args!(
                        "The quoted string '{raw}' has not been completed. {start}"
                    )));
                }
                Some(c) if c == quote => return Ok(text),
                Some('\\') => match self.bump() {
                    None => {
                        let raw: String =
                            self.chars.get(raw_start..).unwrap_or(&[]).iter().collect();
                        return Err(error(format_args!(
                            "The quoted string '{raw}' has not been completed. {start}"
                        )));
                    }
                    Some(c @ ('"' | '\'' | '\\' | ' ')) => text.push(c),
                    Some('n') => text.push('\n'),
                    Some('r') => text.push('\r'),
                    Some('t') => text.push('\t'),
                    Some('u') => text.push(self.unicode_escape(escape_pos)?),
                    Some(other) => {
                        return Err(error(format_args!(
                            "The escape sequence '\\{other}' is not valid. {escape_pos}"
                        )))
                    }
                },
                Some(c) => text.push(c),
            }
        }
    }

    fn unicode_escape(&mut self, escape_pos: Pos) -> Result<char, String> {
        let mut hex = String::new();
        for _ in 0..4 {
            match self.peek() {
                Some(c) if c.is_ascii_hexdigit() => {
                    hex.push(c);
                    self.bump();
                }
                _ => break,
            }
        }
        u32::from_str_radix(&hex, 16)
            .ok()
            .filter(|_| hex.len() == 4)
            .and_then(char::from_u32)
            .ok_or_else(|| {
                error(format_args!(
                    "The escape sequence '\\u{hex}' is not valid. {escape_pos}"
                ))
            })
    }

    fn word(&mut self) -> Result<String, String> {
        let mut word = String::new();
        while let Some(c) = self.peek() {
            if c.is_whitespace() || DELIMITERS.contains(&c) {
                break;
            }
            if RESERVED_CHARS.contains(&c) {
                return Err(reserved_char(c, self.pos));
            }
            word.push(c);
            self.bump();
        }
        Ok(word)
    }
}

fn reserved_char(c: char, pos: Pos) -> String {
    error(format_args!(
        "The character '{c}' is a reserved JQL character. You must enclose it in a string or \
         use the escape '\\u{:04X}' instead. {pos}",
        u32::from(c)
    ))
}

/// The tokens of a JQL string, or Jira's message for the first thing that cannot be read.
pub(crate) fn lex(src: &str) -> Result<Vec<Token>, String> {
    let mut lx = Lexer {
        chars: src.chars().collect(),
        at: 0,
        pos: Pos { line: 1, column: 1 },
    };
    let mut tokens = Vec::new();
    while let Some(c) = lx.peek() {
        let pos = lx.pos;
        if c.is_whitespace() {
            lx.bump();
            continue;
        }
        let two = |second: char, lx: &Lexer| lx.peek_second() == Some(second);
        let tok = match c {
            '(' | ')' | ',' | '=' | '~' => {
                lx.bump();
                match c {
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    ',' => Tok::Comma,
                    '=' => Tok::Symbol(Symbol::Eq),
                    _ => Tok::Symbol(Symbol::Like),
                }
            }
            '!' if two('=', &lx) || two('~', &lx) => {
                lx.bump();
                let symbol = if lx.bump() == Some('=') {
                    Symbol::NotEq
                } else {
                    Symbol::NotLike
                };
                Tok::Symbol(symbol)
            }
            '<' | '>' => {
                let or_equal = two('=', &lx);
                lx.bump();
                if or_equal {
                    lx.bump();
                }
                Tok::Symbol(match (c, or_equal) {
                    ('<', false) => Symbol::Lt,
                    ('<', true) => Symbol::LtEq,
                    (_, false) => Symbol::Gt,
                    (_, true) => Symbol::GtEq,
                })
            }
            '"' | '\'' => {
                lx.bump();
                Tok::Quoted(lx.quoted(c, pos)?)
            }
            '!' => return Err(reserved_char(c, pos)),
            _ => Tok::Word(lx.word()?),
        };
        tokens.push(Token { tok, pos });
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        lex(src).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn splits_clauses_and_resolves_escapes() {
        assert_eq!(
            toks(r#"labels="a \"b\" \\c"AND statusCategory != Done"#),
            vec![
                Tok::Word("labels".into()),
                Tok::Symbol(Symbol::Eq),
                Tok::Quoted(r#"a "b" \c"#.into()),
                Tok::Word("AND".into()),
                Tok::Word("statusCategory".into()),
                Tok::Symbol(Symbol::NotEq),
                Tok::Word("Done".into()),
            ]
        );
        assert_eq!(
            toks("labels in ('x','\\u0041')"),
            vec![
                Tok::Word("labels".into()),
                Tok::Word("in".into()),
                Tok::LParen,
                Tok::Quoted("x".into()),
                Tok::Comma,
                Tok::Quoted("A".into()),
                Tok::RParen,
            ]
        );
    }

    #[test]
    fn reports_positions_like_jira() {
        assert_eq!(
            lex("summary ~ \"unclosed").unwrap_err(),
            "Error in the JQL Query: The quoted string 'unclosed' has not been completed. \
             (line 1, character 11)"
        );
        let err = lex("labels = a.b").unwrap_err();
        assert!(
            err.contains("The character '.' is a reserved JQL character"),
            "{err}"
        );
        assert!(err.ends_with("(line 1, character 11)"), "{err}");
        let err = lex("project = QA\nAND labels = \"x\\qy\"").unwrap_err();
        assert!(
            err.contains("'\\q'") && err.ends_with("(line 2, character 16)"),
            "{err}"
        );
        // A trailing backslash must not escape the end of input into a panic.
        assert!(lex("labels = \"abc\\")
            .unwrap_err()
            .contains("has not been completed"));
    }
}
