// Package capability owns what names and describes a capability: dotted
// noun.verb paths, capability IDs (pinned by test vectors), versions, the one effect vocabulary with its single mapping to
// hot-path effect flags and to delegation effect levels, sensitivity, and type
// schemas with their canonical hashes and compatibility rules.
//
// It imports only runtime/limits, runtime/cnverr and runtime/codec.
package capability
