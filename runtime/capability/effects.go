package capability

import (
	"fmt"

	"github.com/cnv-project/cnv/runtime/cnverr"
)

// EffectType is the one effect vocabulary of cnv. Its JSON and text form is
// the snake_case name; in the canonical msgpack encoding it is the small
// integer (the codec encodes numeric kinds natively), which is stable
// because the values below are never renumbered. Hot-path flags and delegation levels are derived
// from it through Flag and Level; there is no other mapping.
type EffectType uint8

const (
	ReadOnly EffectType = iota
	MutateState
	MutateConfig
	MutateOntology
	MutateSecurity
	NetworkAccess
	StorageWrite
	Privileged
	numEffectTypes
)

var effectNames = [numEffectTypes]string{
	"read_only", "mutate_state", "mutate_config", "mutate_ontology",
	"mutate_security", "network_access", "storage_write", "privileged",
}

// ErrUnknownEffect is returned for an effect name outside the vocabulary.
var ErrUnknownEffect = cnverr.New(cnverr.InvalidInput, "unknown effect type")

// String returns the snake_case name.
func (e EffectType) String() string {
	if e < numEffectTypes {
		return effectNames[e]
	}
	return fmt.Sprintf("effect(%d)", uint8(e))
}

// ParseEffectType parses a snake_case effect name.
func ParseEffectType(s string) (EffectType, error) {
	for i, n := range effectNames {
		if n == s {
			return EffectType(i), nil
		}
	}
	return 0, fmt.Errorf("%w: %q (want one of %v)", ErrUnknownEffect, s, effectNames)
}

// MarshalText implements encoding.TextMarshaler (JSON).
func (e EffectType) MarshalText() ([]byte, error) {
	if e >= numEffectTypes {
		return nil, fmt.Errorf("%w: %d", ErrUnknownEffect, uint8(e))
	}
	return []byte(effectNames[e]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (e *EffectType) UnmarshalText(b []byte) error {
	v, err := ParseEffectType(string(b))
	if err != nil {
		return err
	}
	*e = v
	return nil
}

// IsMutating is true for every type except read_only and network_access.
func (e EffectType) IsMutating() bool { return e != ReadOnly && e != NetworkAccess }

// IsCritical is true for mutate_security, mutate_ontology and privileged.
func (e EffectType) IsCritical() bool {
	return e == MutateSecurity || e == MutateOntology || e == Privileged
}

// WritesStorage is true for storage_write, mutate_state and mutate_config.
func (e EffectType) WritesStorage() bool {
	return e == StorageWrite || e == MutateState || e == MutateConfig
}

// Flags is the hot path's compact effect bit set (16 bits; the values are
// fixed, as certificates and ledger events carry them).
type Flags uint16

const (
	FlagReadOnly     Flags = 1 << 0
	FlagMutateState  Flags = 1 << 1
	FlagMutateConfig Flags = 1 << 2
	FlagNetwork      Flags = 1 << 3
	FlagStorage      Flags = 1 << 4
	FlagPrivileged   Flags = 1 << 5
	FlagIdempotent   Flags = 1 << 6
	FlagAsyncCapable Flags = 1 << 7
)

// effectFlags maps each effect type to its flag bit. mutate_ontology counts as
// a config mutation and mutate_security as privileged: the flag set has no
// separate bits for them, and these are their closest superset.
var effectFlags = [numEffectTypes]Flags{
	ReadOnly:       FlagReadOnly,
	MutateState:    FlagMutateState,
	MutateConfig:   FlagMutateConfig,
	MutateOntology: FlagMutateConfig,
	MutateSecurity: FlagPrivileged,
	NetworkAccess:  FlagNetwork,
	StorageWrite:   FlagStorage,
	Privileged:     FlagPrivileged,
}

// Flag returns the effect's hot-path flag bit.
func (e EffectType) Flag() Flags {
	if e < numEffectTypes {
		return effectFlags[e]
	}
	return 0
}

// Has reports whether every bit of o is set in f. Branch-free.
func (f Flags) Has(o Flags) bool { return f&o == o }

// With returns f with the bits of o set.
func (f Flags) With(o Flags) Flags { return f | o }

// Merge is the join of the flag semilattice (bitwise or): associative,
// commutative and idempotent.
func (f Flags) Merge(o Flags) Flags { return f | o }

// Level is the delegation effect level: ReadOnly < Mutate < Network <
// Privileged. A delegation link's max level caps what a chain may invoke.
type Level uint8

const (
	LevelReadOnly Level = iota
	LevelMutate
	LevelNetwork
	LevelPrivileged
	numLevels
)

var levelNames = [numLevels]string{"read_only", "mutate", "network", "privileged"}

// ErrUnknownLevel is returned for a level name outside the four levels.
var ErrUnknownLevel = cnverr.New(cnverr.InvalidInput, "unknown effect level")

// effectLevels is the single mapping from effect type to level.
var effectLevels = [numEffectTypes]Level{
	ReadOnly:       LevelReadOnly,
	MutateState:    LevelMutate,
	MutateConfig:   LevelMutate,
	MutateOntology: LevelMutate,
	StorageWrite:   LevelMutate,
	NetworkAccess:  LevelNetwork,
	MutateSecurity: LevelPrivileged,
	Privileged:     LevelPrivileged,
}

// Level returns the effect's delegation level.
func (e EffectType) Level() Level {
	if e < numEffectTypes {
		return effectLevels[e]
	}
	return LevelPrivileged
}

// String returns the snake_case level name.
func (l Level) String() string {
	if l < numLevels {
		return levelNames[l]
	}
	return fmt.Sprintf("level(%d)", uint8(l))
}

// ParseLevel parses a level name. An effect type name is accepted too and
// maps to its level ("mutate_state" → mutate), so `--max-effect read_only`
// and `--max-effect mutate` both work.
func ParseLevel(s string) (Level, error) {
	for i, n := range levelNames {
		if n == s {
			return Level(i), nil
		}
	}
	if e, err := ParseEffectType(s); err == nil {
		return e.Level(), nil
	}
	return 0, fmt.Errorf("%w: %q (want one of %v or an effect type)", ErrUnknownLevel, s, levelNames)
}

// MarshalText implements encoding.TextMarshaler.
func (l Level) MarshalText() ([]byte, error) {
	if l >= numLevels {
		return nil, fmt.Errorf("%w: %d", ErrUnknownLevel, uint8(l))
	}
	return []byte(levelNames[l]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (l *Level) UnmarshalText(b []byte) error {
	v, err := ParseLevel(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// Effects is a list of effect types, kept in the order given.
type Effects []EffectType

// ParseEffects parses a list of snake_case names.
func ParseEffects(names []string) (Effects, error) {
	out := make(Effects, 0, len(names))
	for _, n := range names {
		e, err := ParseEffectType(n)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// Flags returns the union of the effects' flag bits.
func (es Effects) Flags() Flags {
	var f Flags
	for _, e := range es {
		f |= e.Flag()
	}
	return f
}

// Level returns the maximum level over the effects; no effects is read_only.
func (es Effects) Level() Level {
	l := LevelReadOnly
	for _, e := range es {
		if el := e.Level(); el > l {
			l = el
		}
	}
	return l
}

// Has reports whether e is in the list.
func (es Effects) Has(e EffectType) bool {
	for _, x := range es {
		if x == e {
			return true
		}
	}
	return false
}

// Set returns the effects as a bit set over EffectType (for superset tests).
func (es Effects) Set() uint16 {
	var s uint16
	for _, e := range es {
		if e < numEffectTypes {
			s |= 1 << e
		}
	}
	return s
}

// Sensitivity is low < medium < high < critical.
type Sensitivity uint8

const (
	SensitivityLow Sensitivity = iota
	SensitivityMedium
	SensitivityHigh
	SensitivityCritical
	numSensitivities
)

var sensitivityNames = [numSensitivities]string{"low", "medium", "high", "critical"}

// ErrUnknownSensitivity is returned for a sensitivity name outside the four.
var ErrUnknownSensitivity = cnverr.New(cnverr.InvalidInput, "unknown sensitivity")

// String returns the lowercase name.
func (s Sensitivity) String() string {
	if s < numSensitivities {
		return sensitivityNames[s]
	}
	return fmt.Sprintf("sensitivity(%d)", uint8(s))
}

// ParseSensitivity parses a lowercase name. An unknown name is an error,
// not silently "low".
func ParseSensitivity(s string) (Sensitivity, error) {
	for i, n := range sensitivityNames {
		if n == s {
			return Sensitivity(i), nil
		}
	}
	return 0, fmt.Errorf("%w: %q (want one of %v)", ErrUnknownSensitivity, s, sensitivityNames)
}

// MarshalText implements encoding.TextMarshaler.
func (s Sensitivity) MarshalText() ([]byte, error) {
	if s >= numSensitivities {
		return nil, fmt.Errorf("%w: %d", ErrUnknownSensitivity, uint8(s))
	}
	return []byte(sensitivityNames[s]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Sensitivity) UnmarshalText(b []byte) error {
	v, err := ParseSensitivity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// DataTag marks sensitive data a capability handles.
type DataTag string

const (
	DataPII         DataTag = "pii"
	DataFinancial   DataTag = "financial"
	DataHealth      DataTag = "health_data"
	DataSecrets     DataTag = "secrets"
	DataCredentials DataTag = "credentials"
)

// Isolation is what a capability requires of its execution environment.
type Isolation string

const (
	IsolationShared        Isolation = "shared"
	IsolationIsolated      Isolation = "isolated"
	IsolationSandboxed     Isolation = "sandboxed"
	IsolationContainerized Isolation = "containerized"
)

// Metadata describes one effect of a capability in detail. Idempotent
// defaults to true in NewMetadata.
type Metadata struct {
	EffectType     EffectType  `json:"effect_type"`
	Sensitivity    Sensitivity `json:"sensitivity"`
	Idempotent     bool        `json:"idempotent"`
	RequiredRole   string      `json:"required_role,omitempty"`
	DataTags       []DataTag   `json:"data_sensitivity,omitempty"`
	Isolation      Isolation   `json:"isolation,omitempty"`
	SupportsDryRun bool        `json:"supports_dry_run"`
}

// NewMetadata returns metadata for e with the defaults: low sensitivity,
// idempotent, shared isolation.
func NewMetadata(e EffectType) Metadata {
	return Metadata{EffectType: e, Idempotent: true, Isolation: IsolationShared}
}

// IsHighRisk: sensitivity at least high, or a critical effect type, or any
// data tag.
func (m Metadata) IsHighRisk() bool {
	return m.Sensitivity >= SensitivityHigh || m.EffectType.IsCritical() || len(m.DataTags) > 0
}

// RequiresIsolation: isolation other than shared.
func (m Metadata) RequiresIsolation() bool {
	return m.Isolation != "" && m.Isolation != IsolationShared
}
