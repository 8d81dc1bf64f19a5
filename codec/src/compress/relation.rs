//! Relations a user knows between table columns, such as `px = pt * cos(phi)`. Each gives the
//! residual plan one more witness for its column: the formula evaluated on the decoded columns
//! it names, which must come before the column it predicts. Functions come from the `libm`
//! crate, so every machine computes the same bits and decoding repeats compression exactly.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct Relation {
    /// The column predicted, as an index among the modelled columns.
    pub target: usize,
    expression: Expr,
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Number(f64),
    Column(usize),
    Negate(Box<Expr>),
    Binary(Operator, Box<Expr>, Box<Expr>),
    Call(Function, Vec<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Operator {
    Add,
    Subtract,
    Multiply,
    Divide,
    Power,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Function {
    Sin,
    Cos,
    Tan,
    Sinh,
    Cosh,
    Tanh,
    Exp,
    Log,
    Sqrt,
    Abs,
    Atan2,
    Hypot,
}

const FUNCTIONS: [(&str, Function, usize); 12] = [
    ("sin", Function::Sin, 1),
    ("cos", Function::Cos, 1),
    ("tan", Function::Tan, 1),
    ("sinh", Function::Sinh, 1),
    ("cosh", Function::Cosh, 1),
    ("tanh", Function::Tanh, 1),
    ("exp", Function::Exp, 1),
    ("log", Function::Log, 1),
    ("sqrt", Function::Sqrt, 1),
    ("abs", Function::Abs, 1),
    ("atan2", Function::Atan2, 2),
    ("hypot", Function::Hypot, 2),
];

/// A relation that does not parse against the modelled columns, with the text as given.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("relation '{text}': {problem}")]
pub struct RelationError {
    pub text: String,
    pub problem: FormulaProblem,
}

/// What is wrong with a relation's formula.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FormulaProblem {
    #[error("write it as `column = formula`")]
    NoEquals,
    #[error("there is no modelled column '{0}'")]
    UnknownColumn(String),
    #[error("unexpected {0} after the formula")]
    AfterTheFormula(Token),
    #[error(
        "'{late}' is not before '{target}' among the columns: a column is predicted only from the ones decoded \
         before it"
    )]
    NotBefore { late: String, target: String },
    #[error("'{0}' is not a number")]
    NotANumber(String),
    #[error("'{0}' is not part of a formula")]
    NotInFormula(char),
    #[error("the formula ends too early")]
    EndsEarly,
    #[error("unknown function '{0}' (known: {known})", known = known_functions())]
    UnknownFunction(String),
    #[error("{name} takes {arity} argument(s), not {given}")]
    Arity { name: String, arity: usize, given: usize },
    #[error("unexpected {0}")]
    Unexpected(Token),
    #[error("'{0}' is missing")]
    Missing(char),
}

fn known_functions() -> String {
    FUNCTIONS.iter().map(|f| f.0).collect::<Vec<_>>().join(", ")
}

impl Relation {
    /// Parses `target = expression` over the modelled `columns` (by name, in order).
    pub fn parse(text: &str, columns: &[String]) -> Result<Relation, RelationError> {
        let fail = |problem: FormulaProblem| RelationError { text: text.to_string(), problem };
        let (target, expression) = text.split_once('=').ok_or_else(|| fail(FormulaProblem::NoEquals))?;
        let target = column_index(target.trim(), columns).map_err(fail)?;
        let tokens = tokenize(expression).map_err(fail)?;
        let mut parser = Parser { tokens: &tokens, at: 0, columns };
        let expression = parser.sum().map_err(fail)?;
        if let Some(token) = tokens.get(parser.at) {
            return Err(fail(FormulaProblem::AfterTheFormula(token.clone())));
        }
        let mut used = vec![];
        expression.columns(&mut used);
        if let Some(&late) = used.iter().find(|&&c| c >= target) {
            return Err(fail(FormulaProblem::NotBefore {
                late: columns[late].clone(),
                target: columns[target].clone(),
            }));
        }
        Ok(Relation { target, expression })
    }

    /// The formula on one row's values (only the columns before the target are read).
    pub fn evaluate(&self, row: &[f64]) -> f64 {
        self.expression.evaluate(row)
    }
}

fn column_index(name: &str, columns: &[String]) -> Result<usize, FormulaProblem> {
    columns.iter().position(|c| c == name).ok_or_else(|| FormulaProblem::UnknownColumn(name.to_string()))
}

impl Expr {
    fn evaluate(&self, row: &[f64]) -> f64 {
        match self {
            Expr::Number(v) => *v,
            Expr::Column(c) => row[*c],
            Expr::Negate(e) => -e.evaluate(row),
            Expr::Binary(op, a, b) => {
                let (a, b) = (a.evaluate(row), b.evaluate(row));
                match op {
                    Operator::Add => a + b,
                    Operator::Subtract => a - b,
                    Operator::Multiply => a * b,
                    Operator::Divide => a / b,
                    Operator::Power => libm::pow(a, b),
                }
            }
            Expr::Call(f, args) => {
                let x = args[0].evaluate(row);
                match f {
                    Function::Sin => libm::sin(x),
                    Function::Cos => libm::cos(x),
                    Function::Tan => libm::tan(x),
                    Function::Sinh => libm::sinh(x),
                    Function::Cosh => libm::cosh(x),
                    Function::Tanh => libm::tanh(x),
                    Function::Exp => libm::exp(x),
                    Function::Log => libm::log(x),
                    Function::Sqrt => libm::sqrt(x),
                    Function::Abs => x.abs(),
                    Function::Atan2 => libm::atan2(x, args[1].evaluate(row)),
                    Function::Hypot => libm::hypot(x, args[1].evaluate(row)),
                }
            }
        }
    }

    fn columns(&self, out: &mut Vec<usize>) {
        match self {
            Expr::Number(_) => {}
            Expr::Column(c) => out.push(*c),
            Expr::Negate(e) => e.columns(out),
            Expr::Binary(_, a, b) => {
                a.columns(out);
                b.columns(out);
            }
            Expr::Call(_, args) => args.iter().for_each(|a| a.columns(out)),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    Number(f64),
    Name(String),
    Symbol(char),
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Number(v) => write!(f, "'{v}'"),
            Token::Name(n) => write!(f, "'{n}'"),
            Token::Symbol(c) => write!(f, "'{c}'"),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, FormulaProblem> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = vec![];
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() || c == '.' {
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric()
                    || chars[i] == '.'
                    || (matches!(chars[i], '+' | '-') && matches!(chars[i - 1], 'e' | 'E')))
            {
                i += 1;
            }
            let number: String = chars[start..i].iter().collect();
            tokens.push(Token::Number(number.parse().map_err(|_| FormulaProblem::NotANumber(number.clone()))?));
        } else if c.is_alphabetic() || c == '_' {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Token::Name(chars[start..i].iter().collect()));
        } else if "+-*/^(),".contains(c) {
            tokens.push(Token::Symbol(c));
            i += 1;
        } else {
            return Err(FormulaProblem::NotInFormula(c));
        }
    }
    Ok(tokens)
}

/// Recursive descent: sum of products of powers; `^` binds tightest and to the right.
struct Parser<'a> {
    tokens: &'a [Token],
    at: usize,
    columns: &'a [String],
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn eat(&mut self, symbol: char) -> bool {
        let found = self.peek() == Some(&Token::Symbol(symbol));
        self.at += usize::from(found);
        found
    }

    fn sum(&mut self) -> Result<Expr, FormulaProblem> {
        let mut left = self.product()?;
        loop {
            let op = match () {
                _ if self.eat('+') => Operator::Add,
                _ if self.eat('-') => Operator::Subtract,
                _ => return Ok(left),
            };
            left = Expr::Binary(op, Box::new(left), Box::new(self.product()?));
        }
    }

    fn product(&mut self) -> Result<Expr, FormulaProblem> {
        let mut left = self.unary()?;
        loop {
            let op = match () {
                _ if self.eat('*') => Operator::Multiply,
                _ if self.eat('/') => Operator::Divide,
                _ => return Ok(left),
            };
            left = Expr::Binary(op, Box::new(left), Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Result<Expr, FormulaProblem> {
        if self.eat('-') {
            return Ok(Expr::Negate(Box::new(self.unary()?)));
        }
        let base = self.atom()?;
        if self.eat('^') {
            return Ok(Expr::Binary(Operator::Power, Box::new(base), Box::new(self.unary()?)));
        }
        Ok(base)
    }

    fn atom(&mut self) -> Result<Expr, FormulaProblem> {
        let token = self.peek().cloned().ok_or(FormulaProblem::EndsEarly)?;
        self.at += 1;
        match token {
            Token::Number(v) => Ok(Expr::Number(v)),
            Token::Symbol('(') => {
                let inner = self.sum()?;
                self.expect(')')?;
                Ok(inner)
            }
            Token::Name(name) if self.eat('(') => {
                let &(_, function, arity) = FUNCTIONS
                    .iter()
                    .find(|(n, _, _)| *n == name)
                    .ok_or_else(|| FormulaProblem::UnknownFunction(name.clone()))?;
                let mut args = vec![self.sum()?];
                while self.eat(',') {
                    args.push(self.sum()?);
                }
                self.expect(')')?;
                if args.len() != arity {
                    return Err(FormulaProblem::Arity { name, arity, given: args.len() });
                }
                Ok(Expr::Call(function, args))
            }
            Token::Name(name) => column_index(&name, self.columns).map(Expr::Column),
            other => Err(FormulaProblem::Unexpected(other)),
        }
    }

    fn expect(&mut self, symbol: char) -> Result<(), FormulaProblem> {
        match self.eat(symbol) {
            true => Ok(()),
            false => Err(FormulaProblem::Missing(symbol)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> Vec<String> {
        ["pt", "eta", "phi", "m", "E", "px"].iter().map(|s| s.to_string()).collect()
    }

    fn evaluate(text: &str, row: &[f64]) -> f64 {
        Relation::parse(text, &columns()).unwrap().evaluate(row)
    }

    #[test]
    fn formulas_follow_the_usual_precedence() {
        let row = [2.0, 0.5, 1.0, 3.0, 0.0, 0.0];
        assert_eq!(evaluate("px = pt * cos(phi)", &row), 2.0 * libm::cos(1.0));
        assert_eq!(
            evaluate("E = sqrt((pt*cosh(eta))^2 + m^2)", &row),
            libm::sqrt(libm::pow(2.0 * libm::cosh(0.5), 2.0) + 9.0)
        );
        assert_eq!(evaluate("E = -pt^2 - 1.5e1 / m + 2", &row), -4.0 - 5.0 + 2.0);
        assert_eq!(evaluate("E = 2^3^2", &row), 512.0);
        assert_eq!(evaluate("px = atan2(eta, pt) + hypot(pt, m)", &row), libm::atan2(0.5, 2.0) + libm::hypot(2.0, 3.0));
        assert_eq!(Relation::parse("px = pt", &columns()).unwrap().target, 5);
    }

    #[test]
    fn mistakes_are_named() {
        let error = |text: &str| Relation::parse(text, &columns()).unwrap_err().to_string();
        assert!(error("px pt").contains("column = formula"));
        assert!(error("py = pt").contains("no modelled column 'py'"));
        assert!(error("px = pt * cos(rho)").contains("no modelled column 'rho'"));
        assert!(error("eta = pt * cos(phi)").contains("'phi' is not before 'eta'"));
        assert!(error("px = pt * cosine(phi)").contains("unknown function 'cosine'"));
        assert!(error("px = atan2(pt)").contains("takes 2 argument(s), not 1"));
        assert!(error("px = (pt").contains("')' is missing"));
        assert!(error("px = pt pt").contains("unexpected 'pt'"));
        assert!(error("px = pt # 2").contains("'#' is not part"));
        assert!(error("px = 1.2.3").contains("'1.2.3' is not a number"));
        assert!(error("px = pt *").contains("ends too early"));
    }

    #[test]
    fn a_mistake_keeps_the_text_and_says_what_is_wrong() {
        let error = Relation::parse("eta = pt * cos(phi)", &columns()).unwrap_err();
        assert_eq!(error.problem, FormulaProblem::NotBefore { late: "phi".into(), target: "eta".into() });
        assert_eq!(
            error.to_string(),
            "relation 'eta = pt * cos(phi)': 'phi' is not before 'eta' among the columns: a column is predicted \
             only from the ones decoded before it"
        );
        let unknown = Relation::parse("px = cosine(phi)", &columns()).unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "relation 'px = cosine(phi)': unknown function 'cosine' (known: sin, cos, tan, sinh, cosh, tanh, exp, \
             log, sqrt, abs, atan2, hypot)"
        );
    }
}
