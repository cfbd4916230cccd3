package storage

import (
	"fmt"
	"strings"
)

// ClassifySQL splits a string of SQL into its statements and decides,
// by reading it, whether every one of them is sure not to write. It is what
// --read-only rests on where SQLite cannot be asked (the Cloudflare backend
// sends the SQL to D1), and a first line everywhere: the local backend still
// has SQLite's authorizer decide, authoritatively.
//
// Statements end at a semicolon outside string literals ('…'), quoted
// identifiers ("…", `…`, […]) and comments (-- to the end of the line,
// /* … */), and, inside CREATE TRIGGER, only at a semicolon after END, the
// way SQLite's sqlite3_complete finds them. Statements holding only
// whitespace and comments are dropped; the others are returned trimmed,
// without their semicolons.
//
// Read-only are only: SELECT; VALUES; WITH whose common table expressions
// are queries and whose main statement is SELECT or VALUES; EXPLAIN (and
// EXPLAIN QUERY PLAN) of a read-only statement; and PRAGMAs that only
// report (pragma_list, table_info(t)...) or settings read without a value
// (PRAGMA user_version, never PRAGMA user_version = 7). Everything else is
// not: INSERT, UPDATE, DELETE, REPLACE, CREATE, DROP, ALTER, ATTACH, DETACH,
// VACUUM, REINDEX, ANALYZE, BEGIN, COMMIT, SAVEPOINT, PRAGMAs that write or
// that this list does not know, and anything unrecognised. When readOnly is
// false, reason says which statement could write and why.
//
// A string with no statement at all is read-only: nothing in it runs.
func ClassifySQL(sql string) (stmts []string, readOnly bool, reason string) {
	parts := splitStatements(sql)
	readOnly = true
	for i, p := range parts {
		stmts = append(stmts, p.text)
		if !readOnly {
			continue
		}
		if why := p.classify(); why != "" {
			readOnly = false
			where := "the statement"
			if len(parts) > 1 {
				where = fmt.Sprintf("statement %d of %d", i+1, len(parts))
			}
			reason = fmt.Sprintf("%s (%q) could write: %s", where, clipSQL(p.text, 60), why)
		}
	}
	return stmts, readOnly, reason
}

func clipSQL(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// sqlToken is a token of a statement: a word (upper-cased), a quoted string
// or identifier (kind quoted, text as written), or one punctuation byte.
type sqlToken struct {
	kind byte // 'w' word, 'q' quoted, 'p' punctuation
	text string
}

type sqlStatement struct {
	text   string
	tokens []sqlToken
}

// splitStatements tokenizes s and splits it into statements.
func splitStatements(s string) []sqlStatement {
	var out []sqlStatement
	var toks []sqlToken
	start := 0
	emit := func(end int) {
		if len(toks) > 0 {
			out = append(out, sqlStatement{text: strings.TrimSpace(s[start:end]), tokens: toks})
		}
		start, toks = end+1, nil
	}
	inTrigger := func() bool {
		var words []string
		for _, t := range toks {
			if t.kind != 'w' || len(words) == 3 {
				break
			}
			words = append(words, t.text)
		}
		if len(words) < 2 || words[0] != "CREATE" {
			return false
		}
		return words[1] == "TRIGGER" || len(words) == 3 && (words[1] == "TEMP" || words[1] == "TEMPORARY") && words[2] == "TRIGGER"
	}
	lastWord := func() string {
		if n := len(toks); n > 0 && toks[n-1].kind == 'w' {
			return toks[n-1].text
		}
		return ""
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				i = len(s)
			} else {
				i += j + 4
			}
		case c == '\'' || c == '"' || c == '`' || c == '[':
			closer := c
			if c == '[' {
				closer = ']'
			}
			j := i + 1
			for j < len(s) {
				if s[j] == closer {
					if closer != ']' && j+1 < len(s) && s[j+1] == closer { // a doubled quote
						j += 2
						continue
					}
					break
				}
				j++
			}
			end := min(j+1, len(s))
			toks = append(toks, sqlToken{kind: 'q', text: s[i:end]})
			i = end
		case c == ';':
			if inTrigger() && lastWord() != "END" {
				toks = append(toks, sqlToken{kind: 'p', text: ";"})
				i++
				continue
			}
			emit(i)
			i++
		case isSQLWordByte(c):
			j := i
			for j < len(s) && isSQLWordByte(s[j]) {
				j++
			}
			toks = append(toks, sqlToken{kind: 'w', text: strings.ToUpper(s[i:j])})
			i = j
		default:
			toks = append(toks, sqlToken{kind: 'p', text: s[i : i+1]})
			i++
		}
	}
	emit(len(s))
	return out
}

func isSQLWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// classify returns "" when the statement cannot write, or why it could.
func (st sqlStatement) classify() string { return classifyTokens(st.tokens, 0) }

// maxSQLNesting bounds the recursion of EXPLAIN and nested WITH.
const maxSQLNesting = 16

func classifyTokens(toks []sqlToken, depth int) string {
	if depth > maxSQLNesting {
		return "nested too deeply to classify"
	}
	if len(toks) == 0 {
		return "an empty statement"
	}
	if toks[0].kind != 'w' {
		return fmt.Sprintf("it begins with %q, not a statement keyword", toks[0].text)
	}
	switch head := toks[0].text; head {
	case "SELECT", "VALUES":
		return ""
	case "EXPLAIN":
		rest := toks[1:]
		if len(rest) >= 2 && rest[0].kind == 'w' && rest[0].text == "QUERY" && rest[1].kind == 'w' && rest[1].text == "PLAN" {
			rest = rest[2:]
		}
		if why := classifyTokens(rest, depth+1); why != "" {
			return "EXPLAIN of a statement that could write (" + why + ")"
		}
		return ""
	case "WITH":
		return classifyWith(toks[1:], depth)
	case "PRAGMA":
		return classifyPragma(toks[1:])
	case "INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "ATTACH", "DETACH",
		"VACUUM", "REINDEX", "ANALYZE", "BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE":
		return "it is " + head
	default:
		return fmt.Sprintf("%s is not a statement known to only read", head)
	}
}

// classifyWith reads `[RECURSIVE] name [(columns)] AS [[NOT] MATERIALIZED]
// (query) [, ...]` and then the main statement, which must be a query.
func classifyWith(toks []sqlToken, depth int) string {
	i := 0
	word := func(w string) bool {
		if i < len(toks) && toks[i].kind == 'w' && toks[i].text == w {
			i++
			return true
		}
		return false
	}
	// group returns the tokens inside the parenthesised group at i, and
	// moves past it.
	group := func() ([]sqlToken, bool) {
		if i >= len(toks) || toks[i].kind != 'p' || toks[i].text != "(" {
			return nil, false
		}
		level := 0
		for j := i; j < len(toks); j++ {
			if toks[j].kind != 'p' {
				continue
			}
			switch toks[j].text {
			case "(":
				level++
			case ")":
				level--
				if level == 0 {
					inner := toks[i+1 : j]
					i = j + 1
					return inner, true
				}
			}
		}
		return nil, false
	}
	word("RECURSIVE")
	for {
		if i >= len(toks) || toks[i].kind == 'p' {
			return "a WITH clause this server cannot read"
		}
		i++ // the table name
		if i < len(toks) && toks[i].kind == 'p' && toks[i].text == "(" {
			if _, ok := group(); !ok { // the column names
				return "a WITH clause this server cannot read"
			}
		}
		if !word("AS") {
			return "a WITH clause this server cannot read"
		}
		if word("NOT") {
			if !word("MATERIALIZED") {
				return "a WITH clause this server cannot read"
			}
		} else {
			word("MATERIALIZED")
		}
		body, ok := group()
		if !ok {
			return "a WITH clause this server cannot read"
		}
		if why := classifyTokens(body, depth+1); why != "" {
			return "a common table expression that is not a query (" + why + ")"
		}
		if i < len(toks) && toks[i].kind == 'p' && toks[i].text == "," {
			i++
			continue
		}
		break
	}
	main := toks[i:]
	if len(main) > 0 && main[0].kind == 'w' && (main[0].text == "SELECT" || main[0].text == "VALUES") {
		return ""
	}
	if len(main) > 0 && main[0].kind == 'w' {
		return "WITH … " + main[0].text + ": its main statement is not a query"
	}
	return "WITH without a query as its main statement"
}

// D1's PRAGMAs, one list for --read-only wherever it is decided: here,
// reading the SQL, and in internal/d1sql's SQLite authorizer. Names are
// in lower case.
var (
	// reportingPragmas only report, with or without an argument naming
	// what to report on.
	reportingPragmas = map[string]bool{
		"table_info": true, "table_xinfo": true, "table_list": true, "index_list": true, "index_info": true,
		"index_xinfo": true, "foreign_key_list": true, "foreign_key_check": true, "quick_check": true,
		"integrity_check": true, "function_list": true, "collation_list": true, "pragma_list": true,
		"module_list": true, "compile_options": true, "database_list": true,
	}
	// readablePragmas are settings that a PRAGMA without a value only
	// reads.
	readablePragmas = map[string]bool{
		"user_version": true, "schema_version": true, "application_id": true, "page_count": true,
		"page_size": true, "freelist_count": true, "foreign_keys": true, "data_version": true, "encoding": true,
		"writable_schema": true, "journal_mode": true, "locking_mode": true, "query_only": true,
		"mmap_size": true, "trusted_schema": true,
	}
	// fixedPragmas are settings D1 never lets SQL change, whatever the
	// mode: they would change how the file is stored or let SQL corrupt
	// its schema.
	fixedPragmas = map[string]bool{
		"writable_schema": true, "journal_mode": true, "locking_mode": true, "query_only": true,
		"temp_store_directory": true, "data_store_directory": true, "mmap_size": true, "trusted_schema": true,
	}
)

// PragmaReports reports whether PRAGMA name only reports, with or without
// an argument: --read-only allows it.
func PragmaReports(name string) bool { return reportingPragmas[strings.ToLower(name)] }

// PragmaReadable reports whether PRAGMA name without a value only reads a
// setting: --read-only allows it so.
func PragmaReadable(name string) bool { return readablePragmas[strings.ToLower(name)] }

// PragmaFixed reports whether PRAGMA name with a value is refused in any
// mode: D1 does not let SQL change that setting.
func PragmaFixed(name string) bool { return fixedPragmas[strings.ToLower(name)] }

// classifyPragma reads `[schema.]name [= value | (value)]`.
func classifyPragma(toks []sqlToken) string {
	if len(toks) >= 2 && toks[1].kind == 'p' && toks[1].text == "." {
		toks = toks[2:] // the schema
	}
	if len(toks) == 0 || toks[0].kind != 'w' {
		return "a PRAGMA this server cannot read"
	}
	name, rest := toks[0].text, toks[1:]
	switch {
	case PragmaReports(name):
		if len(rest) == 0 || rest[0].kind == 'p' && rest[0].text == "(" {
			return ""
		}
		return "PRAGMA " + strings.ToLower(name) + " with a value"
	case PragmaReadable(name):
		if len(rest) == 0 {
			return ""
		}
		return "PRAGMA " + strings.ToLower(name) + " with a value sets it"
	}
	return "PRAGMA " + strings.ToLower(name) + " is not one known to only report"
}

// NeverAllowedOnD1 returns what in sql D1 refuses whatever the mode (a
// batch already runs in one transaction, and a database cannot reach
// another), or "" when nothing is: ATTACH, DETACH, statements that control
// transactions, and PRAGMA writable_schema with a value. Backends that send
// SQL to D1 use it to answer as the local backend's authorizer does, before
// sending.
func NeverAllowedOnD1(sql string) string {
	for _, st := range splitStatements(sql) {
		t := st.tokens
		if t[0].kind != 'w' {
			continue
		}
		switch t[0].text {
		case "ATTACH", "DETACH", "SAVEPOINT", "RELEASE":
			return t[0].text
		case "BEGIN", "COMMIT", "END", "ROLLBACK":
			return "a transaction statement (" + t[0].text + "; a batch already runs in one transaction)"
		case "PRAGMA":
			rest := t[1:]
			if len(rest) >= 2 && rest[1].kind == 'p' && rest[1].text == "." {
				rest = rest[2:]
			}
			if len(rest) >= 2 && rest[0].kind == 'w' && rest[0].text == "WRITABLE_SCHEMA" {
				return "PRAGMA writable_schema with a value"
			}
		}
	}
	return ""
}
