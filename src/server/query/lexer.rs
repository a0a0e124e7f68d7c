//! The tokenizer of the query evaluator: SQL text in, a list of tokens out.
//!
//! It knows just enough SQL lexing for the statements clients send on
//! connect: bare words, `backquoted` names, 'single' and "double" quoted
//! strings (backslash escapes and doubled quotes, as MySQL's default
//! `sql_mode`), numbers, `@user` and `@@[global.|session.]system` variables,
//! and punctuation. Comments (`/* */`, `-- `, `#`) are skipped; the contents
//! of executable comments (`/*!40101 … */`, `/*M!100100 … */`) are lexed as
//! code, as the servers do. Every token keeps its byte span in the source,
//! because a `SELECT` column is named after the expression text as written.

/// Which value of a system variable `@@…` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    /// `@@name`: the session value if there is one, else the global value.
    Default,
    /// `@@global.name`.
    Global,
    /// `@@session.name` or `@@local.name`.
    Session,
}

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum TokenKind {
    /// A bare word: keyword, identifier or function name (see [`Token::text`]).
    Word,
    /// A `backquoted` identifier, quotes removed.
    Ident(String),
    /// A quoted string literal, escapes resolved.
    Str(String),
    /// A number literal (see [`Token::text`]).
    Number,
    /// `@name`.
    UserVar(String),
    /// `@@[global.|session.|local.]name`.
    SysVar(Scope, String),
    /// One punctuation character; `:=` arrives as `=`.
    Punct(char),
}

/// One token and where it sits in the statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Token<'a> {
    /// What it is.
    pub(super) kind: TokenKind,
    /// The source text of the token.
    pub(super) text: &'a str,
    /// Byte offset of its first character.
    pub(super) start: usize,
    /// Byte offset just past it.
    pub(super) end: usize,
}

impl Token<'_> {
    /// True for the bare word `kw` (ASCII case-insensitive).
    pub(super) fn is_keyword(&self, kw: &str) -> bool {
        self.kind == TokenKind::Word && self.text.eq_ignore_ascii_case(kw)
    }

    /// True for the punctuation `c`.
    pub(super) fn is_punct(&self, c: char) -> bool {
        self.kind == TokenKind::Punct(c)
    }

    /// The identifier a bare word or backquoted name spells.
    pub(super) fn name(&self) -> Option<&str> {
        match &self.kind {
            TokenKind::Word => Some(self.text),
            TokenKind::Ident(name) => Some(name),
            _ => None,
        }
    }
}

/// Why a statement could not be tokenized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LexError {
    /// A quote without its closing quote.
    UnterminatedString,
    /// A `/*` without `*/`.
    UnterminatedComment,
    /// A character that starts no token (e.g. a lone `@`).
    UnexpectedChar(char),
}

/// Splits `sql` into tokens.
pub(super) fn tokenize(sql: &str) -> Result<Vec<Token<'_>>, LexError> {
    let mut lexer = Lexer { src: sql, bytes: sql.as_bytes(), pos: 0, open_exec_comments: 0 };
    let mut tokens = Vec::new();
    while let Some(token) = lexer.next_token()? {
        tokens.push(token);
    }
    Ok(tokens)
}

/// A cursor over the statement's bytes; only ASCII bytes are ever
/// interpreted, so spans always fall on UTF-8 boundaries.
struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Executable comments whose `*/` is still to come.
    open_exec_comments: usize,
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

impl<'a> Lexer<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    fn starts_with(&self, s: &str) -> bool {
        self.bytes.get(self.pos..).is_some_and(|rest| rest.starts_with(s.as_bytes()))
    }

    fn token(&self, kind: TokenKind, start: usize) -> Token<'a> {
        let text = self.src.get(start..self.pos).unwrap_or_default();
        Token { kind, text, start, end: self.pos }
    }

    fn next_token(&mut self) -> Result<Option<Token<'a>>, LexError> {
        self.skip_blanks()?;
        let start = self.pos;
        let Some(b) = self.peek() else { return Ok(None) };
        let kind = match b {
            b'\'' | b'"' => TokenKind::Str(self.quoted(b)?),
            b'`' => TokenKind::Ident(self.quoted(b'`')?),
            b'@' if self.peek_at(1) == Some(b'@') => self.system_variable()?,
            b'@' => self.user_variable()?,
            b'0'..=b'9' => self.number_or_word(),
            b'.' if self.peek_at(1).is_some_and(|d| d.is_ascii_digit()) => self.number_or_word(),
            b':' if self.peek_at(1) == Some(b'=') => {
                self.pos += 2;
                TokenKind::Punct('=')
            }
            _ if is_ident_byte(b) => {
                self.eat_ident();
                TokenKind::Word
            }
            _ if b.is_ascii_punctuation() => {
                self.pos += 1;
                TokenKind::Punct(char::from(b))
            }
            _ => return Err(LexError::UnexpectedChar(char::from(b))),
        };
        Ok(Some(self.token(kind, start)))
    }

    /// Skips whitespace and comments.
    fn skip_blanks(&mut self) -> Result<(), LexError> {
        loop {
            match self.peek() {
                Some(b) if b.is_ascii_whitespace() => self.pos += 1,
                Some(b'#') => self.skip_line(),
                Some(b'-')
                    if self.peek_at(1) == Some(b'-')
                        && self.peek_at(2).is_none_or(|b| b.is_ascii_whitespace()) =>
                {
                    self.skip_line();
                }
                Some(b'*') if self.open_exec_comments > 0 && self.peek_at(1) == Some(b'/') => {
                    self.open_exec_comments -= 1;
                    self.pos += 2;
                }
                Some(b'/') if self.peek_at(1) == Some(b'*') => self.skip_comment()?,
                _ => return Ok(()),
            }
        }
    }

    fn skip_line(&mut self) {
        while let Some(b) = self.peek() {
            self.pos += 1;
            if b == b'\n' {
                break;
            }
        }
    }

    /// Skips `/* … */`, or opens an executable comment `/*!NNNNN` / `/*M!NNNNNN`.
    fn skip_comment(&mut self) -> Result<(), LexError> {
        if self.starts_with("/*!") || self.starts_with("/*M!") {
            self.pos += if self.starts_with("/*!") { 3 } else { 4 };
            while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                self.pos += 1;
            }
            self.open_exec_comments += 1;
            return Ok(());
        }
        self.pos += 2;
        loop {
            match self.peek() {
                None => return Err(LexError::UnterminatedComment),
                Some(b'*') if self.peek_at(1) == Some(b'/') => {
                    self.pos += 2;
                    return Ok(());
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    fn eat_ident(&mut self) {
        while self.peek().is_some_and(is_ident_byte) {
            self.pos += 1;
        }
    }

    /// A quoted string or name starting at the quote `q`, unescaped.
    fn quoted(&mut self, q: u8) -> Result<String, LexError> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let b = self.peek().ok_or(LexError::UnterminatedString)?;
            self.pos += 1;
            if b == q {
                if self.peek() == Some(q) {
                    self.pos += 1;
                    out.push(q);
                    continue;
                }
                break;
            }
            if b == b'\\' && q != b'`' {
                let e = self.peek().ok_or(LexError::UnterminatedString)?;
                self.pos += 1;
                match e {
                    b'0' => out.push(0),
                    b'b' => out.push(0x08),
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'Z' => out.push(0x1a),
                    // Kept with the backslash so LIKE still sees them as literals.
                    b'%' | b'_' => out.extend_from_slice(&[b'\\', e]),
                    other => out.push(other),
                }
                continue;
            }
            out.push(b);
        }
        // Only ASCII bytes were replaced, so the bytes are still UTF-8.
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// `@name` or `@'quoted name'`.
    fn user_variable(&mut self) -> Result<TokenKind, LexError> {
        self.pos += 1;
        match self.peek() {
            Some(q @ (b'\'' | b'"' | b'`')) => Ok(TokenKind::UserVar(self.quoted(q)?)),
            Some(b) if is_ident_byte(b) || b == b'.' => {
                let start = self.pos;
                while self.peek().is_some_and(|b| is_ident_byte(b) || b == b'.') {
                    self.pos += 1;
                }
                Ok(TokenKind::UserVar(self.src.get(start..self.pos).unwrap_or_default().to_owned()))
            }
            _ => Err(LexError::UnexpectedChar('@')),
        }
    }

    /// `@@name`, `@@global.name`, `@@session.name`, `@@local.name`.
    fn system_variable(&mut self) -> Result<TokenKind, LexError> {
        self.pos += 2;
        let first = self.name_part()?;
        if self.peek() == Some(b'.') {
            let scope = match first.to_ascii_lowercase().as_str() {
                "global" => Scope::Global,
                "session" | "local" => Scope::Session,
                _ => return Ok(TokenKind::SysVar(Scope::Default, first)),
            };
            self.pos += 1;
            return Ok(TokenKind::SysVar(scope, self.name_part()?));
        }
        Ok(TokenKind::SysVar(Scope::Default, first))
    }

    /// A bare or backquoted name.
    fn name_part(&mut self) -> Result<String, LexError> {
        if self.peek() == Some(b'`') {
            return self.quoted(b'`');
        }
        let start = self.pos;
        self.eat_ident();
        match self.src.get(start..self.pos) {
            Some(name) if !name.is_empty() => Ok(name.to_owned()),
            _ => Err(LexError::UnexpectedChar('@')),
        }
    }

    /// `12`, `1.5`, `.5`, `1e9`; digits running into letters make a word (`1abc`).
    fn number_or_word(&mut self) -> TokenKind {
        let digits = |l: &mut Self| {
            while l.peek().is_some_and(|b| b.is_ascii_digit()) {
                l.pos += 1;
            }
        };
        digits(self);
        if self.peek() == Some(b'.') {
            self.pos += 1;
            digits(self);
        }
        let exponent_digit = |ahead: usize| self.peek_at(ahead).is_some_and(|b| b.is_ascii_digit());
        if matches!(self.peek(), Some(b'e' | b'E'))
            && (exponent_digit(1)
                || (matches!(self.peek_at(1), Some(b'+' | b'-')) && exponent_digit(2)))
        {
            self.pos += 2;
            digits(self);
        }
        if self.peek().is_some_and(is_ident_byte) {
            self.eat_ident();
            return TokenKind::Word;
        }
        TokenKind::Number
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(sql: &str) -> Vec<TokenKind> {
        tokenize(sql).unwrap().into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn splits_a_set_statement_with_mixed_spacing() {
        let toks = tokenize("SET @master_heartbeat_period= 30000001024").unwrap();
        assert!(toks[0].is_keyword("set"));
        assert_eq!(toks[1].kind, TokenKind::UserVar("master_heartbeat_period".into()));
        assert!(toks[2].is_punct('='));
        assert_eq!((toks[3].kind.clone(), toks[3].text), (TokenKind::Number, "30000001024"));
        assert_eq!(toks.len(), 4);
    }

    #[test]
    fn reads_system_variables_with_scopes() {
        assert_eq!(
            kinds(
                "@@GLOBAL.gtid_domain_id @@session.sql_mode @@local.x @@version_comment \
                 @@global.`a b`"
            ),
            vec![
                TokenKind::SysVar(Scope::Global, "gtid_domain_id".into()),
                TokenKind::SysVar(Scope::Session, "sql_mode".into()),
                TokenKind::SysVar(Scope::Session, "x".into()),
                TokenKind::SysVar(Scope::Default, "version_comment".into()),
                TokenKind::SysVar(Scope::Global, "a b".into()),
            ]
        );
    }

    #[test]
    fn resolves_escapes_and_doubled_quotes() {
        assert_eq!(
            kinds(r"'it''s' 'a\'b' 'x\\y' 'n\nl' 'lit\%'"),
            vec![
                TokenKind::Str("it's".into()),
                TokenKind::Str("a'b".into()),
                TokenKind::Str(r"x\y".into()),
                TokenKind::Str("n\nl".into()),
                TokenKind::Str(r"lit\%".into()),
            ]
        );
        assert_eq!(
            kinds(r#""say ""hi""" "a\"b""#),
            vec![TokenKind::Str("say \"hi\"".into()), TokenKind::Str("a\"b".into()),]
        );
        assert_eq!(kinds("`a``b`"), vec![TokenKind::Ident("a`b".into())]);
    }

    #[test]
    fn keeps_non_ascii_text_intact() {
        assert_eq!(
            kinds("'héllo' `tàble`"),
            vec![TokenKind::Str("héllo".into()), TokenKind::Ident("tàble".into())]
        );
    }

    #[test]
    fn skips_comments_and_lexes_executable_comments() {
        let toks = tokenize("/* hi */ SELECT -- note\n 1 # tail").unwrap();
        assert_eq!(toks.iter().map(|t| t.text).collect::<Vec<_>>(), vec!["SELECT", "1"]);
        let toks = tokenize("/*!40101 SET NAMES utf8 */;").unwrap();
        assert_eq!(
            toks.iter().map(|t| t.text).collect::<Vec<_>>(),
            vec!["SET", "NAMES", "utf8", ";"]
        );
        let toks = tokenize("/*M!100100 SELECT 1*/").unwrap();
        assert_eq!(toks.iter().map(|t| t.text).collect::<Vec<_>>(), vec!["SELECT", "1"]);
    }

    #[test]
    fn reads_numbers_and_words() {
        assert_eq!(
            tokenize("1.5e3 .5 1e 7abc")
                .unwrap()
                .iter()
                .map(|t| (&t.kind, t.text))
                .collect::<Vec<_>>(),
            vec![
                (&TokenKind::Number, "1.5e3"),
                (&TokenKind::Number, ".5"),
                (&TokenKind::Word, "1e"),
                (&TokenKind::Word, "7abc"),
            ]
        );
    }

    #[test]
    fn turns_colon_equals_into_equals_and_keeps_spans() {
        let sql = "SET @a := 1";
        let toks = tokenize(sql).unwrap();
        assert!(toks[2].is_punct('='));
        assert_eq!(&sql[toks[1].start..toks[1].end], "@a");
    }

    #[test]
    fn quoted_user_variable_names() {
        assert_eq!(
            kinds("@'my var' @`x` @a.b"),
            vec![
                TokenKind::UserVar("my var".into()),
                TokenKind::UserVar("x".into()),
                TokenKind::UserVar("a.b".into()),
            ]
        );
    }

    #[test]
    fn reports_unterminated_input() {
        assert_eq!(tokenize("SELECT 'abc"), Err(LexError::UnterminatedString));
        assert_eq!(tokenize("SELECT 'abc\\"), Err(LexError::UnterminatedString));
        assert_eq!(tokenize("SELECT /* x"), Err(LexError::UnterminatedComment));
        assert_eq!(tokenize("SELECT @"), Err(LexError::UnexpectedChar('@')));
        assert_eq!(tokenize("SELECT @@"), Err(LexError::UnexpectedChar('@')));
    }

    #[test]
    fn empty_and_comment_only_input_has_no_tokens() {
        assert!(tokenize("").unwrap().is_empty());
        assert!(tokenize("  /* nothing */ ").unwrap().is_empty());
    }
}
