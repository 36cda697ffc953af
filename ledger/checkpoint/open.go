package checkpoint

import (
	"errors"
	"fmt"
	"sort"

	"golang.org/x/mod/sumdb/note"
)

// Signed is a checkpoint whose signatures have all been verified.
type Signed struct {
	Body Body
	// Text is the signed body text.
	Text string
	// Signers lists the key names that signed, sorted.
	Signers []string
	// Keys are the verifier keys, of those given, that verified a
	// signature, sorted.
	Keys []string
}

// Open parses a signed checkpoint and verifies it against verifierKeys
// (note verifier key strings). Every signature in the note must come from
// one of the keys and verify; a note with no signature, a signature by an
// unknown key or a bad signature is an error. Which keys to trust is the
// caller's decision: pass only keys it trusts.
func Open(signed []byte, verifierKeys []string) (*Signed, error) {
	vs, err := Verifiers(verifierKeys)
	if err != nil {
		return nil, err
	}
	byKey := map[sigKey]string{}
	for i, v := range vs {
		byKey[sigKey{v.Name(), v.KeyHash()}] = verifierKeys[i]
	}
	if _, err := split(signed); err != nil {
		return nil, err
	}
	n, err := note.Open(signed, note.VerifierList(vs...))
	if err != nil {
		return nil, openError(err)
	}
	if len(n.UnverifiedSigs) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrUnknownSigner, n.UnverifiedSigs[0].Name)
	}
	body, err := Parse(n.Text)
	if err != nil {
		return nil, err
	}
	out := &Signed{Body: body, Text: n.Text}
	for _, s := range n.Sigs {
		out.Signers = append(out.Signers, s.Name)
		out.Keys = append(out.Keys, byKey[sigKey{s.Name, s.Hash}])
	}
	sort.Strings(out.Signers)
	sort.Strings(out.Keys)
	return out, nil
}

func openError(err error) error {
	var bad *note.InvalidSignatureError
	var unverified *note.UnverifiedNoteError
	switch {
	case errors.As(err, &bad):
		return fmt.Errorf("%w: key %s", ErrBadSignature, bad.Name)
	case errors.As(err, &unverified):
		return fmt.Errorf("%w: no signature from a known key", ErrUnknownSigner)
	}
	return fmt.Errorf("%w: %v", ErrMalformed, err)
}

// Verifiers parses verifier key strings.
func Verifiers(keys []string) ([]note.Verifier, error) {
	vs := make([]note.Verifier, 0, len(keys))
	for _, k := range keys {
		v, err := note.NewVerifier(k)
		if err != nil {
			return nil, fmt.Errorf("%w: verifier key %q: %v", ErrInvalidKey, k, err)
		}
		vs = append(vs, v)
	}
	return vs, nil
}

// MergeKeys returns the sorted union of verifier key lists.
func MergeKeys(lists ...[]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range lists {
		for _, k := range l {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// SignerNames lists the key names of a note's signatures without
// verifying them.
func SignerNames(signed []byte) ([]string, error) {
	n, err := split(signed)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range n.UnverifiedSigs {
		out = append(out, s.Name)
	}
	sort.Strings(out)
	return out, nil
}
