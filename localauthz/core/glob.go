package core

import (
	"strings"
	"unicode/utf8"
)

// Glob is a compiled RAM wildcard pattern: '*' matches any run of characters
// (including none, and including ':' and '/'), '?' matches exactly one
// character. There is no escape. Patterns are compiled once; matching never
// allocates.
type Glob struct {
	pat    string // the pattern; ASCII-lowercased when fold is set
	raw    string // the pattern as written
	fold   bool   // ASCII case-insensitive (actions)
	kind   globKind
	prefix string // literal part before a single trailing '*' (globPrefix)
}

type globKind uint8

const (
	globExact   globKind = iota // no wildcard
	globAny                     // "*"
	globPrefix                  // "literal*"
	globGeneral                 // anything else
)

// CompileGlob compiles a pattern; fold makes it ASCII case-insensitive.
func CompileGlob(p string, fold bool) Glob {
	g := Glob{pat: p, raw: p, fold: fold}
	if fold {
		g.pat = ASCIILower(p)
	}
	i := strings.IndexAny(g.pat, "*?")
	switch {
	case i < 0:
		g.kind = globExact
	case g.pat == "*":
		g.kind = globAny
	case i == len(g.pat)-1 && g.pat[i] == '*':
		g.kind = globPrefix
		g.prefix = g.pat[:i]
	default:
		g.kind = globGeneral
	}
	return g
}

// HasWildcard reports whether the pattern has a '*' or '?'.
func (g *Glob) HasWildcard() bool { return g.kind != globExact }

// IsAny reports whether the pattern is "*", which matches everything.
func (g *Glob) IsAny() bool { return g.kind == globAny }

// Pattern returns the pattern as written.
func (g *Glob) Pattern() string { return g.raw }

// Match reports whether s matches the whole pattern.
func (g *Glob) Match(s string) bool {
	switch g.kind {
	case globAny:
		return true
	case globExact:
		if g.fold {
			return EqualLower(g.pat, s)
		}
		return g.pat == s
	case globPrefix:
		if len(s) < len(g.prefix) {
			return false
		}
		if g.fold {
			return EqualLower(g.prefix, s[:len(g.prefix)])
		}
		return s[:len(g.prefix)] == g.prefix
	default:
		return wildMatch(g.pat, s, g.fold)
	}
}

// MatchFold reports whether s matches ignoring ASCII case; used only to
// explain why a case-sensitive match failed.
func (g *Glob) MatchFold(s string) bool {
	if g.fold {
		return g.Match(s)
	}
	return wildMatch(ASCIILower(g.pat), s, true)
}

// wildMatch matches s against p ('*' and '?'), optionally folding ASCII case
// of s (p must then be lowercase). It backtracks only to the last '*', so it
// runs in O(len(p)*len(s)) time at worst and never allocates.
func wildMatch(p, s string, fold bool) bool {
	px, sx := 0, 0
	starP, starS := -1, 0
	for sx < len(s) {
		if px < len(p) {
			switch c := p[px]; {
			case c == '*':
				starP, starS = px, sx
				px++
				continue
			case c == '?':
				_, n := utf8.DecodeRuneInString(s[sx:])
				px++
				sx += n
				continue
			case c == s[sx] || fold && c == lowerByte(s[sx]):
				px++
				sx++
				continue
			}
		}
		if starP < 0 {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[starS:])
		starS += n
		px, sx = starP+1, starS
	}
	for px < len(p) && p[px] == '*' {
		px++
	}
	return px == len(p)
}

func lowerByte(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// ASCIILower lowercases the ASCII letters of s.
func ASCIILower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = lowerByte(b[j])
			}
			return string(b)
		}
	}
	return s
}

// EqualLower reports whether s equals the lower-case lower ignoring ASCII
// case in s.
func EqualLower(lower, s string) bool {
	if len(lower) != len(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != lower[i] && lowerByte(c) != lower[i] {
			return false
		}
	}
	return true
}
