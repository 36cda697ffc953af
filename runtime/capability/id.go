package capability

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/cnv-project/cnv/runtime/cnverr"
)

// ID is a capability ID: "cap_" + 16 hex digits of SHA-256(path) for a plain
// capability, and "cap_" + 16 hex digits of SHA-256(path "@" version) + "_" +
// version with '.' replaced by '_' for a versioned one.
type ID string

// ErrInvalidPath is returned for a malformed capability path.
var ErrInvalidPath = cnverr.New(cnverr.InvalidInput, "invalid capability path")

// ErrInvalidVersion is returned for a malformed version string.
var ErrInvalidVersion = cnverr.New(cnverr.InvalidInput, "invalid capability version")

// ErrInvalidID is returned when a string is not a capability ID.
var ErrInvalidID = cnverr.New(cnverr.InvalidInput, "invalid capability id")

// FromPath hashes a path into its ID. The path is used exactly as given (no
// normalisation); validate it with ParsePath first.
func FromPath(path string) ID {
	sum := sha256.Sum256([]byte(path))
	return ID("cap_" + hex.EncodeToString(sum[:8]))
}

// FromPathVersioned hashes path "@" version into a versioned ID.
func FromPathVersioned(path, version string) ID {
	sum := sha256.Sum256([]byte(path + "@" + version))
	return ID("cap_" + hex.EncodeToString(sum[:8]) + "_" + strings.ReplaceAll(version, ".", "_"))
}

// String returns the ID as a string.
func (id ID) String() string { return string(id) }

// IsVersioned reports whether the ID was made by FromPathVersioned. Unlike the
// original (which called anything with two underscores versioned, so a custom
// "my_custom_id" read as versioned) it requires the exact shape
// "cap_" + 16 lowercase hex + "_" + version.
func (id ID) IsVersioned() bool {
	_, ok := id.versionPart()
	return ok
}

// Version returns the version of a versioned ID with '_' turned back into
// '.', and "" for a plain ID. Versions that contain '_' are rejected by
// ParseVersion, so this round-trips every version cnv accepts.
func (id ID) Version() string {
	v, ok := id.versionPart()
	if !ok {
		return ""
	}
	return strings.ReplaceAll(v, "_", ".")
}

func (id ID) versionPart() (string, bool) {
	s := string(id)
	if len(s) < 4+16+2 || !strings.HasPrefix(s, "cap_") || s[20] != '_' {
		return "", false
	}
	if !isLowerHex(s[4:20]) {
		return "", false
	}
	return s[21:], true
}

// Validate checks that id has the shape of a plain or versioned ID.
func (id ID) Validate() error {
	s := string(id)
	if len(s) == 20 && strings.HasPrefix(s, "cap_") && isLowerHex(s[4:]) {
		return nil
	}
	if v, ok := id.versionPart(); ok && v != "" {
		return nil
	}
	return fmt.Errorf("%w: %q", ErrInvalidID, s)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
