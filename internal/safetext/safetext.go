// Package safetext makes values that come from outside the process (fields
// of an unauthenticated message header, names in a server's answer) fit for
// error strings and logs.
package safetext

import (
	"strconv"
	"strings"
)

// Field returns s as is when it is at most 256 bytes of printable ASCII
// without quotes (as every real KMS ARN, key id and alias is), and
// otherwise quoted, with every non-printable or non-ASCII byte escaped, and
// cut to 128 bytes first: it can carry no line break, terminal escape or
// kilobytes into a log line.
func Field(s string) string {
	if len(s) <= 256 && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x21 || r > 0x7e || r == '"' }) {
		return s
	}
	if len(s) > 128 {
		s = s[:128]
	}
	return strconv.QuoteToASCII(strings.ToValidUTF8(s, "\uFFFD"))
}
