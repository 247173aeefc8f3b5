package kmsclient

import (
	"strings"
)

// maxDiagnosticLen bounds EncodedDiagnosticMessage. The token is opaque and
// must be kept whole to be decodable; Alibaba's documented example is 243
// characters, so 8 KiB leaves ample room while bounding what a hostile
// answer can make an error carry.
const maxDiagnosticLen = 8 << 10

// diagnosticToken keeps an EncodedDiagnosticMessage whole: it is a token
// for RAM's DecodeDiagnosticMessage, useless when cut (the 200-byte bound
// of other fields used to cut it). Only characters that cannot be part of a
// token (controls, whitespace, quotes) are dropped; a value longer than
// maxDiagnosticLen is not a token and is dropped whole.
func diagnosticToken(s string) string {
	if len(s) > maxDiagnosticLen {
		return ""
	}
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f || r == '"' || r == '\'' || r == '`' || r > 0x7e {
			return -1
		}
		return r
	}, s)
}

// decodeDiagnosticHint tells the user how to read an encoded diagnostic
// message. RAM documents DecodeDiagnosticMessage (action
// ram:DecodeDiagnosticMessage) for exactly this token; the aliyun CLI
// exposes it as `aliyun ram DecodeDiagnosticMessage`.
func decodeDiagnosticHint(token string) string {
	return "decode the diagnostic with `aliyun ram DecodeDiagnosticMessage --EncodedDiagnosticMessage " + token +
		"` (needs ram:DecodeDiagnosticMessage)"
}
