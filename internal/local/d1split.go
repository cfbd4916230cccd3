package local

import "strings"

// splitSQL splits a string of SQL into its statements, the way SQLite's
// sqlite3_complete finds where one ends: at a semicolon outside string
// literals, quoted identifiers and comments, and, inside CREATE TRIGGER,
// only at a semicolon that follows END. Statements that are empty or hold
// only comments are dropped; the semicolons are not kept.
//
// The split only gives each statement its own result. It decides nothing
// about safety: every part is still compiled, and authorized, by SQLite.
func splitSQL(s string) []string {
	var out []string
	start := 0
	var words []string // the first three words of the statement, upper-cased
	lastWord := ""     // the last word token before the current position
	hasToken := false
	emit := func(end int) {
		if hasToken {
			out = append(out, strings.TrimSpace(s[start:end]))
		}
		start, words, lastWord, hasToken = end+1, nil, "", false
	}
	inTrigger := func() bool {
		if len(words) < 2 || words[0] != "CREATE" {
			return false
		}
		return words[1] == "TRIGGER" || len(words) >= 3 && (words[1] == "TEMP" || words[1] == "TEMPORARY") && words[2] == "TRIGGER"
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
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
					if closer != ']' && j+1 < len(s) && s[j+1] == closer { // doubled quote
						j += 2
						continue
					}
					break
				}
				j++
			}
			i = j + 1
			hasToken, lastWord = true, ""
		case c == ';':
			if inTrigger() && lastWord != "END" {
				i++
				lastWord = ""
				continue
			}
			emit(i)
			i++
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			w := strings.ToUpper(s[i:j])
			if len(words) < 3 {
				words = append(words, w)
			}
			lastWord, hasToken = w, true
			i = j
		default:
			i++
			hasToken, lastWord = true, ""
		}
	}
	emit(len(s))
	return out
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}
