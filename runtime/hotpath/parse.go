package hotpath

import (
	"fmt"

	"github.com/cnv-project/cnv/runtime/limits"
)

// Arg is one named argument. Bool marks an option given without a value
// ("--force" followed by another option, by "--" or by the end of input);
// its Value is then empty.
type Arg struct {
	Key   string
	Value string
	Bool  bool
}

// Parsed is a parsed hot-path command line. Every string in it is a slice
// of the input (no copies): it stays valid as long as the input does, and
// Args and Positional are prefixes of the buffers given to Parse.
type Parsed struct {
	Path       string
	Args       []Arg
	Positional []string
}

// Get returns the value of the first occurrence of name that has one.
func (p *Parsed) Get(name string) (string, bool) {
	for i := range p.Args {
		if p.Args[i].Key == name && !p.Args[i].Bool {
			return p.Args[i].Value, true
		}
	}
	return "", false
}

// Flag reports whether name was given as a boolean option.
func (p *Parsed) Flag(name string) bool {
	for i := range p.Args {
		if p.Args[i].Key == name && p.Args[i].Bool {
			return true
		}
	}
	return false
}

// Count is how many times name occurs, with or without a value.
func (p *Parsed) Count(name string) int {
	n := 0
	for i := range p.Args {
		if p.Args[i].Key == name {
			n++
		}
	}
	return n
}

// Values appends every value given for name, in order, to dst.
func (p *Parsed) Values(name string, dst []string) []string {
	for i := range p.Args {
		if p.Args[i].Key == name && !p.Args[i].Bool {
			dst = append(dst, p.Args[i].Value)
		}
	}
	return dst
}

// Parse splits a hot-path command line such as
//
//	user.create --name alice --age 30 active
//
// without allocating. The grammar:
//
//   - Tokens are separated by spaces, tabs, CR and LF. The first token is
//     the capability path; it may not be quoted or start with '-'.
//   - "--key=value" is the named argument key=value. "--key" takes the next
//     token as its value unless that token is itself an option or "--", or
//     there is none: then key is a boolean option (Arg.Bool). "-k" (one
//     character after the dash) behaves like "--k". A dash followed by a
//     digit ("-5") is a value, not an option; "-" and "-xy" are positional.
//   - A token starting with " or ' runs to the matching closing quote and
//     may contain whitespace; the slice excludes the quotes. Backslashes and
//     other escapes are NOT interpreted: the text between the quotes is
//     taken byte for byte, so a value cannot contain its own quote character
//     (use the other one). The closing quote must end the token. A quoted
//     token is never an option. "--key='v w'" quotes just the value.
//   - A bare "--" ends the options: every later token is positional.
//   - Repeated keys are kept, each occurrence in order (see Values, Count).
//
// Args and Positional are filled into args and pos; when either is too
// small Parse fails with ErrBufferOverflow instead of dropping entries.
// Empty (or all-whitespace) input fails with ErrEmptyInput.
func Parse(input string, args []Arg, pos []string) (Parsed, error) {
	if len(input) > limits.MaxCommandLineLen {
		return Parsed{}, fmt.Errorf("%w: %d bytes, limit %d", ErrInputTooLong, len(input), limits.MaxCommandLineLen)
	}
	ps := parseState{in: input, args: args[:0:len(args)], pos: pos[:0:len(pos)], pending: -1}
	if err := ps.parsePath(); err != nil {
		return Parsed{}, err
	}
	for {
		more, err := ps.step()
		if err != nil {
			return Parsed{}, err
		}
		if !more {
			return Parsed{Path: ps.path, Args: ps.args, Positional: ps.pos}, nil
		}
	}
}

type parseState struct {
	in      string
	i       int
	path    string
	args    []Arg
	pos     []string
	pending int // index in args of an option awaiting its value, or -1
	endOpts bool
}

// spaceTab marks the four separator bytes.
var spaceTab = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

func (ps *parseState) skipSpace() {
	for ps.i < len(ps.in) && spaceTab[ps.in[ps.i]] {
		ps.i++
	}
}

// word returns the unquoted token starting at ps.i and advances past it.
func (ps *parseState) word() string {
	start := ps.i
	for ps.i < len(ps.in) && !spaceTab[ps.in[ps.i]] {
		ps.i++
	}
	return ps.in[start:ps.i]
}

// quoted returns the text of the quoted token starting at ps.i (which holds
// the opening quote) and advances past the closing quote.
func (ps *parseState) quoted() (string, error) {
	q, start := ps.in[ps.i], ps.i+1
	for j := start; j < len(ps.in); j++ {
		if ps.in[j] != q {
			continue
		}
		if j+1 < len(ps.in) && !spaceTab[ps.in[j+1]] {
			return "", fmt.Errorf("%w: closing quote at byte %d is followed by %q", ErrSyntax, j, ps.in[j+1])
		}
		ps.i = j + 1
		return ps.in[start:j], nil
	}
	return "", fmt.Errorf("%w: unterminated %c quote starting at byte %d", ErrSyntax, q, start-1)
}

func isQuote(c byte) bool { return c == '"' || c == '\'' }

func (ps *parseState) parsePath() error {
	ps.skipSpace()
	if ps.i == len(ps.in) {
		return ErrEmptyInput
	}
	if c := ps.in[ps.i]; c == '-' || isQuote(c) {
		return fmt.Errorf("%w: the first token must be a capability path, not %q", ErrSyntax, c)
	}
	ps.path = ps.word()
	return nil
}

// step consumes one token; it reports false at the end of input.
func (ps *parseState) step() (bool, error) {
	ps.skipSpace()
	if ps.i == len(ps.in) {
		return false, nil
	}
	if isQuote(ps.in[ps.i]) {
		v, err := ps.quoted()
		if err != nil {
			return false, err
		}
		return true, ps.value(v)
	}
	start := ps.i
	tok := ps.word()
	if ps.endOpts {
		return true, ps.positional(tok)
	}
	switch {
	case tok == "--":
		ps.pending, ps.endOpts = -1, true
		return true, nil
	case len(tok) > 2 && tok[0] == '-' && tok[1] == '-':
		return true, ps.long(start)
	case len(tok) == 2 && tok[0] == '-' && !isDigit(tok[1]):
		return true, ps.option(tok[1:])
	}
	return true, ps.value(tok)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// long parses "--name", "--name=value" or "--name='quoted value'" starting
// at byte start (ps.i is already past an unquoted scan of the token).
func (ps *parseState) long(start int) error {
	ps.i = start + 2
	nameStart := ps.i
	for ps.i < len(ps.in) && !spaceTab[ps.in[ps.i]] && ps.in[ps.i] != '=' {
		ps.i++
	}
	name := ps.in[nameStart:ps.i]
	if ps.i == len(ps.in) || ps.in[ps.i] != '=' {
		return ps.option(name)
	}
	if name == "" {
		return fmt.Errorf("%w: option without a name at byte %d", ErrSyntax, start)
	}
	ps.i++ // '='
	var v string
	if ps.i < len(ps.in) && isQuote(ps.in[ps.i]) {
		var err error
		if v, err = ps.quoted(); err != nil {
			return err
		}
	} else {
		v = ps.word()
	}
	ps.pending = -1
	return ps.addArg(Arg{Key: name, Value: v})
}

// option starts a "--name" that may take the next token as its value.
func (ps *parseState) option(name string) error {
	if err := ps.addArg(Arg{Key: name, Bool: true}); err != nil {
		return err
	}
	ps.pending = len(ps.args) - 1
	return nil
}

// value gives v to the pending option, or makes it a positional.
func (ps *parseState) value(v string) error {
	if ps.pending >= 0 {
		ps.args[ps.pending].Value, ps.args[ps.pending].Bool = v, false
		ps.pending = -1
		return nil
	}
	return ps.positional(v)
}

func (ps *parseState) addArg(a Arg) error {
	if len(ps.args) == cap(ps.args) {
		return fmt.Errorf("%w: more than %d named arguments (at %q)", ErrBufferOverflow, cap(ps.args), a.Key)
	}
	ps.args = append(ps.args, a)
	return nil
}

func (ps *parseState) positional(v string) error {
	if len(ps.pos) == cap(ps.pos) {
		return fmt.Errorf("%w: more than %d positional arguments (at %q)", ErrBufferOverflow, cap(ps.pos), v)
	}
	ps.pos = append(ps.pos, v)
	return nil
}
