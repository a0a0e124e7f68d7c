//! The token cursor and the expression grammar shared by `SET` and `SELECT`.
//!
//! Expressions are single terms only — a literal, a variable, a bare word or
//! a function call with term arguments — because that is all the clients
//! send. Anything richer (`a + b`, sub-selects) is left unparsed, and the
//! statement then gets the "does not understand" error.

use super::lexer::{Scope, Token, TokenKind};

/// A forward-only cursor over a statement's tokens.
#[derive(Debug, Clone)]
pub(super) struct Parser<'t, 'a> {
    toks: &'t [Token<'a>],
    pos: usize,
}

impl<'t, 'a> Parser<'t, 'a> {
    /// A cursor at the first token.
    pub(super) fn new(toks: &'t [Token<'a>]) -> Self {
        Parser { toks, pos: 0 }
    }

    /// The next token, not consumed.
    pub(super) fn peek(&self) -> Option<&'t Token<'a>> {
        self.toks.get(self.pos)
    }

    /// The token `ahead` places after the next one, not consumed.
    pub(super) fn peek_at(&self, ahead: usize) -> Option<&'t Token<'a>> {
        self.toks.get(self.pos + ahead)
    }

    /// Consumes and returns the next token.
    pub(super) fn next(&mut self) -> Option<&'t Token<'a>> {
        let tok = self.toks.get(self.pos)?;
        self.pos += 1;
        Some(tok)
    }

    /// True when every token was consumed.
    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.toks.len()
    }

    /// The last token consumed.
    pub(super) fn last(&self) -> Option<&'t Token<'a>> {
        self.pos.checked_sub(1).and_then(|i| self.toks.get(i))
    }

    /// Consumes the bare word `kw` if it is next.
    pub(super) fn eat_keyword(&mut self, kw: &str) -> bool {
        let hit = self.peek().is_some_and(|t| t.is_keyword(kw));
        if hit {
            self.pos += 1;
        }
        hit
    }

    /// Consumes the words `kws` if they all come next, in order; else nothing.
    pub(super) fn eat_keywords(&mut self, kws: &[&str]) -> bool {
        let hit =
            kws.iter().enumerate().all(|(i, kw)| self.peek_at(i).is_some_and(|t| t.is_keyword(kw)));
        if hit {
            self.pos += kws.len();
        }
        hit
    }

    /// Consumes the first of `kws` that is next and returns it.
    pub(super) fn eat_one_of(&mut self, kws: &[&'static str]) -> Option<&'static str> {
        kws.iter().copied().find(|kw| self.eat_keyword(kw))
    }

    /// Consumes the punctuation `c` if it is next.
    pub(super) fn eat_punct(&mut self, c: char) -> bool {
        let hit = self.peek().is_some_and(|t| t.is_punct(c));
        if hit {
            self.pos += 1;
        }
        hit
    }

    /// Consumes a name (bare word or backquoted) and returns it.
    pub(super) fn name(&mut self) -> Option<&'t str> {
        let name = self.peek()?.name()?;
        self.pos += 1;
        Some(name)
    }

    /// Consumes a string literal and returns it.
    pub(super) fn string(&mut self) -> Option<&'t str> {
        match &self.peek()?.kind {
            TokenKind::Str(s) => {
                self.pos += 1;
                Some(s)
            }
            _ => None,
        }
    }

    /// Consumes a non-negative integer literal.
    pub(super) fn unsigned(&mut self) -> Option<u64> {
        let tok = self.peek()?;
        let n = (tok.kind == TokenKind::Number).then(|| tok.text.parse::<u64>().ok()).flatten()?;
        self.pos += 1;
        Some(n)
    }
}

/// One term of an expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Expr {
    /// `'text'`.
    Str(String),
    /// A number as written, sign included (`-1`, `1.5e3`); `TRUE`/`FALSE` are `1`/`0`.
    Number(String),
    /// `NULL`.
    Null,
    /// `@name`.
    UserVar(String),
    /// `@@[scope.]name`.
    SysVar(Scope, String),
    /// `NAME(args…)`, name upper-cased; `CURRENT_USER` without parentheses too.
    Call(String, Vec<Expr>),
    /// Any other bare word or backquoted name: a column in `SELECT`, a value
    /// such as `ON`, `utf8` or `DEFAULT` in `SET`.
    Word(String),
}

/// Parses one term; `None` (nothing consumed that matters) when the next
/// tokens are not a term this evaluator knows.
pub(super) fn parse_expr(p: &mut Parser<'_, '_>) -> Option<Expr> {
    let tok = p.next()?;
    match &tok.kind {
        TokenKind::Str(s) => Some(Expr::Str(s.clone())),
        TokenKind::Number => Some(Expr::Number(tok.text.to_owned())),
        TokenKind::UserVar(name) => Some(Expr::UserVar(name.clone())),
        TokenKind::SysVar(scope, name) => Some(Expr::SysVar(*scope, name.clone())),
        TokenKind::Punct(sign @ ('-' | '+')) => {
            let number = p.next().filter(|t| t.kind == TokenKind::Number)?;
            let sign = if *sign == '-' { "-" } else { "" };
            Some(Expr::Number(format!("{sign}{}", number.text)))
        }
        TokenKind::Ident(name) => Some(Expr::Word(name.clone())),
        TokenKind::Word => word_expr(p, tok.text),
        TokenKind::Punct(_) => None,
    }
}

/// A bare word: `NULL`, `TRUE`, a function call, or a name.
fn word_expr(p: &mut Parser<'_, '_>, word: &str) -> Option<Expr> {
    if word.eq_ignore_ascii_case("NULL") {
        return Some(Expr::Null);
    }
    if word.eq_ignore_ascii_case("TRUE") || word.eq_ignore_ascii_case("FALSE") {
        let bit = if word.eq_ignore_ascii_case("TRUE") { "1" } else { "0" };
        return Some(Expr::Number(bit.to_owned()));
    }
    if !p.eat_punct('(') {
        if word.eq_ignore_ascii_case("CURRENT_USER") {
            return Some(Expr::Call("CURRENT_USER".to_owned(), Vec::new()));
        }
        return Some(Expr::Word(word.to_owned()));
    }
    let mut args = Vec::new();
    if !p.eat_punct(')') {
        loop {
            args.push(parse_expr(p)?);
            if p.eat_punct(')') {
                break;
            }
            if !p.eat_punct(',') {
                return None;
            }
        }
    }
    Some(Expr::Call(word.to_ascii_uppercase(), args))
}

#[cfg(test)]
mod tests {
    use super::super::lexer::tokenize;
    use super::*;

    fn parse(sql: &str) -> (Option<Expr>, bool) {
        let toks = tokenize(sql).unwrap();
        let mut p = Parser::new(&toks);
        let e = parse_expr(&mut p);
        (e, p.at_end())
    }

    #[test]
    fn parses_terms() {
        assert_eq!(parse("'x'"), (Some(Expr::Str("x".into())), true));
        assert_eq!(parse("-5"), (Some(Expr::Number("-5".into())), true));
        assert_eq!(parse("null"), (Some(Expr::Null), true));
        assert_eq!(parse("TRUE"), (Some(Expr::Number("1".into())), true));
        assert_eq!(parse("@a"), (Some(Expr::UserVar("a".into())), true));
        assert_eq!(
            parse("@@global.binlog_checksum"),
            (Some(Expr::SysVar(Scope::Global, "binlog_checksum".into())), true)
        );
        assert_eq!(parse("ON"), (Some(Expr::Word("ON".into())), true));
        assert_eq!(parse("current_user"), (Some(Expr::Call("CURRENT_USER".into(), vec![])), true));
    }

    #[test]
    fn parses_calls_with_arguments() {
        assert_eq!(
            parse("binlog_gtid_pos('mysql-bin.000005',1336)"),
            (
                Some(Expr::Call(
                    "BINLOG_GTID_POS".into(),
                    vec![Expr::Str("mysql-bin.000005".into()), Expr::Number("1336".into())]
                )),
                true
            )
        );
        assert_eq!(
            parse("UNIX_TIMESTAMP( )"),
            (Some(Expr::Call("UNIX_TIMESTAMP".into(), vec![])), true)
        );
    }

    #[test]
    fn rejects_broken_calls_and_operators() {
        assert_eq!(parse("f(1,").0, None);
        assert_eq!(parse("f(1 2)").0, None);
        assert_eq!(parse("*").0, None);
        assert_eq!(parse("-@a").0, None);
        assert_eq!(parse("1 + 2"), (Some(Expr::Number("1".into())), false));
    }

    #[test]
    fn cursor_helpers_consume_only_on_a_match() {
        let toks = tokenize("SHOW GLOBAL VARIABLES LIKE 'x' 5").unwrap();
        let mut p = Parser::new(&toks);
        assert!(!p.eat_keywords(&["SHOW", "VARIABLES"]));
        assert!(p.eat_keywords(&["show", "global"]));
        assert_eq!(p.eat_one_of(&["STATUS", "VARIABLES"]), Some("VARIABLES"));
        assert!(p.eat_keyword("LIKE"));
        assert_eq!(p.string(), Some("x"));
        assert_eq!(p.unsigned(), Some(5));
        assert!(p.at_end());
        assert!(p.last().unwrap().text == "5");
    }
}
