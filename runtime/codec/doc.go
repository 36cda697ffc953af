// Package codec is the one canonical encoding of cnv: msgpack through
// github.com/ugorji/go/codec in canonical mode.
//
// Everything that is hashed or signed (certificates, delegation links,
// ledger events, graph snapshots, Raft commands) is encoded here, so equal
// values always give equal bytes: map keys are sorted, struct fields are
// written in declaration order under their json tag names, and []byte is
// written as msgpack bin. Struct tags: the "codec" tag wins, else "json".
//
// Decoding outside bytes is bounded: collection pre-allocation is capped and
// nesting depth is limited (see runtime/limits), so hostile input cannot make
// the decoder allocate gigabytes or recurse without bound.
//
// This package imports nothing from cnv but runtime/limits.
package codec
