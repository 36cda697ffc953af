package checkpoint

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/limits"
)

// HashSize is the size of an RFC 6962 SHA-256 tree hash.
const HashSize = 32

// Extension line keywords. A cnv checkpoint body may carry, after the three
// C2SP lines, "policy <hex hash>" (the policy set in force at that size) and
// "time <unix nanos>" (the time the checkpoint was cut, chosen by the
// leader). Other extension lines are kept verbatim in Body.Extra.
const (
	extPolicy = "policy "
	extTime   = "time "
)

// ErrMalformed is returned for a checkpoint body or note that does not parse.
var ErrMalformed = cnverr.New(cnverr.InvalidInput, "malformed checkpoint")

// Body is the signed content of a checkpoint: a commitment to the ledger's
// Merkle tree of Size leaves with root hash Root.
type Body struct {
	Origin     string
	Size       uint64
	Root       []byte
	PolicyHash string
	Time       int64
	Extra      []string
}

// Text returns the C2SP checkpoint body:
//
//	<origin>
//	<size>
//	<base64 root>
//	policy <hash>      (when PolicyHash is set)
//	time <unix nanos>  (when Time is set)
//	<extra lines>...
//
// Equal bodies give equal text, so independent signers sign the same bytes.
func (b Body) Text() (string, error) {
	if err := b.validate(); err != nil {
		return "", err
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s\n%d\n%s\n", b.Origin, b.Size, base64.StdEncoding.EncodeToString(b.Root))
	if b.PolicyHash != "" {
		sb.WriteString(extPolicy + b.PolicyHash + "\n")
	}
	if b.Time != 0 {
		sb.WriteString(extTime + strconv.FormatInt(b.Time, 10) + "\n")
	}
	for _, l := range b.Extra {
		sb.WriteString(l + "\n")
	}
	return sb.String(), nil
}

func (b Body) validate() error {
	if err := checkLine("origin", b.Origin); err != nil {
		return err
	}
	if len(b.Root) != HashSize {
		return fmt.Errorf("%w: root has %d bytes, want %d", ErrMalformed, len(b.Root), HashSize)
	}
	if b.PolicyHash != "" {
		if err := checkLine("policy hash", b.PolicyHash); err != nil {
			return err
		}
		if strings.Contains(b.PolicyHash, " ") {
			return fmt.Errorf("%w: policy hash contains a space", ErrMalformed)
		}
	}
	if b.Time < 0 {
		return fmt.Errorf("%w: negative time %d", ErrMalformed, b.Time)
	}
	if len(b.Extra) > limits.MaxCheckpointExtLines {
		return fmt.Errorf("%w: %d extension lines, limit %d", ErrMalformed, len(b.Extra), limits.MaxCheckpointExtLines)
	}
	for _, l := range b.Extra {
		if err := checkLine("extension line", l); err != nil {
			return err
		}
		if strings.HasPrefix(l, extPolicy) || strings.HasPrefix(l, extTime) {
			return fmt.Errorf("%w: extra line %q duplicates a known extension", ErrMalformed, l)
		}
	}
	return nil
}

// checkLine accepts non-empty valid UTF-8 without control characters, which
// is what a note line may hold.
func checkLine(field, s string) error {
	if s == "" || !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is empty or not UTF-8", ErrMalformed, field)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: %s contains a control character", ErrMalformed, field)
		}
	}
	return nil
}

// Parse reads a checkpoint body (the note text, without signatures). It
// accepts exactly what Text produces: Parse(b.Text()) == b.
func Parse(text string) (Body, error) {
	if len(text) > limits.MaxCheckpointBytes || !strings.HasSuffix(text, "\n") {
		return Body{}, fmt.Errorf("%w: body must end in a newline and be at most %d bytes", ErrMalformed, limits.MaxCheckpointBytes)
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return Body{}, fmt.Errorf("%w: %d lines, want at least 3", ErrMalformed, len(lines))
	}
	b := Body{Origin: lines[0]}
	var err error
	if b.Size, err = parseSize(lines[1]); err != nil {
		return Body{}, err
	}
	if b.Root, err = base64.StdEncoding.Strict().DecodeString(lines[2]); err != nil {
		return Body{}, fmt.Errorf("%w: root: %v", ErrMalformed, err)
	}
	if err := b.parseExtensions(lines[3:]); err != nil {
		return Body{}, err
	}
	if err := b.validate(); err != nil {
		return Body{}, err
	}
	if again, _ := b.Text(); again != text {
		return Body{}, fmt.Errorf("%w: body is not in canonical form", ErrMalformed)
	}
	return b, nil
}

func parseSize(s string) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("%w: tree size %q", ErrMalformed, s)
	}
	return n, nil
}

func (b *Body) parseExtensions(lines []string) error {
	for i, l := range lines {
		switch {
		case i == 0 && strings.HasPrefix(l, extPolicy):
			b.PolicyHash = strings.TrimPrefix(l, extPolicy)
		case (i == 0 || (i == 1 && b.PolicyHash != "")) && strings.HasPrefix(l, extTime):
			t, err := strconv.ParseInt(strings.TrimPrefix(l, extTime), 10, 64)
			if err != nil || t <= 0 {
				return fmt.Errorf("%w: time line %q", ErrMalformed, l)
			}
			b.Time = t
		default:
			b.Extra = append(b.Extra, l)
		}
	}
	return nil
}

// Equal reports whether two bodies commit to the same text.
func (b Body) Equal(o Body) bool {
	x, err1 := b.Text()
	y, err2 := o.Text()
	return err1 == nil && err2 == nil && x == y && bytes.Equal(b.Root, o.Root)
}

// String returns the body text, or "" for an invalid body.
func (b Body) String() string {
	t, _ := b.Text()
	return t
}
