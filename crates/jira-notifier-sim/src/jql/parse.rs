//! Builds the syntax tree of a JQL query: clauses joined by AND, OR, NOT and parentheses,
//! then an optional ORDER BY.

use super::lex::{error, lex, Pos, Symbol, Tok, Token};

/// Words JQL reserves: unquoted, they cannot be values (Atlassian's published list).
const RESERVED_WORDS: &[&str] = &[
    "abort",
    "access",
    "add",
    "after",
    "alias",
    "all",
    "alter",
    "and",
    "any",
    "as",
    "asc",
    "audit",
    "avg",
    "before",
    "begin",
    "between",
    "boolean",
    "break",
    "by",
    "byte",
    "catch",
    "cf",
    "char",
    "character",
    "check",
    "checkpoint",
    "collate",
    "collation",
    "column",
    "commit",
    "connect",
    "continue",
    "count",
    "create",
    "current",
    "date",
    "decimal",
    "declare",
    "decrement",
    "default",
    "defaults",
    "define",
    "delete",
    "delimiter",
    "desc",
    "difference",
    "distinct",
    "divide",
    "do",
    "double",
    "drop",
    "else",
    "empty",
    "encoding",
    "end",
    "equals",
    "escape",
    "exclusive",
    "exec",
    "execute",
    "exists",
    "explain",
    "false",
    "fetch",
    "file",
    "field",
    "first",
    "float",
    "for",
    "from",
    "function",
    "go",
    "goto",
    "grant",
    "greater",
    "group",
    "having",
    "identified",
    "if",
    "immediate",
    "in",
    "increment",
    "index",
    "initial",
    "inner",
    "inout",
    "input",
    "insert",
    "int",
    "integer",
    "intersect",
    "intersection",
    "into",
    "is",
    "isempty",
    "isnull",
    "join",
    "last",
    "left",
    "less",
    "like",
    "limit",
    "lock",
    "long",
    "max",
    "min",
    "minus",
    "mode",
    "modify",
    "modulo",
    "more",
    "multiply",
    "next",
    "noaudit",
    "not",
    "notin",
    "nowait",
    "null",
    "number",
    "object",
    "of",
    "on",
    "option",
    "or",
    "order",
    "outer",
    "output",
    "power",
    "previous",
    "prior",
    "privileges",
    "public",
    "raise",
    "raw",
    "remainder",
    "rename",
    "resume",
    "return",
    "returns",
    "revoke",
    "right",
    "row",
    "rowid",
    "rownum",
    "rows",
    "select",
    "session",
    "set",
    "share",
    "size",
    "sqrt",
    "start",
    "string",
    "subtract",
    "sum",
    "synonym",
    "table",
    "then",
    "to",
    "trans",
    "transaction",
    "trigger",
    "true",
    "uid",
    "union",
    "unique",
    "update",
    "user",
    "validate",
    "values",
    "view",
    "when",
    "whenever",
    "where",
    "while",
    "with",
];

const VALID_OPERATORS: &str = "The valid operators are '=', '!=', '<', '>', '<=', '>=', '~', \
                               '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'.";

/// A clause's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Symbol(Symbol),
    In,
    NotIn,
    Is,
    IsNot,
}

impl Op {
    pub(crate) const fn text(self) -> &'static str {
        match self {
            Op::Symbol(s) => s.text(),
            Op::In => "in",
            Op::NotIn => "not in",
            Op::Is => "is",
            Op::IsNot => "is not",
        }
    }
}

/// What a clause compares with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Operand {
    Value(String),
    List(Vec<String>),
    /// `EMPTY` or `NULL`.
    Empty,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Clause {
    /// The field name as written.
    pub(crate) field: String,
    pub(crate) op: Op,
    pub(crate) operand: Operand,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Clause(Clause),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SortKey {
    /// The field name as written.
    pub(crate) field: String,
    pub(crate) descending: bool,
}

/// A parsed query. `filter` is `None` for a query without any restriction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Query {
    pub(crate) filter: Option<Expr>,
    pub(crate) order: Vec<SortKey>,
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

fn is_reserved(word: &str) -> bool {
    RESERVED_WORDS.contains(&word.to_ascii_lowercase().as_str())
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        if token.is_some() {
            self.at += 1;
        }
        token
    }

    /// Whether the next token is this keyword (unquoted, any case).
    fn at_keyword(&self, keyword: &str) -> bool {
        self.keyword_at(self.at, keyword)
    }

    fn keyword_at(&self, index: usize, keyword: &str) -> bool {
        matches!(self.tokens.get(index), Some(Token { tok: Tok::Word(w), .. }) if w.eq_ignore_ascii_case(keyword))
    }

    fn query(&mut self) -> Result<Query, String> {
        let filter = if self.peek().is_none() || self.at_order_by() {
            None
        } else {
            Some(self.or()?)
        };
        let mut order = Vec::new();
        if self.at_order_by() {
            self.at += 2;
            order = self.sort_keys()?;
        }
        match self.next() {
            None => Ok(Query { filter, order }),
            Some(t) => Err(error(format_args!(
                "Expecting either 'OR' or 'AND' but got '{}'. {}",
                t.tok, t.pos
            ))),
        }
    }

    fn at_order_by(&self) -> bool {
        self.at_keyword("order") && self.keyword_at(self.at + 1, "by")
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut items = vec![self.and()?];
        while self.at_keyword("or") {
            self.at += 1;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut items = vec![self.not()?];
        while self.at_keyword("and") {
            self.at += 1;
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::And(items)
        })
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.at_keyword("not") {
            self.at += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        if matches!(
            self.peek(),
            Some(Token {
                tok: Tok::LParen,
                ..
            })
        ) {
            self.at += 1;
            let inner = self.or()?;
            return match self.next() {
                Some(Token {
                    tok: Tok::RParen, ..
                }) => Ok(inner),
                Some(t) => Err(error(format_args!(
                    "Expecting ')' but got '{}'. {}",
                    t.tok, t.pos
                ))),
                None => Err(error("Expecting ')' before the end of the query.")),
            };
        }
        Ok(Expr::Clause(self.clause()?))
    }

    fn clause(&mut self) -> Result<Clause, String> {
        let field = match self.next() {
            Some(Token {
                tok: Tok::Quoted(name),
                ..
            }) => name,
            Some(Token {
                tok: Tok::Word(name),
                ..
            }) if !is_reserved(&name) => name,
            Some(t) => {
                return Err(error(format_args!(
                    "Expecting a field name but got '{}'. {}",
                    t.tok, t.pos
                )))
            }
            None => return Err(error("Expecting a field name before the end of the query.")),
        };
        let op = self.operator()?;
        let operand = self.operand(op)?;
        Ok(Clause { field, op, operand })
    }

    fn operator(&mut self) -> Result<Op, String> {
        let Some(token) = self.next() else {
            return Err(error(format_args!(
                "Expecting operator before the end of the query. {VALID_OPERATORS}"
            )));
        };
        let word = |w: &str| matches!(&token.tok, Tok::Word(x) if x.eq_ignore_ascii_case(w));
        if let Tok::Symbol(s) = token.tok {
            Ok(Op::Symbol(s))
        } else if word("in") {
            Ok(Op::In)
        } else if word("not") && self.at_keyword("in") {
            self.at += 1;
            Ok(Op::NotIn)
        } else if word("is") && self.at_keyword("not") {
            self.at += 1;
            Ok(Op::IsNot)
        } else if word("is") {
            Ok(Op::Is)
        } else {
            Err(error(format_args!(
                "Expecting operator but got '{}'. {VALID_OPERATORS} {}",
                token.tok, token.pos
            )))
        }
    }

    fn operand(&mut self, op: Op) -> Result<Operand, String> {
        match op {
            Op::Is | Op::IsNot => match self.next() {
                Some(Token {
                    tok: Tok::Word(w), ..
                }) if w.eq_ignore_ascii_case("empty") || w.eq_ignore_ascii_case("null") => {
                    Ok(Operand::Empty)
                }
                Some(t) => Err(error(format_args!(
                    "Expecting 'EMPTY' or 'NULL' after '{}' but got '{}'. {}",
                    op.text(),
                    t.tok,
                    t.pos
                ))),
                None => Err(error(
                    "Expecting 'EMPTY' or 'NULL' before the end of the query.",
                )),
            },
            Op::In | Op::NotIn => self.list(),
            Op::Symbol(_) => match self.value()? {
                Some(value) => Ok(Operand::Value(value)),
                None => Ok(Operand::Empty),
            },
        }
    }

    fn list(&mut self) -> Result<Operand, String> {
        match self.next() {
            Some(Token {
                tok: Tok::LParen, ..
            }) => {}
            Some(t) => {
                return Err(error(format_args!(
                    "Expecting a list of values but got '{}'. {}",
                    t.tok, t.pos
                )))
            }
            None => {
                return Err(error(
                    "Expecting a list of values before the end of the query.",
                ))
            }
        }
        let mut values = Vec::new();
        loop {
            match self.value()? {
                Some(value) => values.push(value),
                None => {
                    return Err(error(
                        "EMPTY and NULL are not supported inside a list by the simulated Jira.",
                    ))
                }
            }
            match self.next() {
                Some(Token {
                    tok: Tok::Comma, ..
                }) => {}
                Some(Token {
                    tok: Tok::RParen, ..
                }) => return Ok(Operand::List(values)),
                Some(t) => {
                    return Err(error(format_args!(
                        "Expecting ',' or ')' but got '{}'. {}",
                        t.tok, t.pos
                    )))
                }
                None => return Err(error("Expecting ')' before the end of the query.")),
            }
        }
    }

    /// A single value; `None` for `EMPTY` / `NULL`.
    fn value(&mut self) -> Result<Option<String>, String> {
        let Some(token) = self.next() else {
            return Err(error(
                "Expecting either a value, list or function before the end of the query.",
            ));
        };
        match token.tok {
            Tok::Quoted(v) => Ok(Some(v)),
            Tok::Word(w) if w.eq_ignore_ascii_case("empty") || w.eq_ignore_ascii_case("null") => {
                Ok(None)
            }
            Tok::Word(w) if is_reserved(&w) => Err(error(format_args!(
                "The word '{w}' is a reserved JQL word. You must surround it in quotation \
                 marks to use it in a query. {}",
                token.pos
            ))),
            Tok::Word(w) => {
                if matches!(
                    self.peek(),
                    Some(Token {
                        tok: Tok::LParen,
                        ..
                    })
                ) {
                    return Err(error(format_args!(
                        "The simulated Jira does not support the JQL function '{w}()'. {}",
                        token.pos
                    )));
                }
                Ok(Some(w))
            }
            other => Err(value_expected(&other, token.pos)),
        }
    }

    fn sort_keys(&mut self) -> Result<Vec<SortKey>, String> {
        let mut keys = Vec::new();
        loop {
            let field = match self.next() {
                Some(Token {
                    tok: Tok::Word(w) | Tok::Quoted(w),
                    ..
                }) => w,
                Some(t) => {
                    return Err(error(format_args!(
                        "Expecting a field name but got '{}'. {}",
                        t.tok, t.pos
                    )))
                }
                None => return Err(error("Expecting a field name before the end of the query.")),
            };
            let mut descending = false;
            if self.at_keyword("desc") || self.at_keyword("asc") {
                descending = self.at_keyword("desc");
                self.at += 1;
            }
            keys.push(SortKey { field, descending });
            if matches!(
                self.peek(),
                Some(Token {
                    tok: Tok::Comma,
                    ..
                })
            ) {
                self.at += 1;
            } else {
                return Ok(keys);
            }
        }
    }
}

fn value_expected(tok: &Tok, pos: Pos) -> String {
    error(format_args!(
        "Expecting either a value, list or function but got '{tok}'. You must surround \
         '{tok}' in quotation marks to use it as a value. {pos}"
    ))
}

/// Parses a JQL query, or returns Jira's message (starting "Error in the JQL Query:").
pub(crate) fn parse(src: &str) -> Result<Query, String> {
    let tokens = lex(src)?;
    Parser { tokens, at: 0 }.query()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clause(field: &str, op: Op, operand: Operand) -> Expr {
        Expr::Clause(Clause {
            field: field.into(),
            op,
            operand,
        })
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let q = parse("labels = a OR labels in (\"b\", c) and not project = QA order by key desc")
            .unwrap();
        assert_eq!(
            q.filter,
            Some(Expr::Or(vec![
                clause("labels", Op::Symbol(Symbol::Eq), Operand::Value("a".into())),
                Expr::And(vec![
                    clause(
                        "labels",
                        Op::In,
                        Operand::List(vec!["b".into(), "c".into()])
                    ),
                    Expr::Not(Box::new(clause(
                        "project",
                        Op::Symbol(Symbol::Eq),
                        Operand::Value("QA".into())
                    ))),
                ]),
            ]))
        );
        assert_eq!(
            q.order,
            vec![SortKey {
                field: "key".into(),
                descending: true
            }]
        );
    }

    #[test]
    fn recognises_word_operators_and_empty() {
        let q = parse("labels is not EMPTY AND labels not in (x)").unwrap();
        assert_eq!(
            q.filter,
            Some(Expr::And(vec![
                clause("labels", Op::IsNot, Operand::Empty),
                clause("labels", Op::NotIn, Operand::List(vec!["x".into()])),
            ]))
        );
    }

    #[test]
    fn an_order_by_alone_has_no_filter() {
        assert_eq!(parse("order by key").unwrap().filter, None);
        assert_eq!(parse("  ").unwrap().filter, None);
    }

    #[test]
    fn rejects_malformed_queries() {
        for (jql, expected) in [
            ("labels = and", "The word 'and' is a reserved JQL word"),
            ("labels =", "before the end of the query"),
            ("labels", "Expecting operator before the end"),
            (
                "labels = a b",
                "Expecting either 'OR' or 'AND' but got 'b'. (line 1, character 12)",
            ),
            ("(labels = a", "Expecting ')'"),
            ("labels in (a b)", "Expecting ',' or ')' but got 'b'"),
            ("labels = a AND", "Expecting a field name before the end"),
            (
                "assignee = currentUser()",
                "does not support the JQL function 'currentUser()'",
            ),
        ] {
            let err = parse(jql).unwrap_err();
            assert!(err.starts_with("Error in the JQL Query: "), "{jql}: {err}");
            assert!(err.contains(expected), "{jql}: {err}");
        }
    }
}
