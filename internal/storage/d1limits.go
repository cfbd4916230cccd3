package storage

import (
	"crypto/rand"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// D1's limits (developers.cloudflare.com/d1/platform/limits) and the bounds
// of its API parameters.
const (
	MaxD1StatementBytes = 100_000 // 100 KB per SQL statement (the whole sql string)
	MaxD1Params         = 100     // bound parameters per query
	MaxD1BatchStmts     = 50      // statements per batch, a bound of this server
	MaxDatabaseName     = 64      // a bound of this server: Cloudflare documents no length
	MaxDatabaseList     = 10_000
	DefaultDatabaseList = 100
)

// D1Jurisdictions are the jurisdictions a D1 database may be created in.
var D1Jurisdictions = []string{"eu", "fedramp"}

// ValidateDatabaseName checks D1's rule ^[a-z0-9][a-z0-9-_]*$.
func ValidateDatabaseName(name string) error { return validateDatabaseName("name", name) }

func validateDatabaseName(field, name string) error {
	if name == "" {
		return invalid("%s: must not be empty", field)
	}
	if len(name) > MaxDatabaseName {
		return invalid("%s: %d characters is over the limit of %d", field, len(name), MaxDatabaseName)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '-' || c == '_')
		if !ok {
			return invalid("%s: %q must match ^[a-z0-9][a-z0-9-_]*$ (lowercase letters, digits, '-' and '_', starting with a letter or digit)", field, name)
		}
	}
	return nil
}

// ValidateDatabaseSpec checks a database to create.
func ValidateDatabaseSpec(s DatabaseSpec) error {
	if err := ValidateDatabaseName(s.Name); err != nil {
		return err
	}
	if err := oneOf("primary_location_hint", s.PrimaryLocationHint, LocationHints); err != nil {
		return err
	}
	return oneOf("jurisdiction", s.Jurisdiction, D1Jurisdictions)
}

// NewDatabaseID is a random (version 4) UUID in lower case, the form of a
// D1 database id, for a backend that makes one.
func NewDatabaseID() string {
	var u [16]byte
	rand.Read(u[:]) // never fails: it crashes the program first (Go 1.24)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// IsDatabaseID reports whether ref has the form of a D1 database id: a UUID
// (8-4-4-4-12 hex digits).
func IsDatabaseID(ref string) bool {
	if len(ref) != 36 {
		return false
	}
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// ValidateStatements checks a batch against D1's limits: each statement at
// most 100 KB, at most 100 bound parameters per statement, parameters of
// the types D1 binds. Errors name the statement by index when there are
// several.
func ValidateStatements(stmts []Statement) error {
	if len(stmts) == 0 {
		return invalid("sql: at least one statement is required")
	}
	if len(stmts) > MaxD1BatchStmts {
		return tooLarge("statements: %d statements is over the limit of %d per batch", len(stmts), MaxD1BatchStmts)
	}
	for i, s := range stmts {
		err := validateStatement(s)
		if err != nil && len(stmts) > 1 {
			err = prefixed(fmt.Sprintf("statements[%d]", i), err)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func validateStatement(s Statement) error {
	switch {
	case strings.TrimSpace(s.SQL) == "":
		return invalid("sql: must not be empty")
	case len(s.SQL) > MaxD1StatementBytes:
		return tooLarge("sql: %d bytes is over the D1 limit of %d bytes per statement", len(s.SQL), MaxD1StatementBytes)
	case !utf8.ValidString(s.SQL):
		return invalid("sql: must be valid UTF-8")
	case len(s.Params) > MaxD1Params:
		return tooLarge("params: %d bound parameters is over the D1 limit of %d", len(s.Params), MaxD1Params)
	}
	for i, p := range s.Params {
		switch v := p.(type) {
		case nil, bool, int, int64, string, []byte:
		case float64:
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return invalid("params[%d]: %v is not a number D1 can store", i, v)
			}
		default:
			return invalid("params[%d]: a %T cannot be bound; use null, a boolean, a number, a string or bytes", i, p)
		}
	}
	return nil
}
