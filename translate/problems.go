package translate

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/dragoman-gw/dragoman/upstream"
)

// Problem is one mistake in a routes file, in words its author uses: the
// line, the key or value, and what would be right.
type Problem struct {
	Line    int
	Message string
}

func (p Problem) String() string {
	if p.Line <= 0 {
		return p.Message
	}
	return fmt.Sprintf("line %d: %s", p.Line, p.Message)
}

// Problems is every mistake found in a routes file, in line order, one
// line each. Load and Parse return it as their error.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// sorted orders problems by line, keeping the order of those on one line,
// and drops repeats: a mistake in a value that several routes share
// through a YAML merge is seen once per route, at the same line, in the
// same words but for the route's name.
func (ps Problems) sorted() Problems {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
	out := ps[:0]
	seen := map[Problem]bool{}
	for _, p := range ps {
		key := Problem{Line: p.Line, Message: routePrefixRE.ReplaceAllString(p.Message, "")}
		if !seen[key] {
			seen[key] = true
			out = append(out, p)
		}
	}
	return out
}

// routePrefixRE is the "route d.name: " a compiler message starts with.
var routePrefixRE = regexp.MustCompile(`^route [^ ]+: `)

// lineRE finds the "line N: " that yaml.v3 and the template compiler put
// at the front of their messages.
var lineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)

// problemOf turns an error that may start with its own line number into a
// Problem at that line, or at line when it has none.
func problemOf(line int, prefix string, err error) Problem {
	msg := err.Error()
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		if n, convErr := strconv.Atoi(m[1]); convErr == nil {
			line, msg = n, msg[len(m[0]):]
		}
	}
	return Problem{Line: line, Message: prefix + msg}
}

// didYouMean suggests the option closest to word, as "; did you mean
// `x`?", when one is close enough to be a likely typo, and "" otherwise.
func didYouMean(word string, options []string) string {
	if best, ok := closest(word, options); ok {
		return "; did you mean `" + best + "`?"
	}
	return ""
}

// closest finds the option word is most likely a typo of, if any.
func closest(word string, options []string) (string, bool) {
	best, bestDist := "", -1
	for _, o := range options {
		d := editDistance(strings.ToLower(word), strings.ToLower(o))
		if o != "" && (bestDist < 0 || d < bestDist) {
			best, bestDist = o, d
		}
	}
	if best == "" || bestDist > 1+len(word)/4 || bestDist >= len(word) {
		return "", false
	}
	return best, true
}

// oneOf lists options for a message: "`a`, `b` or `c`".
func oneOf(options []string) string {
	q := make([]string, len(options))
	for i, o := range options {
		q[i] = "`" + o + "`"
	}
	if len(q) < 2 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of neighbours each cost one.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// failErr reports err, which may carry its own line number (as template
// errors do), at that line or else at line.
func failErr(fail func(int, string, ...any), line int, prefix string, err error) {
	p := problemOf(line, prefix, err)
	fail(p.Line, "%s", p.Message)
}

// kindNames lists the canonical error kinds' names.
func kindNames() []string {
	var out []string
	for _, k := range upstream.Kinds() {
		out = append(out, string(k))
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// opNames lists the canonical operations' names.
func opNames() []string {
	var out []string
	for _, o := range Operations() {
		out = append(out, string(o.Op))
	}
	return out
}

// allOf lists names for a message: "`a`, `b` and `c`".
func allOf(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "`" + n + "`"
	}
	return andList(q)
}

// andList joins phrases as "a, b and c".
func andList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// yamlSyntax puts the YAML parser's commonest complaints in plainer words.
var yamlSyntax = map[string]string{
	"did not find expected '-' indicator":             "a list whose items are not all indented alike (every item of a list starts with `-` in the same column)",
	"did not find expected key":                       "a line indented differently from the keys around it, or an unclosed quote or bracket",
	"found a tab character that violates indentation": "a tab used for indentation; YAML indents with spaces",
	"mapping values are not allowed in this context":  "a `key: value` where a plain value was expected; quote the value if it holds `: `, or fix the indentation",
	"could not find expected ':'":                     "a key without its `:`",
	"found character that cannot start any token":     "a character that cannot start a value (a tab, or an unquoted `@` or backtick)",
}

// syntaxProblem reports a file the YAML parser refused.
func syntaxProblem(err error) Problem {
	p := problemOf(0, "", err)
	msg := strings.TrimPrefix(p.Message, "yaml: ")
	if plain, ok := yamlSyntax[msg]; ok {
		msg = plain
	}
	p.Message = "not valid YAML: " + msg
	if p.Line == 0 {
		p.Line = 1 // yaml.v3 leaves out the line when it is the first
	}
	return p
}
